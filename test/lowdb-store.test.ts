import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidRunIdError, RunLockedError, SnapshotCorruptError } from "../src/index.js";
import { processIdentity } from "../src/persistence/lease-rules.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import type { Lease, LeaseRequest } from "../src/persistence/run-store.js";
import { serialize } from "../src/persistence/serialization.js";
import { createRunState, nodeOf } from "../src/state/run-state.js";
import { deadPid, describeRunStoreConformance, nodeRecord, sampleRun } from "./store-conformance.js";
import { startLineChild, type LineChild } from "./support/child-process.js";

const tempDir = () => mkdtemp(join(tmpdir(), "taskloom-lowdb-"));

describeRunStoreConformance("LowdbStore", async () => {
  const dir = await tempDir();
  return { store: new LowdbStore({ dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describeRunStoreConformance("LowdbStore, layout: folders (the layout of earlier versions)", async () => {
  const dir = await tempDir();
  return { store: new LowdbStore({ dir, layout: "folders" }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

const HOST = hostname();
const request = (owner: string, fields: Partial<LeaseRequest> = {}): LeaseRequest => ({
  owner,
  pid: process.pid,
  host: HOST,
  ttlMs: 60_000,
  now: Date.now(),
  ...fields,
});

describe("LowdbStore", () => {
  let dir: string;
  let store: LowdbStore;
  const runDir = (runId: string) => join(dir, "runs", runId);
  const file = (runId: string, name: string) => join(runDir(runId), name);
  const mode = async (path: string) => (await stat(path)).mode & 0o777;
  const size = async (path: string) => (await stat(path)).size;

  beforeEach(async () => {
    dir = join(await tempDir(), "store");
    store = new LowdbStore({ dir });
  });

  afterEach(async () => {
    await store.close();
    await rm(resolve(dir, ".."), { recursive: true, force: true });
  });

  /** A store that keeps every run as a folder (`runs/<runId>/`), the layout the tests of its files are about. */
  const folders = (options: { fsync?: boolean } = {}) => new LowdbStore({ dir, ...options, layout: "folders" });
  /** Makes `store` one that keeps every run as a folder. */
  const useFolders = async () => {
    await store.close();
    store = folders();
  };

  describe("options", () => {
    it("resolves dir to an absolute path, defaulting to TASKLOOM_DIR, then ./.taskloom", () => {
      const saved = process.env.TASKLOOM_DIR;
      try {
        process.env.TASKLOOM_DIR = "some/where";
        expect(new LowdbStore().dir).toBe(resolve("some/where"));
        delete process.env.TASKLOOM_DIR;
        expect(new LowdbStore().dir).toBe(resolve(".taskloom"));
        expect(new LowdbStore({ dir: "rel" }).dir).toBe(resolve("rel"));
      } finally {
        if (saved === undefined) delete process.env.TASKLOOM_DIR;
        else process.env.TASKLOOM_DIR = saved;
      }
    });

    it("works with fsync on", async () => {
      const durable = new LowdbStore({ dir, fsync: true });
      await durable.writeSnapshot(sampleRun("r1"), 0);
      await durable.append("r1", [nodeRecord(1, "b")]);
      const lease = await durable.acquireLease("r1", request("o1"));
      await durable.renewLease(lease, 1_000, Date.now());
      expect((await durable.load("r1"))?.seq).toBe(1);
      await durable.close();
    });
  });

  describe("files", () => {
    beforeEach(useFolders);

    it("keeps one folder per run with snapshot, summary, journal and lease", async () => {
      await store.acquireLease("r1", request("o1"));
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.append("r1", [nodeRecord(1, "b")]);
      expect((await readdir(runDir("r1"))).sort()).toEqual(["journal.ndjson", "lease.json", "snapshot.json", "summary.json"]);
      expect((JSON.parse(await readFile(file("r1", "summary.json"), "utf8")) as { json: unknown }).json).toMatchObject({ runId: "r1", nodeCount: 3 });
    });

    it("makes folders 0700 and files 0600, whatever the umask", async () => {
      let saved: number | undefined;
      try {
        saved = process.umask(0);
      } catch {
        // umask cannot be changed in a worker thread; the modes are still checked.
      }
      try {
        await store.acquireLease("r1", request("o1"));
        await store.writeSnapshot(sampleRun("r1"), 0);
        await store.append("r1", [nodeRecord(1, "b")]);
      } finally {
        if (saved !== undefined) process.umask(saved);
      }
      for (const d of [dir, join(dir, "runs"), runDir("r1")]) expect(await mode(d)).toBe(0o700);
      for (const f of ["snapshot.json", "summary.json", "journal.ndjson", "lease.json"]) {
        expect(await mode(file("r1", f))).toBe(0o600);
      }
    });

    it("leaves no temp files behind", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.acquireLease("r1", request("o1"));
      expect((await readdir(runDir("r1"))).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    });

    it("empties the journal once a snapshot covers it", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.append("r1", [nodeRecord(1, "b"), nodeRecord(2, "c")]);
      expect(await size(file("r1", "journal.ndjson"))).toBeGreaterThan(0);
      const loaded = await store.load("r1");
      await store.writeSnapshot(loaded!.state, loaded!.seq);
      expect(await size(file("r1", "journal.ndjson"))).toBe(0);
      await store.append("r1", [nodeRecord(3, "b")]);
      expect((await readFile(file("r1", "journal.ndjson"), "utf8")).split("\n")).toHaveLength(2);
      expect((await store.load("r1"))?.seq).toBe(3);
    });

    it("compacts a journal written by another store instance", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.append("r1", [nodeRecord(1, "b"), nodeRecord(2, "c")]);
      await store.close();
      const other = folders();
      await other.writeSnapshot(sampleRun("r1"), 2);
      expect(await size(file("r1", "journal.ndjson"))).toBe(0);
      await other.close();
    });
  });

  describe("append cost", () => {
    beforeEach(useFolders);

    it("writes the same bytes per append in a 10-node and a 10,000-node run, and nothing else", async () => {
      const growth: number[][] = [];
      for (const n of [10, 10_000]) {
        const runId = `run-${String(n).padStart(5, "0")}`;
        const nodeIds = ["a", ...Array.from({ length: n - 1 }, (_, i) => `n${i}`)];
        await store.writeSnapshot(sampleRun(runId, { nodeIds }), 0);
        const snapshotBefore = await stat(file(runId, "snapshot.json"));
        const summaryBefore = await stat(file(runId, "summary.json"));
        const sizes: number[] = [];
        const total = async () => {
          let sum = 0;
          for (const f of await readdir(runDir(runId))) sum += await size(join(runDir(runId), f));
          return sum;
        };
        for (let seq = 1; seq <= 3; seq++) {
          const before = await total();
          await store.append(runId, [nodeRecord(seq, "n1", { status: "succeeded", output: { rows: seq } })]);
          sizes.push((await total()) - before);
        }
        const snapshotAfter = await stat(file(runId, "snapshot.json"));
        const summaryAfter = await stat(file(runId, "summary.json"));
        expect(snapshotAfter.ino).toBe(snapshotBefore.ino);
        expect(snapshotAfter.size).toBe(snapshotBefore.size);
        expect(summaryAfter.ino).toBe(summaryBefore.ino);
        growth.push(sizes);
      }
      expect(growth[0]).toEqual(growth[1]);
      expect(growth[0]?.every((g) => g === serialize(nodeRecord(1, "n1", { status: "succeeded", output: { rows: 1 } })).length + 1)).toBe(true);
    });
  });

  describe("torn and corrupt files", () => {
    beforeEach(useFolders);

    const fragment = '{"json":{"kind":"node","seq":9,"node":{"id":"c","nodeId":"c","sta';

    it("ignores a torn last journal line on load and cuts it off before the next append", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.append("r1", [nodeRecord(1, "b"), nodeRecord(2, "c")]);
      await store.close();
      await appendFile(file("r1", "journal.ndjson"), fragment);

      const restarted = folders();
      const loaded = await restarted.load("r1");
      expect(loaded?.seq).toBe(2);
      expect(nodeOf(loaded!.state, "c").status).toBe("running");

      await restarted.append("r1", [nodeRecord(3, "c", { status: "succeeded", output: "C" })]);
      const text = await readFile(file("r1", "journal.ndjson"), "utf8");
      expect(text).not.toContain('"sta\n');
      expect(text.endsWith("\n")).toBe(true);
      expect(text.trimEnd().split("\n")).toHaveLength(3);
      const after = await restarted.load("r1");
      expect(after?.seq).toBe(3);
      expect(nodeOf(after!.state, "c")).toMatchObject({ status: "succeeded", output: "C" });
      await restarted.close();
    });

    it("treats a complete but unparsable last line as torn", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.append("r1", [nodeRecord(1, "b")]);
      await store.close();
      await appendFile(file("r1", "journal.ndjson"), `${fragment}\n`);
      expect((await store.load("r1"))?.seq).toBe(1);
      await store.append("r1", [nodeRecord(2, "c")]);
      expect((await readFile(file("r1", "journal.ndjson"), "utf8")).trimEnd().split("\n")).toHaveLength(2);
      expect((await store.load("r1"))?.seq).toBe(2);
    });

    it("cuts off a journal that is nothing but a fragment", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      await writeFile(file("r1", "journal.ndjson"), fragment);
      expect((await store.load("r1"))?.seq).toBe(0);
      await store.append("r1", [nodeRecord(1, "b")]);
      expect(await readFile(file("r1", "journal.ndjson"), "utf8")).toBe(`${serialize(nodeRecord(1, "b"))}\n`);
    });

    it("raises SnapshotCorruptError for a bad line in the middle of the journal", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      const journal = file("r1", "journal.ndjson");
      await writeFile(journal, `${serialize(nodeRecord(1, "b"))}\nnot json\n${serialize(nodeRecord(2, "c"))}\n`);
      const bytes = await readFile(journal);
      const err = await store.load("r1").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SnapshotCorruptError);
      expect(err).toMatchObject({ code: "SNAPSHOT_CORRUPT", file: journal });
      expect((err as Error).message).toContain("line 2");
      expect(await readFile(journal)).toEqual(bytes);
    });

    it("raises SnapshotCorruptError for a truncated snapshot and leaves its bytes alone", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      const snapshot = file("r1", "snapshot.json");
      const whole = await readFile(snapshot);
      const truncated = whole.subarray(0, Math.floor(whole.length / 2));
      await writeFile(snapshot, truncated);
      const err = await store.load("r1").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SnapshotCorruptError);
      expect(err).toMatchObject({ code: "SNAPSHOT_CORRUPT", file: snapshot });
      await expect(store.load("r1")).rejects.toBeInstanceOf(SnapshotCorruptError);
      expect(await readFile(snapshot)).toEqual(truncated);
    });

    it.each([
      ["empty", ""],
      ["plain JSON, not superjson", '{"version":1}'],
      ["superjson, not a snapshot", serialize({ hello: "world" })],
      ["bad superjson annotations", '{"json":{"a":1},"meta":{"values":{"a":["nope"]}}}'],
    ])("raises SnapshotCorruptError for a snapshot that is %s", async (_what, content) => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      const snapshot = file("r1", "snapshot.json");
      await writeFile(snapshot, content);
      await expect(store.load("r1")).rejects.toMatchObject({ code: "SNAPSHOT_CORRUPT", file: snapshot });
      expect(await readFile(snapshot, "utf8")).toBe(content);
    });

    it("reports SnapshotCorruptError from list for a corrupt summary, and lists the other runs (issue 14, item 7)", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.writeSnapshot(sampleRun("r2"), 0);
      await writeFile(file("r1", "summary.json"), "{");
      const problems: unknown[] = [];
      expect((await store.list({ onProblem: (p) => problems.push(p) })).map((r) => r.runId)).toEqual(["r2"]);
      expect(problems).toEqual([expect.objectContaining({ code: "SNAPSHOT_CORRUPT", file: file("r1", "summary.json") })]);
    });
  });

  describe("corrupt run files (the default layout: one file per run, <dir>/<runId>.run)", () => {
    const runFile = (runId: string) => join(dir, `${runId}.run`);
    /** Run `runId`'s file with its first line of `kind` (a line starting `{"json":{"kind":"<kind>"`) made `text`, the lines after it kept. */
    const replaceLine = async (runId: string, kind: string, text: (line: string) => string) => {
      const lines = (await readFile(runFile(runId), "utf8")).split(/(?<=\n)/);
      const i = lines.findIndex((l) => l.startsWith(`{"json":{"kind":"${kind}"`));
      expect(i, `no ${kind} line`).toBeGreaterThanOrEqual(0);
      expect(i, `the ${kind} line is the last`).toBeLessThan(lines.length - 1);
      lines[i] = `${text(lines[i]!.slice(0, -1))}\n`;
      await writeFile(runFile(runId), lines.join(""));
    };

    it("raises SnapshotCorruptError for a bad line among the records", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.append("r1", [nodeRecord(1, "b"), nodeRecord(2, "c")]);
      const file = runFile("r1");
      const lines = (await readFile(file, "utf8")).split(/(?<=\n)/);
      const at = lines.findIndex((l) => l.startsWith('{"json":{"kind":"node"')) + 1;
      lines.splice(at, 0, "not json\n");
      await writeFile(file, lines.join(""));
      const bytes = await readFile(file);
      const fresh = new LowdbStore({ dir });
      const err = await fresh.load("r1").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SnapshotCorruptError);
      expect(err).toMatchObject({ code: "SNAPSHOT_CORRUPT", file });
      expect((err as Error).message).toContain(`line ${at + 1}`);
      expect(await readFile(file)).toEqual(bytes);
      await fresh.close();
    });

    it.each([
      ["cut in half", (line: string) => line.slice(0, Math.floor(line.length / 2))],
      ["empty", () => ""],
      ["plain JSON, not superjson", () => '{"version":1}'],
      ["superjson, not a snapshot", () => serialize({ hello: "world" })],
      ["bad superjson annotations", () => '{"json":{"a":1},"meta":{"values":{"a":["nope"]}}}'],
    ])("raises SnapshotCorruptError for a snapshot line that is %s, and leaves the file's bytes alone", async (_what, damage) => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.append("r1", [nodeRecord(1, "b")]);
      await replaceLine("r1", "snapshot", damage);
      const bytes = await readFile(runFile("r1"));
      const fresh = new LowdbStore({ dir });
      await expect(fresh.load("r1")).rejects.toMatchObject({ code: "SNAPSHOT_CORRUPT", file: runFile("r1") });
      await expect(fresh.load("r1")).rejects.toBeInstanceOf(SnapshotCorruptError);
      expect(await readFile(runFile("r1"))).toEqual(bytes);
      await fresh.close();
    });

    it("reports SnapshotCorruptError from list for a corrupt summary line, and lists the other runs", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.append("r1", [nodeRecord(1, "b")]);
      await store.writeSnapshot(sampleRun("r2"), 0);
      // Cut short, its kind still readable (a line that is not a summary's is not what list reads: load refuses the run).
      await replaceLine("r1", "summary", (line) => line.slice(0, -3));
      const problems: unknown[] = [];
      const fresh = new LowdbStore({ dir });
      expect((await fresh.list({ onProblem: (p) => problems.push(p) })).map((r) => r.runId)).toEqual(["r2"]);
      expect(problems).toEqual([expect.objectContaining({ code: "SNAPSHOT_CORRUPT", file: runFile("r1") })]);
      await fresh.close();
    });
  });

  describe("failures of the file system", () => {
    beforeEach(useFolders);

    it("rejects a write into a folder that cannot be made, and keeps earlier snapshots readable", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.append("r1", [nodeRecord(1, "b")]);
      const notAFolder = join(dir, "not-a-folder");
      await writeFile(notAFolder, "x");
      const broken = new LowdbStore({ dir: notAFolder, layout: "folders" });
      // The folder is named, and why it cannot be used (before, the system's ENOTDIR reached the caller).
      const unusable = { code: "STORE_FOLDER_UNUSABLE", dir: notAFolder, cause: expect.objectContaining({ code: "ENOTDIR" }) as unknown };
      await expect(broken.writeSnapshot(sampleRun("r1"), 0)).rejects.toMatchObject(unusable);
      await expect(broken.acquireLease("r1", request("o1"))).rejects.toMatchObject(unusable);
      await expect(broken.append("r1", [nodeRecord(2, "c")])).rejects.toThrow();
      await expect(broken.load("r1")).rejects.toMatchObject(unusable);
      await expect(broken.list()).rejects.toMatchObject({ code: "STORE_FOLDER_UNUSABLE", dir: notAFolder });
      await broken.close();

      const inside = new LowdbStore({ dir: file("r1", "snapshot.json"), layout: "folders" });
      await expect(inside.writeSnapshot(sampleRun("r1"), 5)).rejects.toMatchObject({ code: "STORE_FOLDER_UNUSABLE" });
      await inside.close();

      const loaded = await store.load("r1");
      expect(loaded?.seq).toBe(1);
      expect(nodeOf(loaded!.state, "b").status).toBe("running");
    });
  });

  describe("run ids", () => {
    const bad = ["../x", "/etc/passwd", "a\0b", "", ".hidden", "a/b", "..", "x".repeat(201)];
    const lease = (runId: string): Lease => ({ runId, owner: "o", pid: process.pid, host: HOST, expiresAt: 0, token: 1 });

    it.each(bad.map((id) => [JSON.stringify(id).slice(0, 20), id]))("rejects %s in every method", async (_label, runId) => {
      const state = createRunState({ runId, graphName: "g", fingerprint: "f", inputs: {}, nodeIds: ["a"], now: 0 });
      await expect(store.writeSnapshot(state, 0)).rejects.toBeInstanceOf(InvalidRunIdError);
      await expect(store.append(runId, [nodeRecord(1, "a")])).rejects.toBeInstanceOf(InvalidRunIdError);
      await expect(store.load(runId)).rejects.toBeInstanceOf(InvalidRunIdError);
      await expect(store.delete(runId)).rejects.toBeInstanceOf(InvalidRunIdError);
      await expect(store.acquireLease(runId, request("o"))).rejects.toBeInstanceOf(InvalidRunIdError);
      await expect(store.renewLease(lease(runId), 1, 0)).rejects.toBeInstanceOf(InvalidRunIdError);
      await expect(store.releaseLease(lease(runId))).rejects.toBeInstanceOf(InvalidRunIdError);
      await expect(stat(dir)).rejects.toMatchObject({ code: "ENOENT" });
    });
  });

  describe("leases on disk", () => {
    it("refuses to delete a run whose lease a live driver holds", async () => {
      await useFolders();
      await store.writeSnapshot(sampleRun("r1"), 0);
      const held = await store.acquireLease("r1", request("o1"));
      await expect(store.delete("r1")).rejects.toBeInstanceOf(RunLockedError);
      expect((await store.load("r1"))?.seq).toBe(0);
      await store.releaseLease(held);
      expect(await store.delete("r1")).toBe(true);
      await expect(stat(runDir("r1"))).rejects.toMatchObject({ code: "ENOENT" });
      expect((await readdir(join(dir, "runs"))).length).toBe(0);
    });

    it("deletes a run whose lease holder died", async () => {
      await store.writeSnapshot(sampleRun("r1"), 0);
      await store.acquireLease("r1", request("crashed", { pid: await deadPid(), identity: processIdentity() }));
      expect(await store.delete("r1")).toBe(true);
    });

    it("holds a lease before the run has a snapshot", async () => {
      await useFolders();
      await store.acquireLease("r1", request("o1"));
      expect(await store.load("r1")).toBeUndefined();
      expect(await store.list()).toEqual([]);
      await expect(store.append("r1", [nodeRecord(1, "a")])).rejects.toThrow(/no snapshot/);
      await expect(stat(file("r1", "journal.ndjson"))).rejects.toMatchObject({ code: "ENOENT" });
    });

    it("breaks a lease lock left by a crash", async () => {
      await mkdir(join(runDir("r1"), "lease.lock"), { recursive: true });
      const past = new Date(Date.now() - 60_000);
      await utimes(join(runDir("r1"), "lease.lock"), past, past);
      await expect(store.acquireLease("r1", request("o1"))).resolves.toMatchObject({ owner: "o1" });
      await expect(stat(join(runDir("r1"), "lease.lock"))).rejects.toMatchObject({ code: "ENOENT" });
    });

    it("waits for a lease lock held by someone else", async () => {
      const lock = join(runDir("r1"), "lease.lock");
      await mkdir(lock, { recursive: true });
      const pending = store.acquireLease("r1", request("o1"));
      await new Promise((r) => setTimeout(r, 30));
      await rm(lock, { recursive: true });
      await expect(pending).resolves.toMatchObject({ owner: "o1" });
    });

    it("gives the lease to exactly one of two processes racing for it", { timeout: 30_000 }, async () => {
      const racers = ["p1", "p2"].map((owner) => startRacer(dir, "race", owner));
      try {
        await Promise.all(racers.map((r) => r.nextLine()));
        for (const r of racers) r.child.stdin.write("go\n");
        const results = (await Promise.all(racers.map((r) => r.nextLine()))).map(
          (line) => JSON.parse(line) as { ok: boolean; locked?: boolean; holderPid?: number; message?: string },
        );
        const winners = results.filter((r) => r.ok);
        const losers = results.filter((r) => !r.ok);
        expect(winners, JSON.stringify(results)).toHaveLength(1);
        expect(losers[0]?.locked, JSON.stringify(results)).toBe(true);
        const winner = racers[results.indexOf(winners[0]!)];
        expect(losers[0]?.holderPid).toBe(winner?.child.pid);
      } finally {
        for (const r of racers) r.child.stdin.end();
        await Promise.all(racers.map((r) => r.exited));
      }
    });
  });
});

const startRacer = (dir: string, runId: string, owner: string): LineChild => startLineChild(["test/fixtures/lease-race.ts", dir, runId, owner]);
