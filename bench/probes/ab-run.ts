/**
 * One timed run for the in-process A/B probes (`fixed-ab.ts`,
 * `runfiles-ab.ts`): a graph through `runAsync` on a fresh store of the
 * taskloom checkout `lib` (a new `LowdbStore` in a fresh temp folder, or a
 * `MemoryStore`), closing the store included, as a bench round does.
 * With `TRASH=<folder>` (on the same file system) a used folder is moved
 * there instead of removed, so that on ext4 no freed inode slows the next
 * rounds' file creations (the bench does the same).
 *
 * @module
 */
import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type * as taskloom from "../../src/index.js";

let counter = 0;

/** Wall and CPU (user + system) time of one run, both in µs. */
export async function timedRun(lib: typeof taskloom, g: unknown, durable: boolean): Promise<{ wallUs: number; cpuUs: number }> {
  const dir = durable ? mkdtempSync(join(tmpdir(), "probe-ab-")) : undefined;
  const store = dir ? new lib.LowdbStore({ dir }) : new lib.MemoryStore();
  const cpu = process.cpuUsage();
  const t = performance.now();
  await lib.runAsync(g as Parameters<typeof lib.runAsync>[0], undefined, { store, runId: `ab-${counter++}`, maxConcurrency: 8 });
  await store.close();
  const wallUs = (performance.now() - t) * 1000;
  const used = process.cpuUsage(cpu);
  const trash = process.env.TRASH;
  if (dir && trash) renameSync(dir, join(trash, basename(dir)));
  else if (dir) rmSync(dir, { recursive: true, force: true });
  return { wallUs, cpuUs: used.user + used.system };
}
