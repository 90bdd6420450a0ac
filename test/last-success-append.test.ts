/**
 * The last activation of a run that succeeds with nothing left to start is
 * saved by the run's end, in the same append as the run meta, not by a
 * write of its own first (run-loop.ts: its record is not urgent when it is
 * the last one outstanding; frontier.ts: a routed node that starts nothing
 * waits for no barrier). A stage runner's task pays one append fewer: its
 * final stage and the run's end are one write.
 *
 * What must hold meanwhile: every other success that something waits for is
 * still saved before that starts (each stage's move is its own append,
 * before the next stage runs), and what a fresh load of the store sees
 * equals the run's own end state. The crash between the last success and
 * the end's append is a crash before a write: the last node runs again on
 * resume (`crash-resume.test.ts`, `stages-move-crash.test.ts`).
 */
import { describe, expect, it } from "vitest";
import { getRun, graph, MemoryStore, route, runAsync, type JournalRecord } from "../src/index.js";
import { noOpStageRunner } from "../bench/stage-workflow.js";

/** A MemoryStore that keeps every append's records, in order. */
function countingStore(): { store: MemoryStore; appends: JournalRecord[][] } {
  const store = new MemoryStore();
  const appends: JournalRecord[][] = [];
  const append = store.append.bind(store);
  store.append = (runId, records, lease, counts) => {
    appends.push([...records]);
    return append(runId, records, lease, counts);
  };
  return { store, appends };
}

/** What one append holds: `node:<id>` per node record, `run:<status>` for the run meta. */
function shape(records: readonly JournalRecord[]): string[] {
  return records.map((r) => (r.kind === "node" ? `node:${r.node.id}` : `run:${r.run.status}`));
}

describe("the last success of a run is saved with the run's end", () => {
  it("a one-node run: one append, the node's record then the run's", async () => {
    const { store, appends } = countingStore();
    const g = graph("one")
      .node("only", () => 7)
      .build();
    await runAsync(g, undefined, { store, runId: "one" });
    expect(appends.map(shape)).toEqual([["node:only", "run:succeeded"]]);
    expect((await getRun("one", { store })).status).toBe("succeeded");
  });

  it("a chain: each success a dependent waits for is its own write, before the dependent starts; the last goes with the end", async () => {
    const { store, appends } = countingStore();
    const startedAfter: number[] = [];
    const g = graph("chain")
      .node("a", () => 1)
      .node(
        "b",
        ({ deps }) => {
          startedAfter.push(appends.length);
          return deps.a + 1;
        },
        { after: ["a"] },
      )
      .node(
        "c",
        ({ deps }) => {
          startedAfter.push(appends.length);
          return deps.b + 1;
        },
        { after: ["b"] },
      )
      .build();
    await runAsync(g, undefined, { store, runId: "chain" });
    expect(appends.map(shape)).toEqual([["node:a"], ["node:b"], ["node:c", "run:succeeded"]]);
    // b started once a's append was made, c once b's was.
    expect(startedAfter).toEqual([1, 2]);
  });

  it("a routed graph whose last node starts nothing (it rules a branch out): the route's node and the skip go with the end", async () => {
    const { store, appends } = countingStore();
    const g = graph("routed")
      .node("pick", () => route("left", 1), { routes: { left: "left", right: "right" } })
      .node("left", () => "L")
      .node("right", () => "R")
      .build();
    await runAsync(g, undefined, { store, runId: "routed" });
    const last = appends.at(-1)!;
    expect(shape(last)).toContain("node:left");
    expect(shape(last).at(-1)).toBe("run:succeeded");
    // pick's success is saved before left starts: an append of its own.
    expect(shape(appends[0]!)).toEqual(["node:pick"]);
    const details = await getRun("routed", { store });
    expect(details.status).toBe("succeeded");
  });

  it("a stage runner's task: the entry, each move, then the final stage with the run's end (four appends)", async () => {
    const { store, appends } = countingStore();
    const runner = noOpStageRunner(store);
    const report = await runner.runAsync({ tasks: [{ id: "t1", data: {} }], runId: "r" });
    expect(report.completed).toBe(1);
    expect(report.moves).toEqual({ first: 1, second: 1 });
    expect(appends.map(shape)).toEqual([["node:$enter"], ["node:first"], ["node:second"], ["node:complete", "run:succeeded"]]);
  });
});
