/**
 * A node the ready set dispatches gets its ready record only when someone
 * reads (RecordBuffer.readyAt, issue 16 target 6): whoever reads the run
 * mid-run (the scheduler's `state`, which the persistence observer's
 * snapshots read too, and its `record`) still sees every dispatched node
 * that has not started as `ready`, and a node that has started or
 * finished as such.
 */
import { describe, expect, it } from "vitest";
import { ForwardScheduler, graph, type GraphBuilder, type NodeRecord, type RunJournal } from "../src/index.js";
import { systemClock } from "../src/core/clock.js";
import { RunEvents } from "../src/events/run-events.js";
import { nodeRecords } from "../src/state/node-table.js";
import { createRunState } from "../src/state/run-state.js";

type LooseBuilder = GraphBuilder<undefined, Record<string, unknown>, never>;

describe("ready nodes seen mid-run", () => {
  it("read as ready through the scheduler's state and record until they start", async () => {
    const seen: Record<string, string>[] = [];
    const records: (NodeRecord | undefined)[] = [];
    const look = (): void => {
      seen.push(Object.fromEntries([...nodeRecords(engine.state.nodes)].map((r) => [r.id, r.status])));
    };
    let b = (graph("fan") as unknown as LooseBuilder).node("root", () => 0);
    for (const id of ["a", "b", "c"]) {
      b = b.node(
        id,
        () => {
          // Read by record() first (no state read in between), then the whole state.
          records.push(engine.record("c"));
          look();
          return id;
        },
        { after: ["root"] as never },
      );
    }
    const g = b.build();
    const state = createRunState({ runId: "r", graphName: g.name, fingerprint: g.fingerprint, inputs: undefined, nodeIds: g.order, now: 0 });
    const journaled: NodeRecord[] = [];
    const journal: RunJournal = { put: (r) => void journaled.push(r), revise: (r) => void journaled.push(r), barrier: () => Promise.resolve() };
    const engine: ForwardScheduler = new ForwardScheduler(g, state, undefined, journal, new RunEvents(), {
      maxConcurrency: 1,
      continueOnError: false,
      clock: systemClock,
      random: Math.random,
    });
    expect((await engine.execute()).status).toBe("succeeded");
    expect(records.map((r) => r?.status)).toEqual(["ready", "ready", "running"]);
    expect(seen).toEqual([
      { root: "succeeded", a: "running", b: "ready", c: "ready" },
      { root: "succeeded", a: "succeeded", b: "running", c: "ready" },
      { root: "succeeded", a: "succeeded", b: "succeeded", c: "running" },
    ]);
    expect([...nodeRecords(engine.state.nodes)].map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
  });
});
