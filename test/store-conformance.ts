/**
 * The `RunStore` conformance suite: what every store must do, run against
 * each of them (`MemoryStore`, `LowdbStore`, and any later store) so that a
 * test passing against one means the same against the others.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { hostname } from "node:os";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LeaseLostError, RunLockedError } from "../src/index.js";
import { processIdentity, startTimeOf } from "../src/persistence/lease-rules.js";
import type { Lease, LeaseRequest, RunStore } from "../src/persistence/run-store.js";
import { nodeRecords } from "../src/state/node-table.js";
import type { JournalRecord, NodeRecord, RunMeta } from "../src/state/records.js";
import { applyTransition, createRunState, nodeOf, setRunStatus, type RunState } from "../src/state/run-state.js";
import { markRunning, markSucceeded } from "../src/state/node-transitions.js";
import type { RunStatus } from "../src/state/status.js";

/** What a store factory hands the suite. */
export interface StoreFixture {
  readonly store: RunStore;
  readonly cleanup?: () => Promise<void>;
}

/** A run with nodes `a`, `b`, `c` (or `nodeIds`); `a` succeeded with `output`. */
export function sampleRun(
  runId: string,
  options: { nodeIds?: readonly string[]; now?: number; output?: unknown; inputs?: unknown; status?: RunStatus } = {},
): RunState {
  const now = options.now ?? 1_000;
  let state = createRunState({
    runId,
    graphName: "g",
    fingerprint: "fp-1",
    inputs: options.inputs ?? { n: 1 },
    nodeIds: options.nodeIds ?? ["a", "b", "c"],
    now,
    sessionId: "s-1",
  });
  state = setRunStatus(state, "running", now);
  // The one place the suite builds states with transitions: keep it in step with run-state.ts.
  state = applyTransition(state, "a", markRunning(now + 1), now + 1);
  state = applyTransition(state, "a", markSucceeded(options.output ?? { value: 1 }, true, now + 2), now + 2);
  if (options.status !== undefined && options.status !== "running") state = setRunStatus(state, options.status, now + 3);
  return state;
}

/** A journal record setting node `id`. */
export function nodeRecord(seq: number, id: string, fields: Partial<NodeRecord> = {}): JournalRecord {
  return { kind: "node", seq, node: { id, nodeId: id, status: "running", attempts: 1, startedAt: 2_000 + seq, ...fields } };
}

/** A journal record setting the run meta. */
export function runRecord(seq: number, meta: RunMeta): JournalRecord {
  return { kind: "run", seq, run: meta };
}

/** The state as plain, comparable data: meta plus node records sorted by id. */
export function flat(state: RunState): { meta: RunMeta; nodes: NodeRecord[] } {
  return { meta: state.meta, nodes: [...nodeRecords(state.nodes)].sort((a, b) => a.id.localeCompare(b.id)) };
}

/** The pid of a process that has exited. */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  const pid = child.pid;
  await new Promise<void>((resolve, reject) => {
    child.once("exit", () => resolve());
    child.once("error", reject);
  });
  if (pid === undefined) throw new Error("the child process has no pid");
  return pid;
}

const HOST = hostname();

/** Runs `body` with the pid and start time of a live, sleeping child process. */
async function withSleeper(body: (pid: number, startTime: string | undefined) => Promise<void>): Promise<void> {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
  try {
    const pid = child.pid;
    if (pid === undefined) throw new Error("the child process has no pid");
    await body(pid, startTimeOf(pid));
  } finally {
    child.kill("SIGKILL");
  }
}

function request(owner: string, now: number, fields: Partial<LeaseRequest> = {}): LeaseRequest {
  return { owner, pid: process.pid, host: HOST, ttlMs: 10_000, now, ...fields };
}

const exotic = () => ({
  when: new Date("2026-11-23T12:00:00.000Z"),
  byKey: new Map<string, unknown>([
    ["k", 1n],
    ["d", new Date(0)],
  ]),
  tags: new Set(["x", "y"]),
  big: 12345678901234567890n,
  missing: undefined,
  nested: [undefined, { deep: new Set([1n]) }],
});

/**
 * Registers the conformance suite for one store.
 *
 * @example
 * ```ts
 * describeRunStoreConformance("MemoryStore", async () => ({ store: new MemoryStore() }));
 * ```
 */
export function describeRunStoreConformance(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`RunStore conformance: ${name}`, () => {
    let store: RunStore;
    let fixture: StoreFixture;

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });

    afterEach(async () => {
      await store.close();
      await fixture.cleanup?.();
    });

    describe("snapshots and journal", () => {
      it("loads a snapshot as it was written", async () => {
        const state = sampleRun("r1");
        await store.writeSnapshot(state, 0);
        const loaded = await store.load("r1");
        expect(loaded?.seq).toBe(0);
        expect(flat(loaded!.state)).toEqual(flat(state));
      });

      it("returns undefined for a run it does not have", async () => {
        expect(await store.load("nope")).toBeUndefined();
      });

      it("replays appended records in order over the snapshot", async () => {
        const state = sampleRun("r1");
        await store.writeSnapshot(state, 3);
        await store.append("r1", [nodeRecord(4, "b"), nodeRecord(5, "c")]);
        await store.append("r1", [nodeRecord(6, "b", { status: "succeeded", output: "B", endedAt: 7 })]);
        const loaded = await store.load("r1");
        expect(loaded?.seq).toBe(6);
        expect(nodeOf(loaded!.state, "b")).toMatchObject({ status: "succeeded", output: "B" });
        expect(nodeOf(loaded!.state, "c")).toMatchObject({ status: "running", startedAt: 2_005 });
        expect(nodeOf(loaded!.state, "a")).toEqual(nodeOf(state, "a"));
      });

      it("skips records at or below the snapshot's seq", async () => {
        await store.writeSnapshot(sampleRun("r1"), 5);
        await store.append("r1", [nodeRecord(4, "b", { attempts: 9 }), nodeRecord(5, "c", { attempts: 9 }), nodeRecord(6, "c")]);
        const loaded = await store.load("r1");
        expect(loaded?.seq).toBe(6);
        expect(nodeOf(loaded!.state, "b").status).toBe("pending");
        expect(nodeOf(loaded!.state, "c")).toMatchObject({ status: "running", attempts: 1 });
      });

      it("applies a run record to the meta", async () => {
        const state = sampleRun("r1");
        await store.writeSnapshot(state, 0);
        const meta: RunMeta = { ...state.meta, status: "failed", updatedAt: 9_000 };
        await store.append("r1", [runRecord(1, meta)]);
        const loaded = await store.load("r1");
        expect(loaded?.state.meta).toEqual(meta);
      });

      it("adds activations that a record introduces", async () => {
        await store.writeSnapshot(sampleRun("r1"), 0);
        await store.append("r1", [nodeRecord(1, "map#0", { nodeId: "c" })]);
        const loaded = await store.load("r1");
        expect(nodeOf(loaded!.state, "map#0").nodeId).toBe("c");
        expect([...nodeRecords(loaded!.state.nodes)]).toHaveLength(4);
      });

      it("keeps the state through a snapshot written after appends (compaction)", async () => {
        await store.writeSnapshot(sampleRun("r1"), 0);
        await store.append("r1", [nodeRecord(1, "b"), nodeRecord(2, "c")]);
        const before = await store.load("r1");
        await store.writeSnapshot(before!.state, before!.seq);
        const after = await store.load("r1");
        expect(after?.seq).toBe(2);
        expect(flat(after!.state)).toEqual(flat(before!.state));
        await store.append("r1", [nodeRecord(3, "b", { status: "succeeded", output: 3 })]);
        const last = await store.load("r1");
        expect(last?.seq).toBe(3);
        expect(nodeOf(last!.state, "b")).toMatchObject({ status: "succeeded", output: 3 });
        expect(nodeOf(last!.state, "c").status).toBe("running");
      });

      it("keeps journal records above the seq of a snapshot", async () => {
        const state = sampleRun("r1");
        await store.writeSnapshot(state, 0);
        await store.append("r1", [nodeRecord(1, "b"), nodeRecord(2, "c")]);
        await store.writeSnapshot(state, 1);
        const loaded = await store.load("r1");
        expect(loaded?.seq).toBe(2);
        expect(nodeOf(loaded!.state, "b").status).toBe("pending");
        expect(nodeOf(loaded!.state, "c").status).toBe("running");
      });

      it("rejects an append to a run without a snapshot", async () => {
        await expect(store.append("ghost", [nodeRecord(1, "a")])).rejects.toThrow(/snapshot/);
      });

      it("round-trips Date, Map, Set, BigInt and undefined in outputs, inputs and records", async () => {
        const state = sampleRun("r1", { output: exotic(), inputs: exotic() });
        await store.writeSnapshot(state, 0);
        await store.append("r1", [nodeRecord(1, "b", { status: "succeeded", output: exotic(), steps: { s: exotic() } })]);
        const loaded = await store.load("r1");
        const a = nodeOf(loaded!.state, "a");
        const b = nodeOf(loaded!.state, "b");
        expect(a.output).toStrictEqual(exotic());
        expect(loaded!.state.meta.inputs).toStrictEqual(exotic());
        expect(b.output).toStrictEqual(exotic());
        expect(b.steps?.s).toStrictEqual(exotic());
        const out = a.output as ReturnType<typeof exotic>;
        expect(out.when).toBeInstanceOf(Date);
        expect(out.byKey).toBeInstanceOf(Map);
        expect(out.tags).toBeInstanceOf(Set);
        expect(typeof out.big).toBe("bigint");
        expect("missing" in out).toBe(true);
        expect(out.nested).toHaveLength(2);
      });
    });

    describe("list", () => {
      it("lists runs newest first, with and without a status filter", async () => {
        await store.writeSnapshot(sampleRun("old", { now: 1_000, status: "succeeded" }), 0);
        await store.writeSnapshot(sampleRun("new", { now: 3_000, status: "failed" }), 0);
        await store.writeSnapshot(sampleRun("mid", { now: 2_000 }), 0);
        const all = await store.list();
        expect(all.map((s) => s.runId)).toEqual(["new", "mid", "old"]);
        expect(all[0]).toMatchObject({ graphName: "g", status: "failed", nodeCount: 3, settledCount: 1, sessionId: "s-1" });
        expect((await store.list({ status: "running" })).map((s) => s.runId)).toEqual(["mid"]);
        expect((await store.list({ status: ["succeeded", "failed"] })).map((s) => s.runId)).toEqual(["new", "old"]);
        expect(await store.list({ status: "waiting" })).toEqual([]);
      });

      it("reflects a status change recorded in the journal", async () => {
        const state = sampleRun("r1", { now: 1_000 });
        await store.writeSnapshot(state, 0);
        await store.append("r1", [runRecord(1, { ...state.meta, status: "succeeded", updatedAt: 5_000 })]);
        const [summary] = await store.list({ status: "succeeded" });
        expect(summary).toMatchObject({ runId: "r1", status: "succeeded", updatedAt: 5_000, nodeCount: 3 });
      });

      it("takes the node counts an append gives with a run record, and keeps them for a later run record without", async () => {
        const state = sampleRun("r1", { now: 1_000 });
        await store.writeSnapshot(state, 0);
        const end = { ...state.meta, status: "succeeded" as const, updatedAt: 5_000 };
        const counts = { nodeCount: 3, settledCount: 3, succeededCount: 3, failedCount: 0 };
        await store.append("r1", [nodeRecord(1, "b", { status: "succeeded", output: "B", endedAt: 7 }), runRecord(2, end)], undefined, counts);
        expect((await store.list())[0]).toMatchObject({ runId: "r1", status: "succeeded", updatedAt: 5_000, ...counts });
        await store.append("r1", [runRecord(3, { ...end, updatedAt: 6_000 })]);
        expect((await store.list())[0]).toMatchObject({ runId: "r1", updatedAt: 6_000, ...counts });
      });

      it("reports how many journal records a load replayed (when it reports it)", async () => {
        const state = sampleRun("r1", { now: 1_000 });
        await store.writeSnapshot(state, 0);
        await store.append("r1", [nodeRecord(1, "b"), nodeRecord(2, "c")]);
        expect((await store.load("r1"))?.journalRecords ?? 2).toBe(2);
        await store.writeSnapshot((await store.load("r1"))!.state, 2);
        expect((await store.load("r1"))?.journalRecords ?? 0).toBe(0);
      });

      it("is empty for an empty store", async () => {
        expect(await store.list()).toEqual([]);
      });
    });

    describe("delete", () => {
      it("deletes a run, and says when there was none", async () => {
        await store.writeSnapshot(sampleRun("r1"), 0);
        await store.append("r1", [nodeRecord(1, "b")]);
        await store.writeSnapshot(sampleRun("r2"), 0);
        expect(await store.delete("r1")).toBe(true);
        expect(await store.load("r1")).toBeUndefined();
        expect((await store.list()).map((s) => s.runId)).toEqual(["r2"]);
        expect(await store.delete("r1")).toBe(false);
        expect(await store.delete("never")).toBe(false);
      });

      it("starts afresh when a deleted run id is used again", async () => {
        await store.writeSnapshot(sampleRun("r1"), 0);
        await store.append("r1", [nodeRecord(1, "b")]);
        await store.delete("r1");
        await store.writeSnapshot(sampleRun("r1"), 0);
        const loaded = await store.load("r1");
        expect(loaded?.seq).toBe(0);
        expect(nodeOf(loaded!.state, "b").status).toBe("pending");
      });
    });

    describe("delete by the holder of a lease (RunStore.delete's lease)", () => {
      it("deletes a run with its current lease, live or expired while nobody took it, lease and all", async () => {
        const live = await store.acquireLease("r1", request("o1", Date.now(), { ttlMs: 60_000 }));
        await store.writeSnapshot(sampleRun("r1"), 0, live);
        await store.append("r1", [nodeRecord(1, "b")], live);
        await store.writeSnapshot(sampleRun("r2"), 0);
        // A plain delete is refused (a live driver holds it); its holder deletes it.
        await expect(store.delete("r1")).rejects.toBeInstanceOf(RunLockedError);
        expect(await store.delete("r1", live)).toBe(true);
        expect(await store.load("r1")).toBeUndefined();
        expect(await store.readLease?.("r1")).toBeUndefined();
        expect((await store.list()).map((s) => s.runId)).toEqual(["r2"]);
        await expect(store.acquireLease("r1", request("o2", Date.now()))).resolves.toMatchObject({ owner: "o2" });

        const expired = await store.acquireLease("r3", request("o1", 1_000, { ttlMs: 100 }));
        await store.writeSnapshot(sampleRun("r3"), 0, expired);
        expect(await store.delete("r3", expired)).toBe(true);
        expect(await store.load("r3")).toBeUndefined();
      });

      it("deletes what taking the lease of a run without a snapshot made, and says there was no run", async () => {
        const lease = await store.acquireLease("r1", request("o1", Date.now(), { ttlMs: 60_000 }));
        expect(await store.delete("r1", lease)).toBe(false);
        expect(await store.readLease?.("r1")).toBeUndefined();
        expect(await store.list()).toEqual([]);
        await expect(store.acquireLease("r1", request("o2", Date.now()))).resolves.toMatchObject({ owner: "o2" });
      });

      it("refuses a stale lease (another driver took the run over after it expired), naming the holder, and deletes nothing", async () => {
        const old = await store.acquireLease("r1", request("o1", 1_000, { ttlMs: 100 }));
        await store.writeSnapshot(sampleRun("r1"), 0, old);
        const fresh = await store.acquireLease("r1", request("o2", 2_000));
        await store.append("r1", [nodeRecord(1, "b", { status: "succeeded", output: "B" })], fresh);
        const err = await store.delete("r1", old).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RunLockedError);
        expect((err as RunLockedError).holder).toMatchObject({ owner: "o2" });
        // The successor has given the run back since (a resume that ended): still not the stale lease's to delete.
        await store.releaseLease(fresh);
        await expect(store.delete("r1", old)).rejects.toBeInstanceOf(RunLockedError);
        const loaded = await store.load("r1");
        expect(loaded?.seq).toBe(1);
        expect(nodeOf(loaded!.state, "b")).toMatchObject({ status: "succeeded", output: "B" });
        expect((await store.list()).map((s) => s.runId)).toEqual(["r1"]);
      });

      it("refuses the lease of an owner that is not the holder, a lease given back, and a run without a lease, deleting nothing", async () => {
        const held = await store.acquireLease("r1", request("o1", Date.now(), { ttlMs: 60_000 }));
        await store.writeSnapshot(sampleRun("r1"), 0, held);
        const err = await store.delete("r1", { ...held, owner: "o2" }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RunLockedError);
        expect((err as RunLockedError).holder).toMatchObject({ owner: "o1" });
        await expect(store.delete("r1", { ...held, token: held.token + 1 })).rejects.toBeInstanceOf(RunLockedError);
        expect(await store.readLease?.("r1")).toMatchObject({ owner: "o1", token: held.token });
        await store.releaseLease(held);
        await expect(store.delete("r1", held)).rejects.toBeInstanceOf(RunLockedError);
        expect((await store.load("r1"))?.seq).toBe(0);
        await expect(store.delete("nobody", { ...held, runId: "nobody" })).rejects.toBeInstanceOf(RunLockedError);
        expect((await store.list()).map((s) => s.runId)).toEqual(["r1"]);
      });
    });

    describe("leases", () => {
      it("grants a lease with token 1", async () => {
        const lease = await store.acquireLease("r1", request("o1", 1_000));
        expect(lease).toEqual({ runId: "r1", owner: "o1", pid: process.pid, host: HOST, expiresAt: 11_000, token: 1 });
      });

      it("refuses a second owner, naming the holder", async () => {
        await store.acquireLease("r1", request("o1", 1_000));
        const err = await store.acquireLease("r1", request("o2", 2_000)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RunLockedError);
        expect(err).toMatchObject({ code: "RUN_LOCKED", runId: "r1" });
        expect((err as RunLockedError).holder).toMatchObject({ owner: "o1", pid: process.pid, host: HOST, expiresAt: 11_000 });
      });

      it("reads the current lease without changing it (readLease)", async () => {
        expect(typeof store.readLease).toBe("function");
        expect(await store.readLease?.("r1")).toBeUndefined();
        const lease = await store.acquireLease("r1", request("o1", 1_000));
        expect(await store.readLease?.("r1")).toMatchObject({ runId: "r1", owner: "o1", pid: process.pid, host: HOST, expiresAt: 11_000, token: 1 });
        const renewed = await store.renewLease(lease, 5_000, 8_000);
        expect(await store.readLease?.("r1")).toMatchObject({ owner: "o1", token: 1, expiresAt: 13_000 });
        // Reading took nothing: the same owner still renews, another is still refused.
        await expect(store.acquireLease("r1", request("o2", 9_000))).rejects.toBeInstanceOf(RunLockedError);
        await store.releaseLease(renewed);
        expect(await store.readLease?.("r1")).toBeUndefined();
      });

      it("lets the same owner acquire again", async () => {
        await store.acquireLease("r1", request("o1", 1_000));
        const again = await store.acquireLease("r1", request("o1", 2_000));
        expect(again).toMatchObject({ owner: "o1", token: 1, expiresAt: 12_000 });
      });

      it("keeps a cancel request when the same owner takes its lease again (same token), so an accepted cancel is never dropped", async () => {
        // Each acquire writes first, as a driver does (a run file whose holder wrote nothing is cut back to what it was).
        const lease = await store.acquireLease("r1", request("o1", 1_000));
        await store.writeSnapshot(sampleRun("r1"), 0, lease);
        expect(await store.requestCancel!("r1", { token: lease.token, owner: "o1", reason: "stop", at: 5 })).toBe(true);
        const again = await store.acquireLease("r1", request("o1", 2_000));
        expect(again).toMatchObject({ owner: "o1", token: lease.token, cancelRequested: { token: lease.token, reason: "stop", at: 5 } });
        expect((await store.renewLease(again, 10_000, 3_000)).cancelRequested).toEqual({ token: lease.token, reason: "stop", at: 5 });
      });

      it("takes over an expired lease with the next token", async () => {
        await store.acquireLease("r1", request("o1", 1_000, { ttlMs: 100 }));
        const taken = await store.acquireLease("r1", request("o2", 1_100));
        expect(taken).toMatchObject({ owner: "o2", token: 2, expiresAt: 11_100 });
      });

      it("takes over at once a lease held by a dead process on this host", async () => {
        const pid = await deadPid();
        // The child ran in this boot and PID namespace: its lease says so (lease identity rules).
        await store.acquireLease("r1", request("crashed", 1_000, { pid, ttlMs: 3_600_000, identity: processIdentity() }));
        const taken = await store.acquireLease("r1", request("o2", 1_001));
        expect(taken).toMatchObject({ owner: "o2", pid: process.pid, token: 2 });
      });

      it("does not take over a live lease held on another host", async () => {
        const pid = await deadPid();
        await store.acquireLease("r1", request("remote", 1_000, { pid, host: `not-${HOST}` }));
        await expect(store.acquireLease("r1", request("o2", 1_001))).rejects.toBeInstanceOf(RunLockedError);
      });

      it("renews a held lease", async () => {
        const lease = await store.acquireLease("r1", request("o1", 1_000));
        const renewed = await store.renewLease(lease, 5_000, 8_000);
        expect(renewed).toEqual({ ...lease, expiresAt: 13_000 });
        await expect(store.acquireLease("r1", request("o2", 12_000))).rejects.toBeInstanceOf(RunLockedError);
      });

      it("refuses to renew a lease another owner took over", async () => {
        const lease = await store.acquireLease("r1", request("o1", 1_000, { ttlMs: 100 }));
        await store.acquireLease("r1", request("o2", 2_000));
        const err = await store.renewLease(lease, 100, 2_001).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RunLockedError);
        expect((err as RunLockedError).holder).toMatchObject({ owner: "o2" });
      });

      it("refuses to renew a lease that was released", async () => {
        const lease = await store.acquireLease("r1", request("o1", 1_000));
        await store.releaseLease(lease);
        await expect(store.renewLease(lease, 100, 2_000)).rejects.toBeInstanceOf(RunLockedError);
      });

      it("lets another owner acquire after a release", async () => {
        const lease = await store.acquireLease("r1", request("o1", 1_000));
        await store.releaseLease(lease);
        const next = await store.acquireLease("r1", request("o2", 1_001));
        expect(next.owner).toBe("o2");
      });

      it("gives the lease after one given back a token above it, so a cancel request for the old holder never reaches the next", async () => {
        // Each holder writes, as a driver does (a run file whose holder wrote nothing is cut back to what it was).
        const first = await store.acquireLease("r1", request("o1", 1_000));
        await store.writeSnapshot(sampleRun("r1"), 0, first);
        await store.releaseLease(first);
        const next = await store.acquireLease("r1", request("o2", 1_001));
        expect(next.token).toBe(first.token + 1);
        expect(await store.requestCancel!("r1", { token: first.token, reason: "for o1", at: 2 })).toBe(false);
        expect((await store.renewLease(next, 10_000, 2_000)).cancelRequested).toBeUndefined();
        // The same owner, taking the run again after giving it back, gets a new token too.
        await store.append("r1", [nodeRecord(1, "b")], next);
        await store.releaseLease(next);
        await expect(store.acquireLease("r1", request("o2", 3_000))).resolves.toMatchObject({ owner: "o2", token: next.token + 1 });
      });

      it("ignores a release of an owner's lease from before another driver took the run (an older token): the owner's current lease stays", async () => {
        const early = await store.acquireLease("r1", request("o1", 1_000, { ttlMs: 100 }));
        await store.acquireLease("r1", request("o2", 2_000, { ttlMs: 100 }));
        const again = await store.acquireLease("r1", request("o1", 3_000));
        expect(again.token).toBeGreaterThan(early.token);
        await store.releaseLease(early);
        expect(await store.readLease!("r1")).toMatchObject({ owner: "o1", token: again.token });
        await expect(store.acquireLease("r1", request("o3", 3_001))).rejects.toBeInstanceOf(RunLockedError);
      });

      it("ignores a release by an owner that no longer holds the lease", async () => {
        const old = await store.acquireLease("r1", request("o1", 1_000, { ttlMs: 100 }));
        await store.acquireLease("r1", request("o2", 2_000));
        await store.releaseLease(old);
        await expect(store.acquireLease("r1", request("o3", 2_001))).rejects.toBeInstanceOf(RunLockedError);
      });

      it("grants one of many concurrent requests", async () => {
        const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.acquireLease("r1", request(`o${i}`, 1_000))));
        const won = results.filter((r): r is PromiseFulfilledResult<Lease> => r.status === "fulfilled");
        expect(won).toHaveLength(1);
        for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(RunLockedError);
      });

      it("keeps leases of different runs apart", async () => {
        await store.acquireLease("r1", request("o1", 1_000));
        await expect(store.acquireLease("r2", request("o2", 1_000))).resolves.toMatchObject({ owner: "o2", token: 1 });
      });

      describe("lease identity: taken over before expiry only when the holder is provably dead", () => {
        const linux = process.platform === "linux";

        it("takes over at once a live pid that now belongs to another process (the pid was reused)", async () => {
          await withSleeper(async (pid) => {
            const reused = { ...processIdentity(), startTime: "1" };
            await store.acquireLease("r1", request("old", 1_000, { pid, ttlMs: 3_600_000, identity: reused }));
            await expect(store.acquireLease("r1", request("o2", 1_001))).resolves.toMatchObject({ owner: "o2", token: 2 });
          });
        });

        it("does not take over a live holder whose start time matches", async () => {
          await withSleeper(async (pid, startTime) => {
            const alive = { ...processIdentity(), startTime };
            await store.acquireLease("r1", request("alive", 1_000, { pid, ttlMs: 3_600_000, identity: alive }));
            await expect(store.acquireLease("r1", request("o2", 1_001))).rejects.toBeInstanceOf(RunLockedError);
          });
        });

        it.skipIf(!linux)("waits for expiry when the holder ran in another PID namespace, even if its pid is unknown here", async () => {
          const pid = await deadPid();
          const elsewhere = { ...processIdentity(), pidNs: "pid:[1]" };
          await store.acquireLease("r1", request("container", 1_000, { pid, ttlMs: 10_000, identity: elsewhere }));
          await expect(store.acquireLease("r1", request("o2", 1_001))).rejects.toBeInstanceOf(RunLockedError);
          await expect(store.acquireLease("r1", request("o2", 11_000))).resolves.toMatchObject({ owner: "o2", token: 2 });
        });

        it.skipIf(!linux)("waits for expiry when the holder's lease has no identity, or another boot's", async () => {
          const pid = await deadPid();
          await store.acquireLease("r1", request("unknown", 1_000, { pid, ttlMs: 10_000 }));
          await expect(store.acquireLease("r1", request("o2", 1_001))).rejects.toBeInstanceOf(RunLockedError);
          const otherBoot = { ...processIdentity(), bootId: "another-boot" };
          await store.acquireLease("r2", request("rebooted", 1_000, { pid, ttlMs: 10_000, identity: otherBoot }));
          await expect(store.acquireLease("r2", request("o2", 1_001))).rejects.toBeInstanceOf(RunLockedError);
        });

        it("keeps the holder's identity in the lease", async () => {
          const identity = processIdentity();
          const lease = await store.acquireLease("r1", request("o1", 1_000, { identity }));
          expect(lease.identity).toEqual(identity);
          const err = await store.acquireLease("r1", request("o2", 1_001)).catch((e: unknown) => e);
          expect((err as RunLockedError).holder).toMatchObject({ owner: "o1", identity });
        });
      });

      describe("fencing: every write carries the writer's lease", () => {
        it("refuses the writes of a holder that was taken over through the same store object, and keeps the new holder's", async () => {
          const old = await store.acquireLease("r1", request("o1", 1_000, { ttlMs: 100 }));
          await store.writeSnapshot(sampleRun("r1", { output: "first" }), 0, old);
          await store.append("r1", [nodeRecord(1, "b")], old);
          const fresh = await store.acquireLease("r1", request("o2", 2_000));
          expect(fresh.token).toBe(old.token + 1);
          await store.writeSnapshot(sampleRun("r1", { output: "new" }), 1, fresh);
          await store.append("r1", [nodeRecord(2, "c", { status: "succeeded", output: "C-new" })], fresh);

          const appendError = await store.append("r1", [nodeRecord(3, "c", { status: "succeeded", output: "C-old" })], old).catch((e: unknown) => e);
          expect(appendError).toBeInstanceOf(LeaseLostError);
          expect(appendError).toMatchObject({ code: "LEASE_LOST", runId: "r1", heldToken: old.token, currentToken: fresh.token });
          await expect(store.writeSnapshot(sampleRun("r1", { output: "old" }), 9, old)).rejects.toBeInstanceOf(LeaseLostError);

          const loaded = await store.load("r1");
          expect(loaded?.seq).toBe(2);
          expect(nodeOf(loaded!.state, "a").output).toBe("new");
          expect(nodeOf(loaded!.state, "c")).toMatchObject({ status: "succeeded", output: "C-new" });
        });

        it("refuses a holder taken over with takeover: true, and still after its successor released the lease", async () => {
          const old = await store.acquireLease("r1", request("o1", 1_000));
          await store.writeSnapshot(sampleRun("r1"), 0, old);
          const fresh = await store.acquireLease("r1", request("o2", 1_001, { takeover: true }));
          await store.append("r1", [nodeRecord(1, "b")], fresh);
          await store.releaseLease(fresh);
          await expect(store.append("r1", [nodeRecord(2, "c")], old)).rejects.toBeInstanceOf(LeaseLostError);
          await expect(store.writeSnapshot(sampleRun("r1"), 5, old)).rejects.toBeInstanceOf(LeaseLostError);
          // A third driver's lease does not let the stale one back in either.
          const third = await store.acquireLease("r1", request("o3", 1_002));
          await expect(store.append("r1", [nodeRecord(2, "c")], old)).rejects.toBeInstanceOf(LeaseLostError);
          await store.append("r1", [nodeRecord(2, "c")], third);
          expect((await store.load("r1"))?.seq).toBe(2);
        });

        it("accepts the holder's writes across renewals, and after expiry while nobody took the run", async () => {
          const lease = await store.acquireLease("r1", request("o1", 1_000, { ttlMs: 100 }));
          await store.writeSnapshot(sampleRun("r1"), 0, lease);
          const renewed = await store.renewLease(lease, 100, 1_050);
          await store.append("r1", [nodeRecord(1, "b")], lease);
          await store.append("r1", [nodeRecord(2, "c")], renewed);
          await store.writeSnapshot(sampleRun("r1"), 2, renewed);
          expect((await store.load("r1"))?.seq).toBe(2);
        });

        it("refuses the writes of a lease given back, writing nothing", async () => {
          const lease = await store.acquireLease("r1", request("o1", 1_000));
          await store.writeSnapshot(sampleRun("r1"), 0, lease);
          await store.append("r1", [nodeRecord(1, "b")], lease);
          await store.releaseLease(lease);
          const appendError = await store.append("r1", [nodeRecord(2, "c")], lease).catch((e: unknown) => e);
          expect(appendError).toBeInstanceOf(LeaseLostError);
          expect(appendError).toMatchObject({ code: "LEASE_LOST", runId: "r1", heldToken: lease.token, currentToken: 0 });
          await expect(store.writeSnapshot(sampleRun("r1", { output: "late" }), 5, lease)).rejects.toBeInstanceOf(LeaseLostError);
          const loaded = await store.load("r1");
          expect(loaded?.seq).toBe(1);
          expect(nodeOf(loaded!.state, "a").output).toEqual({ value: 1 });
          expect(nodeOf(loaded!.state, "c").status).toBe("pending");
        });

        it("fences an empty append too: a stale lease, another owner's or one given back is refused, the holder's goes through", async () => {
          const old = await store.acquireLease("r1", request("o1", 1_000, { ttlMs: 100 }));
          await store.writeSnapshot(sampleRun("r1"), 0, old);
          const fresh = await store.acquireLease("r1", request("o2", 2_000));
          await store.append("r1", [nodeRecord(1, "b")], fresh);
          const stale = await store.append("r1", [], old).catch((e: unknown) => e);
          expect(stale).toBeInstanceOf(LeaseLostError);
          expect(stale).toMatchObject({ code: "LEASE_LOST", runId: "r1", heldToken: old.token });
          await expect(store.append("r1", [], { ...fresh, owner: "o3" })).rejects.toBeInstanceOf(LeaseLostError);
          await store.append("r1", [], fresh);
          await store.releaseLease(fresh);
          await expect(store.append("r1", [], fresh)).rejects.toBeInstanceOf(LeaseLostError);
          expect((await store.load("r1"))?.seq).toBe(1);
        });

        it("refuses the writes and renewal of a holder whose run was deleted: the run stays deleted", async () => {
          // Expired by every clock, so `delete` may go ahead while its holder lives on.
          const lease = await store.acquireLease("r1", request("o1", Date.now() - 2_000, { ttlMs: 1_000 }));
          await store.writeSnapshot(sampleRun("r1"), 0, lease);
          await store.append("r1", [nodeRecord(1, "b")], lease);
          expect(await store.delete("r1")).toBe(true);
          await expect(store.append("r1", [nodeRecord(2, "c")], lease)).rejects.toMatchObject({ code: "LEASE_LOST", heldToken: lease.token });
          await expect(store.writeSnapshot(sampleRun("r1"), 2, lease)).rejects.toBeInstanceOf(LeaseLostError);
          await expect(store.renewLease(lease, 60_000, Date.now())).rejects.toBeInstanceOf(RunLockedError);
          expect(await store.load("r1")).toBeUndefined();
          expect(await store.list()).toEqual([]);
          expect(await store.readLease?.("r1")).toBeUndefined();
        });
      });

      describe("cancel requests (cancelRun, issue 18 item 3)", () => {
        it("marks the holder's lease: its next renewal returns the request, owner, token and the holder's writes unchanged", async () => {
          const lease = await store.acquireLease("r1", request("o1", 1_000));
          await store.writeSnapshot(sampleRun("r1"), 0, lease);
          expect(await store.requestCancel?.("r1", { token: lease.token, reason: "stop it", at: 1_500 })).toBe(true);
          const renewed = await store.renewLease(lease, 10_000, 2_000);
          expect(renewed).toMatchObject({ owner: "o1", token: lease.token, expiresAt: 12_000 });
          expect(renewed.cancelRequested).toEqual({ token: lease.token, reason: "stop it", at: 1_500 });
          // Still the holder: its fenced writes go through, and another owner is still refused.
          await store.append("r1", [nodeRecord(1, "b")], renewed);
          await store.writeSnapshot(sampleRun("r1", { status: "cancelled" }), 1, renewed);
          await expect(store.acquireLease("r1", request("o2", 3_000))).rejects.toBeInstanceOf(RunLockedError);
        });

        it("writes nothing for another token or a run without a lease", async () => {
          expect(await store.requestCancel?.("nobody", { token: 1, reason: "x", at: 1 })).toBe(false);
          const lease = await store.acquireLease("r1", request("o1", 1_000));
          expect(await store.requestCancel?.("r1", { token: lease.token + 1, reason: "x", at: 1 })).toBe(false);
          expect((await store.renewLease(lease, 10_000, 2_000)).cancelRequested).toBeUndefined();
        });

        it("naming an owner, reaches that owner's lease only, and keeps token, reason and time", async () => {
          const lease = await store.acquireLease("r1", request("o1", 1_000));
          expect(await store.requestCancel?.("r1", { token: lease.token, reason: "x", at: 1, owner: "o2" })).toBe(false);
          expect((await store.renewLease(lease, 10_000, 2_000)).cancelRequested).toBeUndefined();
          expect(await store.requestCancel?.("r1", { token: lease.token, reason: "y", at: 2, owner: "o1" })).toBe(true);
          expect((await store.renewLease(lease, 10_000, 3_000)).cancelRequested).toEqual({ token: lease.token, reason: "y", at: 2 });
        });

        it("never reaches a later holder: a lease granted anew carries no earlier request", async () => {
          const first = await store.acquireLease("r1", request("o1", 1_000, { ttlMs: 100 }));
          expect(await store.requestCancel?.("r1", { token: first.token, reason: "old", at: 1_050 })).toBe(true);
          const next = await store.acquireLease("r1", request("o2", 5_000));
          expect(next.token).toBeGreaterThan(first.token);
          expect(next.cancelRequested).toBeUndefined();
          expect((await store.renewLease(next, 10_000, 6_000)).cancelRequested).toBeUndefined();
          expect(await store.requestCancel?.("r1", { token: first.token, reason: "late", at: 6_001 })).toBe(false);
        });
      });

      it("keeps an expired lease nobody took over as its holder's: read, reached by a cancel, renewed, written with", async () => {
        const lease = await store.acquireLease("r1", request("o1", Date.now(), { ttlMs: 20 }));
        await store.writeSnapshot(sampleRun("r1"), 0, lease);
        // Past its expiry by the wall clock too: a store may also count a lease's time by its own server's clock (Redis).
        await new Promise((resolve) => setTimeout(resolve, 80));
        expect(await store.readLease?.("r1")).toMatchObject({ owner: "o1", token: lease.token, expiresAt: lease.expiresAt });
        expect(await store.requestCancel?.("r1", { token: lease.token, owner: "o1", reason: "late", at: 5 })).toBe(true);
        await store.append("r1", [nodeRecord(1, "b")], lease);
        const now = Date.now();
        const renewed = await store.renewLease(lease, 10_000, now);
        const cancel = { token: lease.token, reason: "late", at: 5 };
        expect(renewed).toMatchObject({ owner: "o1", token: lease.token, expiresAt: now + 10_000, cancelRequested: cancel });
        // Kept across renewals, and the run is the holder's again: nobody else takes it.
        expect((await store.renewLease(renewed, 10_000, now + 1)).cancelRequested).toEqual(cancel);
        await expect(store.acquireLease("r1", request("o2", now + 2))).rejects.toBeInstanceOf(RunLockedError);
        await store.writeSnapshot(sampleRun("r1"), 1, renewed);
        expect((await store.load("r1"))?.seq).toBe(1);
      });

      it("refuses to delete a run a live driver holds, naming it; deletes an expired holder's run with its lease", async () => {
        const live = await store.acquireLease("r1", request("o1", Date.now(), { ttlMs: 60_000 }));
        await store.writeSnapshot(sampleRun("r1"), 0, live);
        const err = await store.delete("r1").catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RunLockedError);
        expect((err as RunLockedError).holder).toMatchObject({ owner: "o1", pid: process.pid, host: HOST });
        expect((await store.load("r1"))?.seq).toBe(0);
        expect(await store.readLease?.("r1")).toMatchObject({ owner: "o1", token: live.token });

        const expired = await store.acquireLease("r2", request("o1", Date.now() - 2_000, { ttlMs: 1_000 }));
        await store.writeSnapshot(sampleRun("r2"), 0, expired);
        expect(await store.delete("r2")).toBe(true);
        expect(await store.readLease?.("r2")).toBeUndefined();
        expect((await store.list()).map((s) => s.runId)).toEqual(["r1"]);
        await expect(store.acquireLease("r2", request("o2", Date.now()))).resolves.toMatchObject({ owner: "o2" });
      });

      it("works together with the run's snapshots", async () => {
        const lease = await store.acquireLease("r1", request("o1", 1_000));
        await store.writeSnapshot(sampleRun("r1"), 0);
        await store.append("r1", [nodeRecord(1, "b")]);
        await store.renewLease(lease, 10_000, 2_000);
        expect((await store.load("r1"))?.seq).toBe(1);
        await store.releaseLease(lease);
        expect((await store.list()).map((s) => s.runId)).toEqual(["r1"]);
      });
    });
  });
}
