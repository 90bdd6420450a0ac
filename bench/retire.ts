/**
 * How the bench disposes of the folders its rounds wrote: it moves them
 * into one trash folder per bench run (`TASKLOOM_BENCH_TRASH`, made by
 * `bench/run.ts`), which is deleted once, after the last measurement.
 *
 * Why not delete each round's folder at once: on ext4 without a journal
 * (this machine's disk), every inode freed in the last 60 to 300 seconds is
 * skipped, one by one, by every new file or folder creation (the kernel's
 * `recently_deleted()` in `find_inode_bit`; `perf record -g` of file
 * creations after an `rm -rf` shows it at half the profile). Deleting a
 * round's store of 50,000 files made the next round's file creations up
 * to six times slower: the stage runner's LowdbStore rounds took 4.6 s,
 * then 18.1 s, then 30.7 s, each round paying for the deletes of the ones
 * before. A rename frees no inode, so the cleanup of one round no longer
 * weighs on the next or on the next scenario.
 *
 * `bench/run.ts` and `bench/spread.ts` (`withTrash`) keep a
 * `TASKLOOM_BENCH_TRASH` given in their environment (the caller deletes
 * it), so that several partial runs in a row delete nothing.
 * Without `TASKLOOM_BENCH_TRASH` (a scenario run on its own), folders are
 * deleted as before.
 *
 * @module
 */
import { mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

/** The environment variable that names the trash folder of the running bench. */
export const TRASH_ENV = "TASKLOOM_BENCH_TRASH";

/** Makes the trash folder of one bench run (in the temp dir, so a round's folder moves there by rename). */
export function makeTrash(): Promise<string> {
  return mkdtemp(join(tmpdir(), "taskloom-bench-trash-"));
}

/**
 * Runs `fn` (a bench tool's `main`) with a trash folder: the one given in
 * `TASKLOOM_BENCH_TRASH`, used and kept (several partial runs in a row
 * then delete nothing), else a new one, deleted after `fn`.
 *
 * @example
 * ```ts
 * await withTrash(main);
 * ```
 */
export async function withTrash(fn: () => Promise<void>): Promise<void> {
  const given = process.env[TRASH_ENV];
  const trash = given || (await makeTrash());
  process.env[TRASH_ENV] = trash;
  try {
    await fn();
  } finally {
    if (!given) await rm(trash, { recursive: true, force: true });
  }
}

/** Moves `dir` into the bench's trash folder, or deletes it when there is none (or it is on another file system). */
export async function retire(dir: string): Promise<void> {
  const trash = process.env[TRASH_ENV];
  if (trash) {
    try {
      await rename(dir, join(trash, basename(dir)));
      return;
    } catch {
      // Another file system, or gone already: delete below.
    }
  }
  await rm(dir, { recursive: true, force: true });
}
