/**
 * The topological order of `validateGraph` (graph/validate-graph.ts), now
 * computed over flat integer arrays, against the maps-by-id version of
 * Kahn's algorithm it replaced, on random graphs (acyclic and not, nodes
 * listed in any order): the same order, the same cycle problem, and a
 * `position` map that gives each id its place in the order.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { NodeDefinition } from "../src/graph/definition.js";
import { GraphDefinitionError } from "../src/graph/errors.js";
import { validateGraph } from "../src/graph/validate-graph.js";

/** The previous implementation: maps by id, roots first in the nodes' order, dependents in the nodes' order. */
function referenceOrder(nodes: readonly NodeDefinition[]): { order: string[]; onCycle: string[] } {
  const indegree = new Map<string, number>();
  const successors = new Map<string, string[]>();
  for (const n of nodes) indegree.set(n.id, n.after.length);
  for (const n of nodes) {
    for (const dep of n.after) {
      const list = successors.get(dep);
      if (list) list.push(n.id);
      else successors.set(dep, [n.id]);
    }
  }
  const order = nodes.filter((n) => n.after.length === 0).map((n) => n.id);
  for (let i = 0; i < order.length; i++) {
    for (const s of successors.get(order[i]!) ?? []) {
      const d = (indegree.get(s) ?? 0) - 1;
      indegree.set(s, d);
      if (d === 0) order.push(s);
    }
  }
  return { order, onCycle: nodes.filter((n) => (indegree.get(n.id) ?? 0) > 0).map((n) => n.id) };
}

const noop = (): null => null;

/** Random graphs: each node depends on a few distinct others (back edges only when `acyclic`), listed in a shuffled order. */
const graphs = fc
  .record({
    size: fc.integer({ min: 1, max: 25 }),
    edges: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 60 }),
    acyclic: fc.boolean(),
    shuffle: fc.array(fc.nat(), { maxLength: 25 }),
  })
  .map(({ size, edges, acyclic, shuffle }) => {
    const after: string[][] = Array.from({ length: size }, () => []);
    for (const [a, b] of edges) {
      const from = a % size;
      const to = b % size;
      if (from === to || (acyclic && to >= from)) continue;
      if (!after[from]!.includes(`v${to}`)) after[from]!.push(`v${to}`);
    }
    const nodes: NodeDefinition[] = after.map((deps, i) => ({ id: `v${i}`, fn: noop, after: deps }));
    for (let i = 0; i < shuffle.length && i < size; i++) {
      const j = shuffle[i]! % size;
      [nodes[i], nodes[j]] = [nodes[j]!, nodes[i]!];
    }
    return nodes;
  });

describe("validateGraph's order", () => {
  it("is the order of Kahn's algorithm over maps by id, with each id's position", () => {
    fc.assert(
      fc.property(graphs, (nodes) => {
        const expected = referenceOrder(nodes);
        if (expected.onCycle.length > 0) {
          let error: unknown;
          try {
            validateGraph("g", nodes, undefined);
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(GraphDefinitionError);
          const cycle = expected.onCycle.slice(0, 10).map((id) => `"${id}"`);
          expect((error as GraphDefinitionError).message).toContain(`it has a cycle through ${cycle.join(", ")}`);
          return;
        }
        const { order, position } = validateGraph("g", nodes, undefined);
        expect(order).toEqual(expected.order);
        expect([...position].sort((a, b) => a[1] - b[1])).toEqual(order.map((id, p) => [id, p]));
      }),
      { numRuns: 300 },
    );
  });

  it("keeps a fan-out listed in order as it is (the position map is validation's own)", () => {
    const nodes: NodeDefinition[] = [
      { id: "root", fn: noop, after: [] },
      { id: "a", fn: noop, after: ["root"] },
      { id: "b", fn: noop, after: ["root"] },
      { id: "join", fn: noop, after: ["a", "b"] },
    ];
    const { order, position } = validateGraph("g", nodes, undefined);
    expect(order).toEqual(["root", "a", "b", "join"]);
    expect([...position]).toEqual([
      ["root", 0],
      ["a", 1],
      ["b", 2],
      ["join", 3],
    ]);
  });
});
