/**
 * A resume's reset (`markPending`, src/state/node-transitions.ts) under
 * random node records:
 * - the record it makes has the fields, values and field order the
 *   spread-built version made (the reference below, kept from it), so
 *   journals and snapshots hold what they held;
 * - `isPendingOf` knows the reset record of its very source (by identity),
 *   a copy of it (by value), and refuses it as the reset of any other
 *   record, whatever identity says.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isPendingOf, markPending } from "../src/state/node-transitions.js";
import { MAX_ATTEMPT_LOG, type AttemptRecord, type NodeRecord } from "../src/state/records.js";
import { NODE_STATUSES } from "../src/state/status.js";

const error = fc.record({ name: fc.string({ maxLength: 4 }), message: fc.string({ maxLength: 4 }) });
const time = fc.integer({ min: 0, max: 100 });
const record: fc.Arbitrary<NodeRecord> = fc
  .record(
    {
      id: fc.string({ minLength: 1, maxLength: 4 }),
      status: fc.constantFrom(...NODE_STATUSES),
      attempts: fc.nat(5),
      output: fc.jsonValue({ maxDepth: 1 }),
      error,
      startedAt: time,
      endedAt: time,
      retryAt: time,
      steps: fc.dictionary(fc.string({ maxLength: 2 }), fc.nat(), { maxKeys: 2 }),
      waits: fc.dictionary(fc.string({ maxLength: 2 }), fc.record({ since: time }), { maxKeys: 1 }),
      visit: fc.nat(3),
      trigger: fc.record({ from: fc.string({ maxLength: 2 }), route: fc.string({ maxLength: 2 }) }),
      attemptLog: fc.array(fc.record({ startedAt: time, outcome: fc.constantFrom("failed", "cancelled", "interrupted", "suspended"), error }), {
        maxLength: MAX_ATTEMPT_LOG + 1,
      }),
    },
    { requiredKeys: ["id", "status", "attempts"] },
  )
  .map((r) => ({ ...r, nodeId: r.id }));

/** `markPending` as it was built with spreads, before it was built field by field. */
function reference(n: NodeRecord): NodeRecord {
  let log: AttemptRecord | undefined;
  if (n.startedAt !== undefined) {
    const ended = n.endedAt !== undefined && n.endedAt >= n.startedAt ? { endedAt: n.endedAt } : {};
    if (n.status === "failed") log = { startedAt: n.startedAt, ...ended, outcome: "failed", ...(n.error && { error: n.error }) };
    else if (n.status === "cancelled") log = { startedAt: n.startedAt, ...ended, outcome: "cancelled" };
    else if (n.status === "running") log = { startedAt: n.startedAt, outcome: "interrupted" };
    else if (n.status === "waiting") log = { startedAt: n.startedAt, outcome: "suspended" };
  }
  let attemptLog = n.attemptLog;
  if (log !== undefined) {
    const next = [...(n.attemptLog ?? []), log];
    attemptLog = next.length > MAX_ATTEMPT_LOG ? next.slice(next.length - MAX_ATTEMPT_LOG) : next;
  }
  return {
    id: n.id,
    nodeId: n.nodeId,
    status: "pending",
    attempts: 0,
    ...(n.steps && { steps: n.steps }),
    ...(n.waits && { waits: n.waits }),
    ...(n.visit !== undefined && { visit: n.visit }),
    ...(n.trigger && { trigger: n.trigger }),
    ...(attemptLog && { attemptLog }),
  };
}

/** Keys in order, all the way down (`toEqual` ignores the order of keys). */
const keysOf = (value: unknown): unknown => (typeof value !== "object" || value === null ? value : Object.entries(value).map(([k, v]) => [k, keysOf(v)]));

describe("markPending and isPendingOf", () => {
  it("make the record the spread-built reset made, field order included", () => {
    fc.assert(
      fc.property(record, (r) => {
        const next = markPending()(r);
        expect(next).toEqual(reference(r));
        expect(keysOf(next)).toEqual(keysOf(reference(r)));
      }),
      { numRuns: 1_000 },
    );
  });

  it("know a reset by identity and by value, and only of the record it was made from", () => {
    fc.assert(
      fc.property(record, fc.constantFrom<keyof NodeRecord>("id", "status", "startedAt", "attemptLog", "steps"), (r, changed) => {
        const next = markPending()(r);
        expect(isPendingOf(r, next)).toBe(true);
        expect(isPendingOf(r, { ...next })).toBe(true);
        expect(isPendingOf(r, reference(r))).toBe(true);
        // Another record with one field changed: identity (`next` came from `r`) never answers for it. What
        // `isPendingOf` says of `next` is what it says of a copy, which only the values decide.
        const other = {
          ...r,
          [changed]: changed === "id" ? `${r.id}+` : changed === "status" ? (r.status === "failed" ? "running" : "failed") : undefined,
        };
        expect(isPendingOf(other, next)).toBe(isPendingOf(other, { ...next }));
        if (changed === "id") expect(isPendingOf(other, next)).toBe(false);
      }),
      { numRuns: 1_000 },
    );
  });
});
