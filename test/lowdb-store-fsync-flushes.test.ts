/**
 * What a run on `LowdbStore({ fsync: true })` flushes besides its journal,
 * and in what order. `node:fs` is wrapped: every open, `fdatasync`,
 * `fsync`, `link`, `rename` and exclusive create is logged by path.
 *
 * A new run's free lease is made in place, `lease.json` created exclusively
 * and written, without a flush of its content or of its folder (see `lowdb-leases.ts`, "Flushes": a power loss
 * leaves no lease, this one, or a blank file that reads as free): the run
 * folder is flushed once at the start, after the snapshot's rename (which
 * carries the lease's name too). The start's summary (one sector, padded)
 * is renamed into place after it, its content not flushed (a blank
 * summary reads as missing, and `list` makes it again from the run's
 * files: `summary-file.ts`). A run that ends by an append flushes its
 * journal's end records and nothing after them: its summary is written
 * over the start's in place (`summary-file.ts`), no file made, renamed or
 * flushed, since the journal holds the end and `list` reads a summary
 * that lags behind it, or is missing, from the run's files
 * (`summary-lag.ts`, tested in `summary-lag.test.ts`). A delete flushes the
 * runs folder after the rename that takes the run away, before the files
 * are removed: a power loss never brings a deleted run back.
 *
 * These are the files of a run kept as a folder (`layout: "folders"`); a
 * run file's writes and flushes are in `run-file-store.ts`'s module comment.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { graph, runAsync, type GraphBuilder } from "../src/index.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { deserialize } from "../src/persistence/serialization.js";
import type { RunSummary } from "../src/state/records.js";

const disk = vi.hoisted(() => ({
  /** Path of each open descriptor. */
  paths: new Map<number, string>(),
  /** What was done, in order: `<call> <path>`. */
  log: [] as string[],
}));

vi.mock("node:fs", async (importOriginal) => {
  const { loggedFs } = await import("./support/logged-fs.js");
  return loggedFs(await importOriginal<typeof import("node:fs")>(), disk, { creates: true });
});

type LooseBuilder = GraphBuilder<undefined, Record<string, unknown>, never>;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-fsync-flushes-"));
  disk.paths.clear();
  disk.log.length = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The index of the first entry of `log` at or after `from` that `test` accepts (-1: none). */
function indexOf(log: readonly string[], test: (entry: string) => boolean, from = 0): number {
  for (let i = from; i < log.length; i++) if (test(log[i]!)) return i;
  return -1;
}

describe("LowdbStore with fsync: what a run flushes besides its journal", () => {
  it("flushes the snapshot and the run folder once at the start (not the lease's or the summary's content), none after the journal's end", async () => {
    let b = (graph("chain") as unknown as LooseBuilder).node("n0", () => 0);
    for (let i = 1; i < 5; i++) b = b.node(`n${i}`, () => i, { after: [`n${i - 1}`] as never });
    const store = new LowdbStore({ dir, fsync: true, layout: "folders" });
    await runAsync(b.build(), undefined, { store, runId: "chain" });
    await store.close();

    const runDir = join(dir, "runs", "chain");
    const log = disk.log;
    const folderFlushes = log.flatMap((entry, i) => (entry === `fsync ${runDir}` ? [i] : []));
    expect(folderFlushes).toHaveLength(1);

    // The lease is made in place (no temp file, no link), and its content is not flushed.
    const leaseMade = indexOf(log, (e) => e === `create ${join(runDir, "lease.json")}`);
    expect(leaseMade).toBeGreaterThanOrEqual(0);
    expect(log.filter((e) => e.startsWith("link ") && e.includes("lease.json."))).toEqual([]);
    expect(log).not.toContain(`fdatasync ${join(runDir, "lease.json")}`);

    // The start's folder flush comes after the snapshot's rename and the lease's making, before the first journal flush.
    const snapshotRename = indexOf(log, (e) => e.startsWith("rename ") && e.endsWith(` ${join(runDir, "snapshot.json")}`));
    const journalFlushes = log.flatMap((entry, i) => (entry === `fdatasync ${join(runDir, "journal.ndjson")}` ? [i] : []));
    expect(snapshotRename).toBeGreaterThan(leaseMade);
    expect(folderFlushes[0]).toBeGreaterThan(snapshotRename);
    expect(folderFlushes[0]).toBeLessThan(journalFlushes[0]!);

    // The start's summary: renamed into place after the snapshot's folder flush, before the first
    // journal flush, its content not flushed.
    const summaryRename = indexOf(log, (e) => e.startsWith("rename ") && e.endsWith(` ${join(runDir, "summary.json")}`));
    expect(summaryRename).toBeGreaterThan(folderFlushes[0]!);
    const summaryTemp = log[summaryRename]!.split(" ")[1]!;
    expect(basename(summaryTemp)).toMatch(/^summary\.json\..*\.tmp$/);
    expect(log).not.toContain(`fdatasync ${summaryTemp}`);
    expect(summaryRename).toBeLessThan(journalFlushes[0]!);
    // Every flush of the run's files, in order: the snapshot's content, the run folder, and the
    // journal's (its records and the end).
    expect(log.filter((e) => (e.startsWith("fdatasync ") || e.startsWith("fsync ")) && e.includes(runDir))).toEqual([
      expect.stringMatching(/^fdatasync .*snapshot\.json\..*\.tmp$/),
      `fsync ${runDir}`,
      ...journalFlushes.map(() => `fdatasync ${join(runDir, "journal.ndjson")}`),
    ]);

    // The end: after the last journal flush (the end's records), nothing is flushed, made or renamed; the summary was written in place.
    const lastJournalFlush = journalFlushes[journalFlushes.length - 1]!;
    expect(log.slice(lastJournalFlush + 1).filter((e) => !e.startsWith("open ") && !e.includes("lease."))).toEqual([]);
    const summary = await readFile(join(runDir, "summary.json"), "utf8");
    expect(summary).toHaveLength(512);
    expect(deserialize<RunSummary>(summary)).toMatchObject({ status: "succeeded", settledCount: 5 });
  });

  it("flushes the runs folder after a delete's rename and before the removal, so a power loss never brings the run back; without fsync, nothing", async () => {
    const g = (graph("one") as unknown as LooseBuilder).node("n0", () => 0).build();
    for (const fsync of [true, false]) {
      const store = new LowdbStore({ dir: join(dir, String(fsync)), fsync, layout: "folders" });
      await runAsync(g, undefined, { store, runId: "gone" });
      disk.log.length = 0;
      expect(await store.delete("gone")).toBe(true);
      const runsDir = join(dir, String(fsync), "runs");
      const rename = indexOf(disk.log, (e) => e.startsWith(`rename ${join(runsDir, "gone")} `));
      expect(rename).toBeGreaterThanOrEqual(0);
      expect(disk.log[rename]).toMatch(new RegExp(`^rename ${join(runsDir, "gone")} ${join(runsDir, ".trash-")}`));
      const flushes = disk.log.filter((e) => e.startsWith("fsync ") || e.startsWith("fdatasync "));
      expect(flushes).toEqual(fsync ? [`fsync ${runsDir}`] : []);
      if (fsync) expect(disk.log.indexOf(`fsync ${runsDir}`)).toBeGreaterThan(rename);
      expect(existsSync(join(runsDir, "gone"))).toBe(false);
      await store.close();
    }
  });
});

describe("LowdbStore without fsync: the files a new run makes", () => {
  it("makes lease.json, the journal and the first summary in place (created exclusively, no temp file, no link, no rename), and flushes nothing", async () => {
    const g = (graph("one") as unknown as LooseBuilder).node("n0", () => 0).build();
    const store = new LowdbStore({ dir, layout: "folders" });
    await runAsync(g, undefined, { store, runId: "new" });
    await store.close();
    const runDir = join(dir, "runs", "new");
    const log = disk.log.filter((e) => e.includes(`${runDir}/`));
    expect(log).toContain(`create ${join(runDir, "lease.json")}`);
    expect(log).toContain(`create ${join(runDir, "summary.json")}`);
    // The journal too is made exclusively (a new file needs no look at it).
    expect(log).toContain(`create ${join(runDir, "journal.ndjson")}`);
    // The snapshot is still replaced by rename (it may be larger than a page), the lease lock is a link of lease.json.
    expect(log.filter((e) => e.startsWith("rename "))).toEqual([
      expect.stringMatching(new RegExp(`^rename ${runDir}/snapshot\\.json\\..*\\.tmp ${runDir}/snapshot\\.json$`)),
    ]);
    expect(log.filter((e) => e.startsWith("link "))).toEqual([`link ${join(runDir, "lease.json")} ${join(runDir, "lease.lock")}`]);
    expect(log.filter((e) => e.startsWith("fsync ") || e.startsWith("fdatasync "))).toEqual([]);
    const again = new LowdbStore({ dir, layout: "folders" });
    expect(await again.list()).toEqual([expect.objectContaining({ runId: "new", status: "succeeded", settledCount: 1 })]);
    expect(await again.readLease("new")).toBeUndefined();
    await again.close();
  });
});
