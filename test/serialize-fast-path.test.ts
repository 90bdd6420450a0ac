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
