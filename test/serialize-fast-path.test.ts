/**
 * The JSON fast path of `serialize` (src/persistence/serialization.ts):
 * plain data with `undefined` fields and elements is written as superjson
 * writes it (the same document, its annotations perhaps in another order,
 * so every reader and older version reads it alike) and reads back deep-equal. A property test over plain
 * values with `undefined` sprinkled in, including keys with "." and "\".
 */
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { codec } from "../src/core/stored-codec.js";
import { deserialize, serialize, serializeInPieces } from "../src/persistence/serialization.js";

const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("a.b", "a\\b", "\\.", "..", "x\\\\.y"));
const leaf = fc.oneof(fc.constant(undefined), fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 8 }));
const plain = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" }, leaf, tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 4 }),
  object: fc
    .dictionary(key, tie("value"), { maxKeys: 4 })
    .filter((o) => !Object.keys(o).some((k) => k === "__proto__" || k === "constructor" || k === "prototype")),
})).value;

/** A deep copy of `value` whose objects have `Object.prototype`, `undefined`s kept. */
function withObjectPrototype(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withObjectPrototype);
  if (value === null || typeof value !== "object") return value;
  const copy: Record<string, unknown> = {};
  for (const k of Object.keys(value)) copy[k] = withObjectPrototype((value as Record<string, unknown>)[k]);
  return copy;
}

describe("serialize: plain data with undefined", () => {
  it("writes what superjson writes, and reads back deep-equal", () => {
    fc.assert(
      fc.property(plain, (value) => {
        if (value === undefined) return;
        const text = serialize(value);
        // The same JSON document (toEqual ignores the order of the annotations).
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(codec.serialize(value as never))));
        expect(isDeepStrictEqual(deserialize(text), value)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("writes a small value with undefineds as the text JSON.stringify with an undefined-as-null replacer writes, byte for byte", () => {
    // The copy with nulls (serialization.ts, withNulls) keeps every key in its place, integer-like keys included.
    const asNull = (_key: string, v: unknown): unknown => (v === undefined ? null : v);
    const ordered = fc.dictionary(fc.oneof(key, fc.constantFrom("0", "7", "10", "-1", "01")), plain, { maxKeys: 6 });
    fc.assert(
      fc.property(fc.oneof(plain, ordered), (generated) => {
        if (generated === undefined) return;
        // With Object.prototype (fast-check's dictionaries have none, which takes superjson's path).
        const value = withObjectPrototype(generated);
        const text = serialize(value);
        const json = JSON.stringify(value, asNull);
        expect(text.startsWith(`{"json":${json}`)).toBe(true);
        expect(text.slice(`{"json":${json}`.length)).toMatch(/^(,"meta":.*)?}$/);
      }),
      { numRuns: 500 },
    );
    expect(serialize({ b: 1, 10: undefined, a: [undefined, { z: undefined, 2: 3 }], 1: "x" })).toBe(
      '{"json":{"1":"x","10":null,"b":1,"a":[null,{"2":3,"z":null}]},"meta":{"values":{"10":["undefined"],"a.0":["undefined"],"a.1.z":["undefined"]},"v":1}}',
    );
  });

  it("keeps an undefined field of a run's meta on the fast path (no superjson walk of the rest)", () => {
    const doc = {
      version: 1,
      seq: 0,
      meta: { runId: "r", inputs: undefined },
      nodes: [
        { id: "a", output: undefined },
        { id: "b", output: 2 },
      ],
    };
    expect(serialize(doc)).toBe(
      '{"json":{"version":1,"seq":0,"meta":{"runId":"r","inputs":null},"nodes":[{"id":"a","output":null},{"id":"b","output":2}]},' +
        '"meta":{"values":{"meta.inputs":["undefined"],"nodes.0.output":["undefined"]},"v":1}}',
    );
    const back = deserialize<typeof doc>(serialize(doc));
    expect("inputs" in back.meta).toBe(true);
    expect("output" in back.nodes[0]!).toBe(true);
  });

  it("writes a big value with a few undefineds (split at them, not stringified with a replacer) as superjson does", () => {
    // More than 512 values around each undefined, so the writer splits the value at them instead of using a replacer.
    const record = fc.record({ id: fc.string({ maxLength: 4 }), output: fc.oneof(fc.constant(undefined), fc.integer(), plain) });
    const big = fc.record({
      version: fc.constant(1),
      meta: fc.record({ runId: fc.string({ maxLength: 4 }), inputs: fc.oneof(fc.constant(undefined), plain) }),
      nodes: fc.array(fc.oneof({ weight: 20, arbitrary: record }, { weight: 1, arbitrary: fc.constant(undefined) }), { minLength: 600, maxLength: 1_500 }),
    });
    fc.assert(
      fc.property(big, fc.integer({ min: 100, max: 700 }), (value, perPiece) => {
        const text = serialize(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(codec.serialize(value as never))));
        expect(isDeepStrictEqual(deserialize(text), value)).toBe(true);
        expect([...serializeInPieces(value, "nodes", perPiece)].join("")).toBe(text);
      }),
      { numRuns: 40 },
    );
  });
});
