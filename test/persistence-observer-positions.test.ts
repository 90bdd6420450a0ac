/**
 * A resumed run's start and end writes (persistence/persistence-observer.ts,
 * `start` and `finish`) decided position by position: the loaded state and
 * every later one share one id index, so `#changedSince` and `#finalTail`
 * compare the two tables slot by slot and look up only the records pending
 * or appended. These cases pin that they decide as the by-id comparison
 * did (a table with an index of its own still takes that one): an append
 * of exactly the changed records in position order when the store replays
 * to the current state, a full snapshot whenever a record changed that no
 * write covers, a pending record is not the current one, or the index grew.
 */
import { describe, expect, it } from "vitest";
import { PersistenceObserver } from "../src/persistence/persistence-observer.js";
import type { RunStore } from "../src/persistence/run-store.js";
import { RunEvents } from "../src/events/run-events.js";
import { systemClock } from "../src/core/clock.js";
import { appendNodes, commitNodes, createRunState, stateFromRecords, type RunState } from "../src/state/run-state.js";
import { nodeRecords } from "../src/state/node-table.js";
import type { JournalRecord, NodeRecord } from "../src/state/records.js";
import type { NodeCounts } from "../src/state/run-summary.js";

const N = 100; // seven shards of 16; every tenth node failed
const FAILED = Array.from({ length: N / 10 }, (_, i) => `n${i * 10}`);
const meta = createRunState({ runId: "r", graphName: "g", fingerprint: "f", inputs: {}, nodeIds: [], now: 0 }).meta;
const loadedRecords = (): NodeRecord[] =>
  Array.from({ length: N }, (_, i) =>
    i % 10 === 0
      ? { id: `n${i}`, nodeId: `n${i}`, status: "failed", attempts: 1 }
      : { id: `n${i}`, nodeId: `n${i}`, status: "succeeded", attempts: 1, output: i },
  );
const pending = (id: string): NodeRecord => ({ id, nodeId: id, status: "pending", attempts: 0 });
const done = (id: string): NodeRecord => ({ id, nodeId: id, status: "succeeded", attempts: 1, output: id });

type Write = { kind: "append"; ids: string[]; counts: NodeCounts | undefined } | { kind: "snapshot" };

/** An observer over a store that only records its writes; `state` is what getState returns. */
function observe(loaded: RunState) {
  const writes: Write[] = [];
  const store = {
    append: async (_runId: string, records: readonly JournalRecord[], _lease: unknown, counts?: NodeCounts) => {
      writes.push({ kind: "append", ids: records.map((r) => (r.kind === "node" ? r.node.id : `<${r.kind}>`)), counts });
    },
    writeSnapshot: async () => {
      writes.push({ kind: "snapshot" });
    },
  } as unknown as RunStore;
  const box = { state: loaded };
  const observer = new PersistenceObserver({
    store,
    runId: "r",
    policy: "group",
    clock: systemClock,
    events: new RunEvents(),
    getState: () => box.state,
    seq: 5,
    nodeCount: N,
  });
  return { observer, writes, box };
}

/** A resume as the runner makes it: the failed nodes reset, then started against the loaded state. */
async function resumed() {
  const loaded = stateFromRecords(meta, loadedRecords());
  const failed = [...nodeRecords(loaded.nodes)].filter((n) => n.status === "failed").map((n) => pending(n.id));
  const o = observe(loaded);
  o.box.state = commitNodes(loaded, failed);
  await o.observer.start(loaded);
  return { ...o, loaded };
}

/** Settles the reset nodes through the observer, as the engine does. */
async function settleAll(o: Awaited<ReturnType<typeof resumed>>): Promise<void> {
  for (const id of FAILED) {
    const record = done(id);
    o.box.state = commitNodes(o.box.state, [record]);
    o.observer.put(record);
  }
  await o.observer.barrier();
}

describe("a resume's start and end writes, compared by position", () => {
  it("start appends the reset records in position order and the run meta", async () => {
    const o = await resumed();
    expect(o.writes).toEqual([{ kind: "append", ids: [...FAILED, "<run>"], counts: undefined }]);
  });

  it("finish appends the pending records and the run meta, with the final counts", async () => {
    const o = await resumed();
    await settleAll(o);
    const last = done("n20");
    o.box.state = commitNodes(o.box.state, [last]);
    o.observer.put(last, false);
    await o.observer.finish();
    expect(o.writes.at(-1)).toEqual({
      kind: "append",
      ids: ["n20", "<run>"],
      counts: { nodeCount: N, settledCount: N, succeededCount: N, failedCount: 0 },
    });
  });

  it("finish writes a snapshot when a record changed that was never put", async () => {
    const o = await resumed();
    await settleAll(o);
    o.box.state = commitNodes(o.box.state, [{ ...done("n7"), output: "changed" }]);
    await o.observer.finish();
    expect(o.writes.at(-1)).toEqual({ kind: "snapshot" });
  });

  it("finish writes a snapshot when a record appended earlier is no longer the current one", async () => {
    const o = await resumed();
    await settleAll(o);
    o.box.state = commitNodes(o.box.state, [{ ...done("n10"), output: "again" }]);
    await o.observer.finish();
    expect(o.writes.at(-1)).toEqual({ kind: "snapshot" });
  });

  it("finish writes a snapshot when a pending record is not the current one (the state went back to the loaded record)", async () => {
    const o = await resumed();
    await settleAll(o);
    o.observer.put(done("n3"), false);
    await o.observer.finish();
    expect(o.writes.at(-1)).toEqual({ kind: "snapshot" });
  });

  it("start and finish write snapshots once the shared index grew (an activation the loaded state lacks)", async () => {
    const o = await resumed();
    await settleAll(o);
    o.box.state = appendNodes(o.box.state, [done("step#1")]);
    await o.observer.finish();
    expect(o.writes.at(-1)).toEqual({ kind: "snapshot" });

    const loaded = stateFromRecords(meta, loadedRecords());
    const grown = observe(loaded);
    grown.box.state = appendNodes(loaded, [done("step#1")]);
    await grown.observer.start(loaded);
    expect(grown.writes).toEqual([{ kind: "snapshot" }]);
  });

  it("a current table with an index of its own is compared by id, with the same outcome", async () => {
    const loaded = stateFromRecords(meta, loadedRecords());
    const o = observe(loaded);
    // Same records, a table of its own: nothing changed, so only the run meta is appended.
    o.box.state = stateFromRecords(meta, [...nodeRecords(loaded.nodes)]);
    await o.observer.start(loaded);
    expect(o.writes).toEqual([{ kind: "append", ids: ["<run>"], counts: undefined }]);
    const record = done("n0");
    o.box.state = stateFromRecords(meta, [...nodeRecords(commitNodes(o.box.state, [record]).nodes)]);
    o.observer.put(record);
    await o.observer.barrier();
    await o.observer.finish();
    expect(o.writes.at(-1)).toEqual({
      kind: "append",
      ids: ["<run>"],
      counts: { nodeCount: N, settledCount: N - 9, succeededCount: N - 9, failedCount: 9 },
    });
  });
});
