/**
 * The index of a run's node table (state/node-table.ts) when a new run
 * shares its graph's map of node positions: the run builds no map of its
 * own, the graph's map is never changed by activations appended to the
 * run (graphFn steps, map elements), and two runs of one graph each see
 * their own appended activations and not the other's. Checked against a
 * naive model (a map per run) on random sequences of appends and commits.
 * And a commit given the records' positions (the record buffer's) looks
 * no id up, and lays the records where a commit by id would.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { graph } from "../src/index.js";
import { graphIndex } from "../src/graph/graph-index.js";
import { getNode, nodeRecords } from "../src/state/node-table.js";
import type { NodeRecord } from "../src/state/records.js";
import { appendNodes, commitNodes, createRunState, type RunState } from "../src/state/run-state.js";

/** A map that counts its reads, to tell whether a table reads it or a copy. */
class CountingMap extends Map<string, number> {
  reads = 0;
  override get(key: string): number | undefined {
    this.reads += 1;
    return super.get(key);
  }
}

function newRun(runId: string, ids: readonly string[], positions?: ReadonlyMap<string, number>): RunState {
  return createRunState({ runId, graphName: "g", fingerprint: "f", inputs: undefined, nodeIds: ids, positions, now: 0 });
}

const pending = (id: string): NodeRecord => ({ id, nodeId: id, status: "pending", attempts: 0 });

describe("a new run's node index", () => {
  it("is the graph's own map of positions, read in place", () => {
    const ids = ["a", "b", "c"];
    const positions = new CountingMap(ids.map((id, p) => [id, p]));
    const state = newRun("r", ids, positions);
    expect(state.nodes.index.get("b")).toBe(1);
    expect(positions.reads).toBe(1);
    expect(getNode(state.nodes, "c")?.id).toBe("c");
    expect(positions.reads).toBe(2);
  });

  it("builds a map of its own when the positions do not cover the ids", () => {
    const positions = new CountingMap([["a", 0]]);
    const state = newRun("r", ["a", "b"], positions);
    expect(state.nodes.index.get("b")).toBe(1);
    expect(positions.reads).toBe(0);
  });

  it("is what the runner gives a run of a built graph", () => {
    const g = graph("g")
      .node("a", () => 1)
      .node("b", () => 2, { after: ["a"] })
      .build();
    const { position } = graphIndex(g);
    const state = newRun("r", g.order, position);
    expect([...state.nodes.index]).toEqual([...position]);
  });

  it("keeps each run's appended activations to itself and never changes the graph's map", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.array(fc.record({ run: fc.integer({ min: 0, max: 1 }), count: fc.integer({ min: 0, max: 4 }), commit: fc.boolean() }), { maxLength: 20 }),
        (n, steps) => {
          const ids = Array.from({ length: n }, (_, i) => `n${i}`);
          const positions = new Map(ids.map((id, p) => [id, p]));
          const before = [...positions];
          const runs = [newRun("r0", ids, positions), newRun("r1", ids, positions)];
          const models = [new Map(positions), new Map(positions)];
          let next = 0;
          for (const step of steps) {
            const records = Array.from({ length: step.count }, () => pending(`x${next++}`));
            const model = models[step.run]!;
            for (const r of records) model.set(r.id, model.size);
            let state = appendNodes(runs[step.run]!, records);
            if (step.commit && records.length > 0) state = commitNodes(state, [{ ...records[0]!, status: "ready" }], 1);
            runs[step.run] = state;
          }
          expect([...positions]).toEqual(before);
          for (let r = 0; r < 2; r++) {
            const index = runs[r]!.nodes.index;
            const model = models[r]!;
            expect(index.size).toBe(model.size);
            expect([...index]).toEqual([...model]);
            for (const [id, p] of model) {
              expect(index.get(id)).toBe(p);
              expect(index.has(id)).toBe(true);
              expect(getNode(runs[r]!.nodes, id)?.id).toBe(id);
            }
            expect(index.get(`x${next}`)).toBeUndefined();
            expect([...nodeRecords(runs[r]!.nodes)].map((rec) => rec.id)).toEqual([...model.keys()]);
            const other = models[1 - r]!;
            for (const id of other.keys()) if (!model.has(id)) expect(index.has(id)).toBe(false);
          }
        },
      ),
    );
  });
});

describe("commitNodes with positions", () => {
  it("looks no id up and lays each record where a commit by id does", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.array(fc.nat(), { maxLength: 40 }), (n, picks) => {
        const ids = Array.from({ length: n }, (_, i) => `n${i}`);
        const positions = new CountingMap(ids.map((id, p) => [id, p]));
        const state = newRun("r", ids, positions);
        const at = [...new Set(picks.map((k) => k % n))];
        const records = at.map((p): NodeRecord => ({ id: ids[p]!, nodeId: ids[p]!, status: "ready", attempts: p }));
        const byId = commitNodes(state, records, 5);
        positions.reads = 0;
        const byPosition = commitNodes(state, records, 5, at);
        expect(positions.reads).toBe(0);
        expect([...nodeRecords(byPosition.nodes)]).toEqual([...nodeRecords(byId.nodes)]);
        expect(byPosition.meta).toEqual(byId.meta);
        // The state committed to is unchanged.
        expect([...nodeRecords(state.nodes)].every((r) => r.status === "pending")).toBe(true);
      }),
    );
  });
});
