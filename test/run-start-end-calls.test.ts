/**
 * The file calls of a new run's start and end on `LowdbStore` (no fsync),
 * the fixed cost of a durable run (issue 16, target 1). `node:fs` is
 * wrapped: every `mkdir`, `chmod`, `lstat`, `open`, `close` and `rename`
 * is logged by file name, in order.
 *
 * - `runs/` and the run's folder are made first and checked after, and a
 *   folder made with mode 0700 is not `chmod`ed;
 * - `load` looks for a new run's snapshot with an `lstat`, never a failed
 *   open;
 * - in a folder this store made, the first snapshot's and summary's names
 *   are not looked at before they are written: the snapshot's temp file is
 *   renamed onto its name, the summary is made in place (created
 *   exclusively: no temp file, no rename);
 * - the summary made by the first snapshot is overwritten by the run's
 *   end through the descriptor kept since (no second open), which is then
 *   closed: a stopped run holds no summary open; so is `lease.json`, made
 *   by the acquire and marked released by the release;
 * - a store closed with a lease still held keeps no `lease.json` open.
 * A link planted in a folder the store did not make is still refused
 * (test/summary-first-write.test.ts, test/store-symlinks.test.ts).
 *
 * These are the calls of a run kept as a folder (`runs/<runId>/`: the
 * stores are made with `layout: "folders"`).
 */
import { readlinkSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { graph, resolveWait, runAsync } from "../src/index.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";

const disk = vi.hoisted(() => ({
  /** What was done, in order: `<call> <file name>`. */
  log: [] as string[],
  /** Path of each open descriptor. */
  paths: new Map<number, string>(),
}));

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const name = (path: unknown): string => basename(String(path)).replace(/\.\d+\.[0-9a-f]+\.tmp$/, ".tmp");
  const logged = <F extends (...args: never[]) => unknown>(call: string, f: F, pathOf: (args: Parameters<F>) => unknown = (args) => args[0]): F =>
    ((...args: Parameters<F>) => {
      disk.log.push(`${call} ${name(pathOf(args))}`);
      return f(...args);
    }) as F;
  const openSync = ((path: string, ...rest: unknown[]) => {
    disk.log.push(`open ${name(path)}`);
    const fd = (fs.openSync as (...args: unknown[]) => number)(path, ...rest);
    disk.paths.set(fd, String(path));
    return fd;
  }) as typeof fs.openSync;
  const closeSync: typeof fs.closeSync = (fd) => {
    disk.log.push(`close ${name(disk.paths.get(fd))}`);
    fs.closeSync(fd);
  };
  const wrapped = {
    openSync,
    closeSync,
    mkdirSync: logged("mkdir", fs.mkdirSync),
    chmodSync: logged("chmod", fs.chmodSync),
    lstatSync: logged("lstat", fs.lstatSync),
    renameSync: logged("rename", fs.renameSync, (args) => args[1]),
  };
  return { ...fs, ...wrapped, default: { ...fs, ...wrapped } };
});

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "taskloom-run-calls-"));
  disk.log.length = 0;
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const oneNode = () =>
  graph("one")
    .node("a", () => 1)
    .build();

/** The files of run `runId` this process holds open (Linux: `/proc/self/fd`). */
function openFilesOf(dir: string, runId: string): string[] {
  const runDir = join(dir, "runs", runId);
  // A run kept as a folder (its files) or as a run file (the default layout: `<dir>/<runId>.run`).
  const runFile = join(dir, `${runId}.run`);
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(`${runDir}/`) || target === runFile ? [basename(target)] : [];
    } catch {
      return [];
    }
  });
}

describe.runIf(process.platform === "linux")("LowdbStore: a new run's start and end", () => {
  it("make the folders without a chmod and look for no snapshot by a failed open", async () => {
    // The store folder exists, as the bench's and most callers' do.
    const dir = root;
    const store = new LowdbStore({ dir, layout: "folders" });
    await runAsync(oneNode(), undefined, { store, runId: "r" });
    await store.close();
    const log = disk.log;
    expect(log.filter((e) => e.startsWith("chmod "))).toEqual([]);
    expect(log.filter((e) => e.startsWith("mkdir "))).toEqual(["mkdir runs", "mkdir r"]);
    // Made first, then checked: a link planted at either name fails the mkdir (EEXIST), and the check refuses it.
    expect(log.indexOf("mkdir runs")).toBeGreaterThanOrEqual(0);
    expect(log.indexOf("mkdir r")).toBeGreaterThanOrEqual(0);
    expect(log.indexOf("lstat runs")).toBeGreaterThan(log.indexOf("mkdir runs"));
    expect(log.indexOf("lstat r")).toBeGreaterThan(log.indexOf("mkdir r"));
    expect(log).not.toContain("open snapshot.json");
    expect(log.filter((e) => e === "lstat snapshot.json")).toHaveLength(1);
  });

  it("write the first snapshot and summary without looking at their names, and the summary is opened once", async () => {
    const dir = join(root, "t");
    const store = new LowdbStore({ dir, layout: "folders" });
    await runAsync(oneNode(), undefined, { store, runId: "r" });
    const log = disk.log;
    const snapshotRename = log.indexOf("rename snapshot.json");
    const summaryMade = log.indexOf("open summary.json");
    expect(snapshotRename).toBeGreaterThan(-1);
    expect(summaryMade).toBeGreaterThan(snapshotRename);
    // The one lstat of snapshot.json is load's, before anything was written.
    expect(log.lastIndexOf("lstat snapshot.json")).toBeGreaterThanOrEqual(0);
    expect(log.lastIndexOf("lstat snapshot.json")).toBeLessThan(log.indexOf("open snapshot.json.tmp"));
    expect(log).not.toContain("lstat summary.json");
    // Made in place (no temp file, no rename), then rewritten in place by the run's end through the same descriptor, and closed.
    expect(log.filter((e) => e.includes("summary.json"))).toEqual(["open summary.json", "close summary.json"]);
    expect(openFilesOf(dir, "r")).not.toContain("summary.json");
    // lease.json: made once and kept open; looked at once after it was made (has a racer replaced it?) and once under
    // the lock at the release (no look before the lock's link, no fencing look within the trusted 50 ms); given back
    // through the kept descriptor (no second open), which is then closed.
    expect(log.filter((e) => e.includes("lease.json"))).toEqual(["open lease.json", "lstat lease.json", "lstat lease.json", "close lease.json"]);
    expect(openFilesOf(dir, "r")).not.toContain("lease.json");
    const [summary] = await store.list();
    expect(summary).toMatchObject({ runId: "r", status: "succeeded", settledCount: 1 });
    await store.close();
  });

  it("a second run of the same store makes no folder but its own, and loads an existing run's snapshot as before", async () => {
    const dir = join(root, "u");
    const store = new LowdbStore({ dir, layout: "folders" });
    await runAsync(oneNode(), undefined, { store, runId: "r1" });
    disk.log.length = 0;
    await runAsync(oneNode(), undefined, { store, runId: "r2" });
    expect(disk.log.filter((e) => e.startsWith("mkdir "))).toEqual(["mkdir r2"]);
    await store.close();
    const fresh = new LowdbStore({ dir, layout: "folders" });
    const loaded = await fresh.load("r1");
    expect(loaded?.state.meta.status).toBe("succeeded");
    await fresh.close();
  });
});

describe.runIf(process.platform === "linux")("LowdbStore: a lease's file", () => {
  it("is kept open from the acquire to the release, and closed by close() when never given back", async () => {
    const dir = join(root, "w");
    const store = new LowdbStore({ dir, layout: "folders" });
    const lease = await store.acquireLease("held", { owner: "o", pid: process.pid, host: "h", ttlMs: 60_000, now: Date.now() });
    expect(openFilesOf(dir, "held")).toEqual(["lease.json"]);
    await store.close();
    expect(openFilesOf(dir, "held")).toEqual([]);
    // Given back after the close: by path, as a store that did not make the file.
    await store.releaseLease(lease);
    expect(await store.readLease("held")).toBeUndefined();
    expect(openFilesOf(dir, "held")).toEqual([]);
  });
});

describe.runIf(process.platform === "linux")("LowdbStore: a run's end closes its files", () => {
  it("a run that ended by an append keeps no descriptor of its journal until the store is closed", async () => {
    const dir = join(root, "v");
    const store = new LowdbStore({ dir, layout: "folders" });
    await runAsync(oneNode(), undefined, { store, runId: "r" });
    // The end (a run record) was appended, not snapshotted: the journal was still open after it.
    expect(openFilesOf(dir, "r")).toEqual([]);
    expect(disk.log.filter((e) => e.startsWith("close journal.ndjson"))).toHaveLength(1);
    await store.close();
  });

  it("a run that waits closes its journal too, and its resume appends to the same journal", async () => {
    const dir = join(root, "w");
    const store = new LowdbStore({ dir });
    const waiting = graph("waits")
      .node("a", async (ctx) => (await ctx.waitFor<number>("k")) + 1)
      .build();
    await expect(runAsync(waiting, undefined, { store, runId: "r" })).rejects.toThrow();
    expect((await store.load("r"))?.state.meta.status).toBe("waiting");
    expect(openFilesOf(dir, "r")).toEqual([]);
    await resolveWait("r", "k", 41, { store });
    expect(await runAsync(waiting, undefined, { store, runId: "r" })).toEqual({ a: 42 });
    expect(openFilesOf(dir, "r")).toEqual([]);
    await store.close();
    const fresh = new LowdbStore({ dir });
    expect((await fresh.load("r"))?.state.meta.status).toBe("succeeded");
    await fresh.close();
  });

  it("many runs to their end on one store hold no more descriptors than one", async () => {
    const dir = join(root, "x");
    const store = new LowdbStore({ dir });
    const before = readdirSync("/proc/self/fd").length;
    for (let i = 0; i < 40; i++) await runAsync(oneNode(), undefined, { store, runId: `r${i}` });
    // Nothing of a finished run stays open (a stage runner's thousands of task runs ran out of descriptors).
    expect(readdirSync("/proc/self/fd").length - before).toBeLessThan(5);
    await store.close();
  });
});
