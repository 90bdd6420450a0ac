/**
 * Property: a journal line made by the fast path of `journal-line.ts` is
 * the very text `serialize(record) + "\n"` made before it, for any record:
 * node records of the usual shape with odd strings (quotes, control
 * characters, lone surrogates), odd numbers (`-0`, `NaN`, huge), nested
 * values, `undefined` fields, values superjson annotates, keys in any
 * order or unknown, records of another shape, and run records. So every
 * journal written before reads as it did, and a reader cannot tell which
 * path wrote a line.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { journalText } from "../src/persistence/journal-file.js";
import { journalLine } from "../src/persistence/journal-line.js";
import { deserialize, serialize } from "../src/persistence/serialization.js";
import type { JournalRecord } from "../src/state/records.js";
import { NODE_STATUSES } from "../src/state/status.js";

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const oddString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.string({ unit: fc.oneof(loneSurrogate, fc.constantFrom("\u0000", "\u001f", "\u2028", '"', "\\", "\n", "é", "a")), maxLength: 8 }),
);
const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-0, 0, Number.NaN, Infinity, 1_796_041_543_993, 2 ** 53, 1e21, 5e-324));
const leaf = fc.oneof(oddString, number, fc.boolean(), fc.constant(null));
/** Values a node may hold in a field: plain JSON, or values superjson annotates. */
const value = fc.oneof(
  { weight: 4, arbitrary: leaf },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.date() },
  { weight: 1, arbitrary: fc.bigInt() },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.array(fc.oneof(leaf, fc.constant(undefined)), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(leaf, fc.constant(undefined)), { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.constant(new Map([["a", 1]])) },
);
const FIELDS = [
  "id",
  "nodeId",
  "status",
  "attempts",
  "output",
  "durable",
  "error",
  "startedAt",
  "endedAt",
  "retryAt",
  "steps",
  "waits",
  "visit",
  "trigger",
  "route",
  "settleOrder",
  "attemptLog",
] as const;
/** A field name: mostly a `NodeRecord` field, sometimes another key (the fast path does not know it). */
const fieldName = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...FIELDS) }, { weight: 1, arbitrary: fc.constantFrom("index", "0", "__proto__", 'a"b') });

/** A node record: the usual chain step's fields in a random order, plus random extra fields. */
const nodeRecord = fc
  .tuple(
    fc.record({
      id: oddString,
      nodeId: oddString,
      // Every status (written from a table of constant fields), and any other string, which is quoted.
      status: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...NODE_STATUSES) }, { weight: 1, arbitrary: oddString }),
      attempts: number,
      output: value,
      startedAt: number,
      endedAt: number,
    }),
    fc.array(fc.tuple(fieldName, value), { maxLength: 4 }),
    fc.infiniteStream(fc.nat()),
  )
  .map(([base, extra, order]) => {
    const entries: [string, unknown][] = [...Object.entries(base), ...extra];
    const shuffled = entries.map((e) => [order.next().value as number, e] as const).sort((a, b) => a[0] - b[0]);
    const node: Record<string, unknown> = {};
    for (const [, [k, v]] of shuffled) Object.defineProperty(node, k, { value: v, enumerable: true, writable: true, configurable: true });
    return node;
  });

/** Records of the usual shape, and of others (keys in another order, more keys, a compact record, a run record). */
const record = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.oneof(fc.nat(), number), nodeRecord).map(([seq, node]) => ({ kind: "node", seq, node })) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(), nodeRecord).map(([seq, node]) => ({ kind: "node", node, seq })) },
  // A resumed node's result (journal-delta.ts) takes the fast path; a flag of another value (no store writes one) does not.
  { weight: 2, arbitrary: fc.tuple(fc.nat(), nodeRecord).map(([seq, node]) => ({ kind: "node", seq, node, sameLog: true })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.nat(), nodeRecord, fc.constantFrom(false, 1, "true", undefined, null))
      .map(([seq, node, sameLog]) => ({ kind: "node", seq, node, sameLog })),
  },
  { weight: 1, arbitrary: fc.tuple(fc.nat(), oddString).map(([seq, id]) => ({ kind: "node", seq, reset: id })) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.nat(), fc.dictionary(fc.string({ maxLength: 5 }), value, { maxKeys: 4 })).map(([seq, run]) => ({ kind: "run", seq, run })),
  },
);

describe("journal lines", () => {
  it("are serialize's text exactly, whatever the record", () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(journalLine(r as unknown as JournalRecord)).toBe(serialize(r) + "\n");
      }),
      { numRuns: 3000 },
    );
  });

  it("of several records are their lines one after another (the text of an append)", () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 0, maxLength: 30 }), (rs) => {
        expect(journalText(rs as unknown as JournalRecord[])).toBe(rs.map((r) => serialize(r) + "\n").join(""));
      }),
      { numRuns: 300 },
    );
  });

  it("are serialize's text in a sequence of records sharing numbers (the last timestamp written is kept)", () => {
    // Few distinct numbers, so a record often repeats the one written before: a kept text must be its own number's.
    const shared = fc.constantFrom(1_796_041_543_993, 1_796_041_543_994, 2 ** 31, -(2 ** 31) - 1, 0.1, 1e21, 5e-324, 7, -0, Number.NaN);
    const step = fc.record({ seq: fc.nat(), attempts: shared, output: shared, endedAt: shared, startedAt: shared, status: fc.constantFrom(...NODE_STATUSES) });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 20 }), (steps) => {
        for (const { seq, ...fields } of steps) {
          const r = { kind: "node", seq, node: { id: "n", nodeId: "n", ...fields } };
          expect(journalLine(r as unknown as JournalRecord)).toBe(serialize(r) + "\n");
        }
      }),
      { numRuns: 500 },
    );
  });

  it("write a chain step's record on the fast path and read back as it was", () => {
    const node = { id: "n1", nodeId: "n1", status: "succeeded", attempts: 1, output: 1, endedAt: 1_796_041_543_995, startedAt: 1_796_041_543_995 };
    const r = { kind: "node", seq: 2, node } as unknown as JournalRecord;
    const line = journalLine(r);
    expect(line).toBe(
      '{"json":{"kind":"node","seq":2,"node":{"id":"n1","nodeId":"n1","status":"succeeded","attempts":1,"output":1,"endedAt":1796041543995,"startedAt":1796041543995}}}\n',
    );
    expect(deserialize(line)).toEqual(r);
  });

  it("write a resumed node's result (its attempt log the reset record's) on the fast path", () => {
    const node = { id: "n1", nodeId: "n1", status: "succeeded", attempts: 1, output: 1, endedAt: 1_796_041_543_995, startedAt: 1_796_041_543_995 };
    const r = { kind: "node", seq: 2, node, sameLog: true } as unknown as JournalRecord;
    const line = journalLine(r);
    expect(line).toBe(serialize(r) + "\n");
    expect(line.endsWith('"startedAt":1796041543995},"sameLog":true}}\n')).toBe(true);
    expect(deserialize(line)).toEqual(r);
  });

  it("leave inherited enumerable keys out, as serialize does", () => {
    const node = { id: "n1", nodeId: "n1", status: "running", attempts: 1 };
    const r = { kind: "node", seq: 3, node } as unknown as JournalRecord;
    Object.defineProperty(Object.prototype, "output", { value: 7, enumerable: true, configurable: true, writable: true });
    try {
      expect(journalLine(r)).toBe(serialize(r) + "\n");
    } finally {
      delete (Object.prototype as { output?: unknown }).output;
    }
    expect(journalLine(r)).toBe('{"json":{"kind":"node","seq":3,"node":{"id":"n1","nodeId":"n1","status":"running","attempts":1}}}\n');
  });

  it("report a value that cannot be written as serialize does", () => {
    const node = { id: "n1", nodeId: "n1", status: "succeeded", attempts: 1 };
    Object.defineProperty(node, "output", {
      enumerable: true,
      get() {
        throw new Error("no");
      },
    });
    const r = { kind: "node", seq: 1, node } as unknown as JournalRecord;
    expect(() => journalLine(r)).toThrow(expect.objectContaining({ name: "ValueNotStorableError" }) as Error);
  });
});
