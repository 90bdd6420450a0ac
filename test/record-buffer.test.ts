/**
 * The record buffer (engine/record-buffer.ts), which keeps changes by
 * position in the state's table, against a naive model (a map of latest
 * records by id) on random sequences of changes, journaled transitions
 * (each by id, or told a position: the record's, another's, one past the
 * end or none), appended activations and commits: `get`, `output`, `outputAt` (right,
 * wrong and out-of-range positions; `outputsAt`, its loop over a wide
 * join's dependencies, reads as it does) and the committed state agree with the
 * model at every step, and the journal sees every change as it is made.
 * `readyAt` (a graph node dispatched by the ready set) makes no record
 * while the node's record is pending at the position told: `get` reads the
 * pending record until the state is read, and the state read makes the
 * ready record of each that is still pending (journaled then, by `revise`).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RecordBuffer } from "../src/engine/record-buffer.js";
import type { RunJournal } from "../src/engine/journal-port.js";
import { createRunState } from "../src/state/run-state.js";
import { nodeRecords } from "../src/state/node-table.js";
import type { NodeRecord } from "../src/state/records.js";

type Op =
  | { kind: "change"; pick: number; value: number; succeed: boolean; shift?: number }
  | { kind: "transition"; pick: number; value: number; succeed: boolean; shift?: number }
  | { kind: "ready"; pick: number; shift: number }
  | { kind: "append"; count: number }
  | { kind: "commit" }
  | { kind: "read"; pick: number; shift: number }
  | { kind: "current"; pick: number };

/** A change told the record's position (`changeAt`, `transitionAt`): `shift` 0 is right, another is a wrong or missing position (looked up by id). */
const shift = fc.option(fc.integer({ min: -2, max: 2 }), { nil: undefined });
const ops: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("change" as const), pick: fc.nat(), value: fc.integer(), succeed: fc.boolean(), shift }),
  fc.record({ kind: fc.constant("transition" as const), pick: fc.nat(), value: fc.integer(), succeed: fc.boolean(), shift }),
  fc.record({ kind: fc.constant("ready" as const), pick: fc.nat(), shift: fc.oneof(fc.constant(0), fc.integer({ min: -2, max: 2 })) }),
  fc.record({ kind: fc.constant("append" as const), count: fc.integer({ min: 1, max: 3 }) }),
  fc.constant({ kind: "commit" as const }),
  fc.record({ kind: fc.constant("read" as const), pick: fc.nat(), shift: fc.integer({ min: -2, max: 2 }) }),
  fc.record({ kind: fc.constant("current" as const), pick: fc.nat() }),
);

describe("RecordBuffer", () => {
  it("agrees with a naive map of latest records through changes, appends and commits", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(ops, { maxLength: 60 }), (n, steps) => {
        const ids = Array.from({ length: n }, (_, i) => `v${i}`);
        const state = createRunState({ runId: "r", graphName: "g", fingerprint: "f", inputs: undefined, nodeIds: ids, now: 0 });
        const journaled: NodeRecord[] = [];
        const journal: RunJournal = {
          put: (record) => void journaled.push(record),
          revise: (record) => void journaled.push(record),
          barrier: () => Promise.resolve(),
        };
        const buffer = new RecordBuffer(state, journal, () => 1);
        const model = new Map<string, NodeRecord>(ids.map((id) => [id, { id, nodeId: id, status: "pending", attempts: 0 }]));
        const order = [...ids];
        let added = 0;
        // Ids made ready by readyAt with no record yet, in the order they were (the state's next read makes their records).
        const lazy: string[] = [];
        // Appended ids not committed yet: not in the state's table, so readyAt finds no record at their position.
        const uncommitted = new Set<string>();
        const ready = (r: NodeRecord): NodeRecord => ({ ...r, status: "ready" });
        /** What a state read does first: the ready record of each lazily ready id still pending, journaled. */
        const makeReady = (): void => {
          for (const id of lazy) {
            if (model.get(id)!.status !== "pending") continue;
            model.set(id, ready(model.get(id)!));
            expectedJournal.push(model.get(id)!);
          }
          lazy.length = 0;
        };
        const expectedJournal: NodeRecord[] = [];
        const check = (): void => {
          for (const [p, id] of order.entries()) {
            const want = model.get(id)!;
            expect(buffer.get(id)).toEqual(want);
            const output = want.status === "succeeded" ? want.output : undefined;
            expect(buffer.output(id)).toEqual(output);
            expect(buffer.outputAt(p, id)).toEqual(output);
          }
          // The wide join's loop (outputsAt) reads as outputAt does, at right, shifted and missing positions alike.
          const positions = Int32Array.from(order, (_, p) => (p % 3 === 0 ? p : p % 3 === 1 ? p + 1 : -1));
          const all: Record<string, unknown> = {};
          buffer.outputsAt(all, order, positions, 0);
          expect(Object.keys(all)).toEqual(order);
          for (const [p, id] of order.entries()) expect(all[id]).toEqual(buffer.outputAt(positions[p]!, id));
          expect(buffer.get("nope")).toBeUndefined();
        };
        for (const step of steps) {
          if (step.kind === "change" || step.kind === "transition") {
            const p = step.pick % order.length;
            const id = order[p]!;
            const next = (r: NodeRecord): NodeRecord =>
              step.succeed ? { ...r, status: "succeeded", output: step.value, attempts: r.attempts + 1 } : { ...r, status: "ready", attempts: r.attempts + 1 };
            const before = journaled.length;
            // The position told, when one is: right (shift 0), another record's, past the end, or -1.
            const at = step.shift === undefined ? undefined : Math.max(-1, p + step.shift);
            if (step.kind === "change") {
              if (at === undefined) buffer.change(id, next);
              else buffer.changeAt(id, at, next);
            } else {
              const made = at === undefined ? buffer.transition(next, id) : buffer.transitionAt(next, id, at, true);
              expect(made).toEqual(next(model.get(id)!));
            }
            model.set(id, next(model.get(id)!));
            expect(journaled.slice(before)).toEqual([model.get(id)]);
          } else if (step.kind === "append") {
            const records: NodeRecord[] = Array.from({ length: step.count }, () => {
              const id = `s${added++}`;
              return { id, nodeId: id, status: "pending", attempts: 0 };
            });
            buffer.append(records);
            for (const r of records) {
              model.set(r.id, r);
              order.push(r.id);
              uncommitted.add(r.id);
            }
          } else if (step.kind === "ready") {
            const p = step.pick % order.length;
            const id = order[p]!;
            const at = Math.max(-1, p + step.shift);
            const before = journaled.length;
            buffer.readyAt(id, at);
            if (at === p && !uncommitted.has(id) && model.get(id)!.status === "pending") {
              // Nothing made or journaled now; get still reads the pending record.
              if (!lazy.includes(id)) lazy.push(id);
              expect(journaled.length).toBe(before);
            } else {
              model.set(id, ready(model.get(id)!));
              expect(journaled.slice(before)).toEqual([model.get(id)]);
            }
          } else if (step.kind === "current") {
            // A reader outside the engine (ForwardScheduler.record) sees lazily ready nodes as ready, as a state read does.
            const id = order[step.pick % order.length]!;
            const before = journaled.length;
            expectedJournal.length = 0;
            makeReady();
            expect(buffer.current(id)).toEqual(model.get(id));
            expect(journaled.slice(before)).toEqual(expectedJournal);
          } else if (step.kind === "commit") {
            const before = journaled.length;
            expectedJournal.length = 0;
            makeReady();
            const committed = [...nodeRecords(buffer.state.nodes)];
            expect(journaled.slice(before)).toEqual(expectedJournal);
            uncommitted.clear();
            expect(committed).toEqual(order.map((id) => model.get(id)));
          } else {
            const p = step.pick % order.length;
            const id = order[p]!;
            const want = model.get(id)!;
            // A position that is not the record's falls back to the lookup by id.
            expect(buffer.outputAt(p + step.shift, id)).toEqual(want.status === "succeeded" ? want.output : undefined);
          }
        }
        check();
        makeReady();
        expect([...nodeRecords(buffer.state.nodes)]).toEqual(order.map((id) => model.get(id)));
        check();
      }),
      { numRuns: 300 },
    );
  });

  it("throws for a change of an unknown activation", () => {
    const state = createRunState({ runId: "r", graphName: "g", fingerprint: "f", inputs: undefined, nodeIds: ["a"], now: 0 });
    const buffer = new RecordBuffer(state, { put: () => {}, revise: () => {}, barrier: () => Promise.resolve() }, () => 1);
    expect(() => buffer.change("b", (r) => r)).toThrow(/no node record "b"/);
    expect(() => buffer.transition((r) => r, "b")).toThrow(/no node record "b"/);
    expect(() => buffer.transitionAt((r) => r, "b", 0, true)).toThrow(/no node record "b"/);
    expect(() => buffer.changeAt("b", -1, (r) => r)).toThrow(/no node record "b"/);
  });
});
