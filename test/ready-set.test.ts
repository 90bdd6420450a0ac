/**
 * The ready set (engine/ready-set.ts) against a naive model on random
 * graphs: from a state where some nodes already settled (a resume), it
 * lists the nodes whose dependencies all settled, in topological order,
 * and each settle returns exactly the nodes it made ready. Pins the
 * position-indexed counts (and the index shared by runs of one graph, which
 * the graph builds: graph/graph-index.ts, pinned by graph-index.test.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { graph, type GraphBuilder } from "../src/index.js";
import { ReadySet } from "../src/engine/ready-set.js";
import { createRunState } from "../src/state/run-state.js";
import { createNodeTable } from "../src/state/node-table.js";
import type { NodeRecord } from "../src/state/records.js";

type LooseBuilder = GraphBuilder<undefined, Record<string, unknown>, never>;

/** A random DAG: node i may depend on any earlier node (repeats dropped). */
const dags = fc
  .integer({ min: 1, max: 12 })
  .chain((n) =>
    fc.tuple(
      fc.constant(n),
      fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: n, maxLength: n }),
      fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      fc.array(fc.nat(), { minLength: n, maxLength: n }),
    ),
  );

describe("ReadySet", () => {
  it("agrees with a naive model on random graphs, resumed states and settle orders", () => {
    fc.assert(
      fc.property(dags, ([n, rawDeps, settledFlags, picks]) => {
        const ids = Array.from({ length: n }, (_, i) => `v${i}`);
        const deps = rawDeps.map((ds, i) => (i === 0 ? [] : [...new Set(ds.map((d) => ids[d % i]!))]));
        let b = graph(`dag${n}`) as unknown as LooseBuilder;
        for (let i = 0; i < n; i++) b = b.node(ids[i]!, () => i, deps[i]!.length > 0 ? { after: deps[i] as never } : undefined);
        const g = b.build();
        // Settled nodes of a resumed run: any subset closed under dependencies (a node settles only after its after list).
        const settled = new Set<string>();
        for (let i = 0; i < n; i++) if (settledFlags[i] && deps[i]!.every((d) => settled.has(d))) settled.add(ids[i]!);
        const base = createRunState({ runId: "r", graphName: g.name, fingerprint: g.fingerprint, inputs: undefined, nodeIds: g.order, now: 0 });
        const records: NodeRecord[] = g.order.map((id) => ({ id, nodeId: id, status: settled.has(id) ? "succeeded" : "pending", attempts: 0 }));
        const state = { ...base, nodes: createNodeTable(records) };
        const depsOf = new Map(ids.map((id, i) => [id, deps[i]!]));
        const readyNow = (done: Set<string>, started: Set<string>): string[] =>
          g.order.filter((id) => !done.has(id) && !started.has(id) && depsOf.get(id)!.every((d) => done.has(d)));

        // Twice: the second run of the graph uses the index the first one built.
        for (let round = 0; round < 2; round++) {
          const { readySet, ready: readyAt } = ReadySet.fromState(g, state);
          // What the set says is graph positions.
          const ready = readyAt.map((p) => g.order[p]!);
          const done = new Set(settled);
          const started = new Set<string>();
          expect(ready).toEqual(readyNow(done, started));
          expect(readySet.unsettled).toBe(n - settled.size);
          let queue = [...ready];
          for (const id of ready) started.add(id);
          let step = 0;
          while (queue.length > 0) {
            const id = queue.splice(picks[step++ % n]! % queue.length, 1)[0]!;
            expect(readySet.isUnsettled(id)).toBe(true);
            const before = new Set(readyNow(done, started));
            done.add(id);
            // Told the node's position, a wrong one (another node's: looked up instead), or none.
            const at = g.order.indexOf(id);
            const hint = step % 3 === 0 ? at : step % 3 === 1 ? (at + 1) % n : -1;
            const unblocked = readySet.settle(id, hint).map((p) => g.order[p]!);
            const expected = readyNow(done, started).filter((x) => !before.has(x));
            expect([...unblocked].sort()).toEqual(expected.sort());
            expect(readySet.isUnsettled(id)).toBe(false);
            // Settling again, or an id outside the graph, unblocks nothing.
            expect(readySet.settle(id)).toEqual([]);
            expect(readySet.settle(id, at)).toEqual([]);
            expect(readySet.settle("not-a-node")).toEqual([]);
            for (const x of unblocked) started.add(x);
            queue = [...queue, ...unblocked];
          }
          expect(readySet.unsettled).toBe(0);
          expect(done.size).toBe(n);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("builds the same set from a state whose records are out of graph order, with records of activations that are no graph node", () => {
    fc.assert(
      fc.property(dags, fc.array(fc.nat(), { minLength: 12, maxLength: 12 }), ([n, rawDeps, settledFlags], keys) => {
        const ids = Array.from({ length: n }, (_, i) => `v${i}`);
        const deps = rawDeps.map((ds, i) => (i === 0 ? [] : [...new Set(ds.map((d) => ids[d % i]!))]));
        let b = graph(`dag${n}`) as unknown as LooseBuilder;
        for (let i = 0; i < n; i++) b = b.node(ids[i]!, () => i, deps[i]!.length > 0 ? { after: deps[i] as never } : undefined);
        const g = b.build();
        const settled = new Set<string>();
        for (let i = 0; i < n; i++) if (settledFlags[i] && deps[i]!.every((d) => settled.has(d))) settled.add(ids[i]!);
        const base = createRunState({ runId: "r", graphName: g.name, fingerprint: g.fingerprint, inputs: undefined, nodeIds: g.order, now: 0 });
        const record = (id: string, status: NodeRecord["status"]): NodeRecord => ({ id, nodeId: id.split("[")[0]!, status, attempts: 0 });
        const aligned = g.order.map((id) => record(id, settled.has(id) ? "succeeded" : "pending"));
        // Settled map elements of every node, then the records shuffled: no record at its graph position but by chance.
        const extra = g.order.map((id) => record(`${id}[0]`, "succeeded"));
        const shuffled = [...aligned, ...extra]
          .map((r, i) => ({ r, key: keys[i % keys.length]! * 31 + i }))
          .sort((x, y) => x.key - y.key)
          .map((x) => x.r);
        const one = ReadySet.fromState(g, { ...base, nodes: createNodeTable(aligned) });
        const other = ReadySet.fromState(g, { ...base, nodes: createNodeTable(shuffled) });
        expect(other.ready).toEqual(one.ready);
        expect(other.readySet.unsettled).toBe(n - settled.size);
        for (const id of g.order) expect(other.readySet.isUnsettled(id)).toBe(one.readySet.isUnsettled(id));
      }),
      { numRuns: 300 },
    );
  });
});
