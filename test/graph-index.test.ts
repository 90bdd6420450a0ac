/**
 * The graph index (graph/graph-index.ts) a `TaskGraph` builds with its
 * tables, against a naive model on random graphs whose nodes are given in a
 * random order (so the order given and the topological `order` differ):
 * each id's position, each position's successors (as positions, in the
 * graph's successor order), dependency count and `after` entries (as
 * positions, in the `after` order). Also pins what the
 * position-indexed tables keep of the graph's own answers: `node`,
 * `successors` (dependents in the order the nodes were given) and `size`,
 * and that the index built on demand for a graph-like object agrees.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { graphIndex, type GraphIndex } from "../src/graph/graph-index.js";
import { TaskGraph } from "../src/graph/task-graph.js";
import type { NodeDefinition } from "../src/graph/definition.js";

/** A random DAG (node i may depend on earlier nodes), its nodes given in a shuffled order. */
const shuffledDags = fc
  .integer({ min: 1, max: 14 })
  .chain((n) =>
    fc.tuple(
      fc.constant(n),
      fc.array(fc.array(fc.nat(), { maxLength: 4 }), { minLength: n, maxLength: n }),
      fc.array(fc.nat(), { minLength: n, maxLength: n }),
    ),
  );

function plain(index: GraphIndex) {
  return {
    position: [...index.position],
    nodes: [...index.nodes],
    successorsFrom: [...index.successorsFrom],
    successors: [...index.successors],
    dependencies: [...index.dependencies],
    predecessorsFrom: [...index.predecessorsFrom],
    predecessors: [...index.predecessors],
  };
}

describe("graph index", () => {
  it("agrees with a naive model of positions, successors and dependency counts", () => {
    fc.assert(
      fc.property(shuffledDags, ([n, rawDeps, keys]) => {
        const ids = Array.from({ length: n }, (_, i) => `v${i}`);
        const deps = rawDeps.map((ds, i) => (i === 0 ? [] : [...new Set(ds.map((d) => ids[d % i]!))]));
        const given: NodeDefinition[] = ids
          .map((id, i) => ({ id, after: deps[i]!, fn: () => i }))
          .map((node, i) => ({ node, key: keys[i]! * 16 + i }))
          .sort((x, y) => x.key - y.key)
          .map((x) => x.node);
        const g = new TaskGraph({ name: `dag${n}`, nodes: given });
        const index = graphIndex(g);

        expect(g.size).toBe(n);
        expect(new Set(g.order)).toEqual(new Set(ids));
        for (const id of ids) expect(g.node(id)?.id).toBe(id);
        expect(g.node("not-a-node")).toBeUndefined();
        expect(g.successors("not-a-node")).toEqual([]);

        for (let p = 0; p < n; p++) {
          const id = g.order[p]!;
          expect(index.position.get(id)).toBe(p);
          // The node at each position, the graph's own object (what an attempt queued with its position runs).
          expect(index.nodes[p]).toBe(g.node(id));
          // Dependents in the order the nodes were given.
          const dependents = given.filter((d) => d.after.includes(id)).map((d) => d.id);
          expect(g.successors(id)).toEqual(dependents);
          expect([...index.successors.subarray(index.successorsFrom[p], index.successorsFrom[p + 1])]).toEqual(dependents.map((d) => g.order.indexOf(d)));
          const after = given.find((d) => d.id === id)!.after;
          expect(index.dependencies[p]).toBe(after.length);
          // The after entries as positions, in the after order.
          expect([...index.predecessors.subarray(index.predecessorsFrom[p], index.predecessorsFrom[p + 1])]).toEqual(after.map((d) => g.order.indexOf(d)));
          // Topological: every dependency sits before the node.
          for (const d of g.node(id)!.after) expect(index.position.get(d)!).toBeLessThan(p);
        }
        expect(index.successorsFrom[n]).toBe(index.successors.length);
        expect(index.predecessorsFrom[n]).toBe(index.predecessors.length);
        // The same graph answers with the same index (built once), and a graph-like object gets an equal one built on demand.
        expect(graphIndex(g)).toBe(index);
        const like = { order: g.order, node: (id: string) => g.node(id), successors: (id: string) => g.successors(id) };
        expect(plain(graphIndex(like))).toEqual(plain(index));
      }),
      { numRuns: 300 },
    );
  });
});
