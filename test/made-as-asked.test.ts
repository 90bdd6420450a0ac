/**
 * Files and folders a `LowdbStore` makes are looked at after they are made
 * only until one of each kind came out with the mode asked
 * (`store-files.ts`, "Made as asked"). Under a umask that takes the
 * owner's bits off, none comes out as asked, so every one is still looked
 * at and set right: the next run's files are 0600 and its folder 0700 as
 * well as the first's. (A process whose first file came out as asked
 * trusts the umask from then on: the other tests of the store run so.)
 * The runs here are kept as folders (`layout: "folders"`): a folder and
 * its files per run.
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { madeAsAsked } from "../src/persistence/store-files.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-made-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

async function newRun(store: LowdbStore, runId: string): Promise<void> {
  await store.acquireLease(runId, { owner: `o-${runId}`, pid: process.pid, host: hostname(), ttlMs: 60_000, now: Date.now() });
  await store.writeSnapshot(sampleRun(runId), 0);
  await store.append(runId, [nodeRecord(1, "b")]);
}

describe("files and folders made under a umask that takes the owner's bits off", () => {
  it("are set to 0600 and 0700 for every run, not only the first", async () => {
    let saved: number;
    try {
      // Owner read only: a file asked 0600 comes out 0400, a folder asked 0700 comes out 0400.
      saved = process.umask(0o377);
    } catch {
      // umask cannot be changed in a worker thread (the suite runs in forks).
      return;
    }
    const store = new LowdbStore({ dir, layout: "folders" });
    try {
      for (const runId of ["r1", "r2", "r3"]) await newRun(store, runId);
      expect(madeAsAsked("file")).toBe(false);
      expect(madeAsAsked("folder")).toBe(false);
    } finally {
      process.umask(saved);
      await store.close();
    }
    for (const runId of ["r1", "r2", "r3"]) {
      const runDir = join(dir, "runs", runId);
      expect(await mode(runDir)).toBe(0o700);
      for (const f of await readdir(runDir)) expect([f, await mode(join(runDir, f))]).toEqual([f, 0o600]);
    }
  });

  it("once the umask leaves the modes as asked, a made file and folder are trusted from then on", async () => {
    const saved = process.umask(0o022);
    const store = new LowdbStore({ dir, layout: "folders" });
    try {
      await newRun(store, "r4");
      await newRun(store, "r5");
    } finally {
      process.umask(saved);
      await store.close();
    }
    expect(madeAsAsked("file")).toBe(true);
    expect(madeAsAsked("folder")).toBe(true);
    for (const runId of ["r4", "r5"]) {
      const runDir = join(dir, "runs", runId);
      expect(await mode(runDir)).toBe(0o700);
      for (const f of await readdir(runDir)) expect([f, await mode(join(runDir, f))]).toEqual([f, 0o600]);
    }
  });
});
