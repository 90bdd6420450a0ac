/**
 * Where run files' temp files live (`run-file-io.ts`, `TEMP_FOLDER`): a
 * compaction's new file, a takeover's copy and a claim's new content are
 * made in `<store>/tmp/` and renamed from there, so that a takeover (every
 * resume) and a delete find the ones a crash left by listing that folder,
 * never the store folder, which holds every run. Listing the store folder
 * cost about 70 ms per resume and per delete in a store of 100,000 runs
 * (`taskloom gc` of such a store: hours). `node:fs` is wrapped: each
 * `readdirSync` and `renameSync` is logged with its paths.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { graph, runAsync, UnsafeStoreFileError } from "../src/index.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { processAlive } from "../src/persistence/lease-rules.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";
import { leaseRequest } from "./support/lease-request.js";

const disk = vi.hoisted(() => ({
  /** The folders listed, in order. */
  listed: [] as string[],
  /** The renames made, `[from, to]`, in order. */
  renamed: [] as [string, string][],
}));

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const readdirSync = ((path: unknown, ...rest: unknown[]) => {
    disk.listed.push(String(path));
    return (fs.readdirSync as (...args: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.readdirSync;
  const renameSync: typeof fs.renameSync = (from, to) => {
    disk.renamed.push([String(from), String(to)]);
    fs.renameSync(from, to);
  };
  const wrapped = { readdirSync, renameSync };
  return { ...fs, ...wrapped, default: { ...fs, ...wrapped } };
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-temp-folder-"));
  disk.listed.length = 0;
  disk.renamed.length = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const temps = () => join(dir, "tmp");
/** The names in the temp folder (none when it was never made). */
const tempNames = () => (existsSync(temps()) ? readdirSync(temps()).sort() : []);

/** A pid no process has here: a temp file named with it was left by a dead process. */
function deadPid(): number {
  for (let pid = 4_000_000; pid > 300; pid -= 7919) if (!processAlive(pid)) return pid;
  throw new Error("no unused pid found");
}

const oneNode = () =>
  graph("one")
    .node("a", async () => 1)
    .build();

describe("run files' temp files", () => {
  it("a resume (a takeover of a run given back) and a delete list the temp folder only, never the store folder", async () => {
    // Other runs in the store: a listing of the store folder would have to read them all.
    for (let i = 0; i < 50; i++) {
      const other = new LowdbStore({ dir });
      await runAsync(oneNode(), undefined, { store: other, runId: `other-${i}` });
      await other.close();
    }
    const first = new LowdbStore({ dir });
    await runAsync(oneNode(), undefined, { store: first, runId: "r" });
    await first.close();

    disk.listed.length = 0;
    const second = new LowdbStore({ dir });
    await expect(runAsync(oneNode(), undefined, { store: second, runId: "r" })).resolves.toEqual({ a: 1 });
    expect(await second.delete("r")).toBe(true);
    await second.close();
    expect(disk.listed.length).toBeGreaterThan(0);
    expect(disk.listed.filter((path) => path !== temps())).toEqual([]);
    expect(existsSync(join(dir, "r.run"))).toBe(false);
  });

  it("a compaction, a takeover's copy and a claim are written in `<store>/tmp/` (0700) and renamed from there; none is left", async () => {
    const holder = new LowdbStore({ dir });
    const held = await holder.acquireLease("r", leaseRequest("holder"));
    await holder.writeSnapshot(sampleRun("r"), 0, held);
    await holder.append("r", [nodeRecord(1, "a")], held);
    // A second snapshot of a started run is a compaction: a new file, renamed over the run file.
    await holder.writeSnapshot(sampleRun("r"), 1, held);
    // A takeover of a live holder's lease (this process: not provably dead) claims, waits out the trust, copies.
    const taker = new LowdbStore({ dir });
    const taken = await taker.acquireLease("r", leaseRequest("taker", { takeover: true }));
    expect(taken.token).toBe(held.token + 1);
    await taker.append("r", [nodeRecord(2, "b")], taken);
    await holder.close();
    await taker.close();

    const into = (name: string) => disk.renamed.filter(([, to]) => to === join(dir, name));
    const fromTemps = (pairs: [string, string][], name: string) => {
      expect(pairs.length).toBeGreaterThan(0);
      for (const [from] of pairs) expect(from).toMatch(new RegExp(`^${temps()}/${name.replace(/\./g, "\\.")}\\.${process.pid}\\.[0-9a-f]{8}\\.tmp$`));
    };
    // The compaction and the takeover's copy, each renamed over the run file.
    expect(into("r.run")).toHaveLength(2);
    fromTemps(into("r.run"), "r.run");
    fromTemps(into("r.run.claim"), "r.run.claim");
    expect(lstatSync(temps()).mode & 0o777).toBe(0o700);
    expect(tempNames()).toEqual([]);
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
    // The temp folder is no run: the store lists the one run.
    const reader = new LowdbStore({ dir });
    expect((await reader.list()).map((run) => run.runId)).toEqual(["r"]);
    await reader.close();
  });

  it("removes what a dead process left for a run (a compaction's and a claim's temp file) at its next takeover and at its delete, and no other run's", async () => {
    const dead = deadPid();
    const store = new LowdbStore({ dir });
    await runAsync(oneNode(), undefined, { store, runId: "r" });
    await runAsync(oneNode(), undefined, { store, runId: "s" });
    await store.close();
    mkdirSync(temps(), { recursive: true, mode: 0o700 });
    const left = (name: string) => writeFileSync(join(temps(), name), "partial", { mode: 0o600 });
    left(`r.run.${dead}.0123abcd.tmp`);
    left(`r.run.claim.${dead}.0123abcd.tmp`);
    left(`s.run.${dead}.0123abcd.tmp`);
    left(`s.run.claim.${dead}.89abcdef.tmp`);
    // Not a temp file of run `r` (run ids may hold dots): run `r.run.7`'s, and a name of no rewrite.
    left(`r.run.7.run.${dead}.0123abcd.tmp`);
    left(`r.run.notes.tmp`);

    const resume = new LowdbStore({ dir });
    await expect(runAsync(oneNode(), undefined, { store: resume, runId: "r" })).resolves.toEqual({ a: 1 });
    expect(tempNames()).toEqual(
      [`r.run.7.run.${dead}.0123abcd.tmp`, "r.run.notes.tmp", `s.run.${dead}.0123abcd.tmp`, `s.run.claim.${dead}.89abcdef.tmp`].sort(),
    );
    expect(await resume.delete("s")).toBe(true);
    expect(tempNames()).toEqual([`r.run.7.run.${dead}.0123abcd.tmp`, "r.run.notes.tmp"].sort());
    await resume.close();
  });

  it("keeps a live process's temp file younger than the lock's staleness (its rewrite may be under way)", async () => {
    const store = new LowdbStore({ dir });
    await runAsync(oneNode(), undefined, { store, runId: "r" });
    await store.close();
    mkdirSync(temps(), { recursive: true, mode: 0o700 });
    // pid 1 is alive (init) and not this process.
    writeFileSync(join(temps(), "r.run.1.0123abcd.tmp"), "partial", { mode: 0o600 });
    const resume = new LowdbStore({ dir });
    await runAsync(oneNode(), undefined, { store: resume, runId: "r" });
    await resume.close();
    expect(tempNames()).toEqual(["r.run.1.0123abcd.tmp"]);
  });

  it("refuses a link at `<store>/tmp` (UnsafeStoreFileError) and writes nothing where it points", async () => {
    const elsewhere = join(dir, "elsewhere");
    mkdirSync(elsewhere, { mode: 0o700 });
    const store = new LowdbStore({ dir });
    const lease = await store.acquireLease("r", leaseRequest("holder"));
    await store.writeSnapshot(sampleRun("r"), 0, lease);
    symlinkSync(elsewhere, temps());
    // A compaction needs a temp file.
    await expect(store.writeSnapshot(sampleRun("r"), 1, lease)).rejects.toBeInstanceOf(UnsafeStoreFileError);
    expect(readdirSync(elsewhere)).toEqual([]);
    // The run file is as it was: the start's snapshot, whole.
    expect((await store.load("r"))?.seq).toBe(0);
    await store.close();
  });
});
