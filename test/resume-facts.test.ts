/**
 * A resume's reset (`resetUnfinished`, src/state/run-state.ts) keeps what
 * its one pass over the records learnt (`resumeFacts`), and three passes
 * of the resume's start take it from there instead of walking every
 * record again: the ready set's settled nodes (`ReadySet.fromState`), the
 * record buffer's later visits, and the records the journal's start
 * appends (`changedSince`). Property: under random records (every
 * status, outputs flagged not durable, later visits, map elements after
 * the graph's nodes), each answers exactly as its own pass over the same
 * records does (the same table in another object, which has no facts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { graph, type GraphBuilder } from "../src/index.js";
import { ReadySet } from "../src/engine/ready-set.js";
import { RecordBuffer } from "../src/engine/record-buffer.js";
import type { RunJournal } from "../src/engine/journal-port.js";
import { graphIndex } from "../src/graph/graph-index.js";
import { changedSince } from "../src/persistence/base-diff.js";
import { createRunState, resetUnfinished, resumeFacts, type RunState } from "../src/state/run-state.js";
import { createNodeTable, type NodeTable } from "../src/state/node-table.js";
import { NODE_STATUSES } from "../src/state/status.js";
import type { NodeRecord } from "../src/state/records.js";

type LooseBuilder = GraphBuilder<undefined, Record<string, unknown>, never>;

const meta = createRunState({ runId: "r", graphName: "g", fingerprint: "f", inputs: {}, nodeIds: [], now: 0 }).meta;

/** Per graph node: its dependencies (earlier nodes), status, durability, a later visit's number; then map elements. */
const runs = fc
  .integer({ min: 1, max: 14 })
  .chain((n) =>
    fc.tuple(
      fc.constant(n),
      fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: n, maxLength: n }),
      fc.array(
        fc.tuple(fc.constantFrom(...NODE_STATUSES), fc.option(fc.boolean(), { nil: undefined }), fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined })),
        { minLength: n, maxLength: n },
      ),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom(...NODE_STATUSES)), { maxLength: 4 }),
    ),
  );

/** The same table in another object: it has no facts, so each pass walks its records. */
const without = (table: NodeTable): NodeTable => ({ ...table });

const journal: RunJournal = { put: () => undefined, revise: () => undefined, barrier: () => Promise.resolve() };

describe("a resume's reset facts", () => {
  it("give the ready set, the record buffer and the journal's start what their own passes over the records give", () => {
    fc.assert(
      fc.property(runs, ([n, rawDeps, specs, elements]) => {
        const ids = Array.from({ length: n }, (_, i) => `v${i}`);
        let b = graph(`g${n}`) as unknown as LooseBuilder;
        for (let i = 0; i < n; i++) {
          const deps = i === 0 ? [] : [...new Set(rawDeps[i]!.map((d) => ids[d % i]!))];
          b = b.node(ids[i]!, () => i, deps.length > 0 ? { after: deps as never } : undefined);
        }
        const g = b.build();
        const byId = new Map<string, NodeRecord>();
        specs.forEach(([status, durable, visit], i) =>
          byId.set(ids[i]!, {
            id: ids[i]!,
            nodeId: ids[i]!,
            status,
            attempts: 1,
            ...(status === "succeeded" && { output: i }),
            ...(durable !== undefined && { durable }),
            ...(visit !== undefined && { visit }),
          }),
        );
        // In the graph's order (topological), as a run made from the graph holds them.
        const records = g.order.map((id) => byId.get(id)!);
        // Map elements after the graph's nodes, as a stored run holds them (their ids are not the graph's).
        elements.forEach(([k, status], e) => records.push({ id: `${ids[k % n]!}[${e}]`, nodeId: ids[k % n]!, status, attempts: 1, output: e }));
        // Indexed by the graph's own map of positions, as a load with the graph's layout makes it.
        const loaded: RunState = { meta, nodes: createNodeTable(records, graphIndex(g).position) };
        const { state: reset } = resetUnfinished(loaded, 7);
        expect(resumeFacts(reset.nodes)).toBeDefined();
        const plain: RunState = { ...reset, nodes: without(reset.nodes) };
        expect(resumeFacts(plain.nodes)).toBeUndefined();

        const fast = ReadySet.fromState(g, reset);
        const slow = ReadySet.fromState(g, plain);
        expect(fast.ready).toEqual(slow.ready);
        expect(fast.readySet.unsettled).toBe(slow.readySet.unsettled);
        for (const id of ids) expect(fast.readySet.isUnsettled(id)).toBe(slow.readySet.isUnsettled(id));

        expect(changedSince(reset.nodes, loaded.nodes)).toEqual(changedSince(plain.nodes, loaded.nodes));
        // Against another base than the one reset from, the facts say nothing.
        expect(changedSince(reset.nodes, without(loaded.nodes))).toEqual(changedSince(plain.nodes, without(loaded.nodes)));

        const fastBuffer = new RecordBuffer(reset, journal, () => 0);
        const slowBuffer = new RecordBuffer(plain, journal, () => 0);
        for (const id of ids) expect(fastBuffer.output(id)).toBe(slowBuffer.output(id));
      }),
      { numRuns: 800 },
    );
  });
});
