/**
 * `serializeInPieces` (src/persistence/serialization.ts), what a big
 * snapshot is written through: the pieces joined are `serialize(value)`
 * byte for byte, whatever the list's length, the piece size, the
 * `undefined`s in the value (their superjson paths count the list's
 * elements across pieces) and the keys before the list; a value the JSON
 * fast path cannot take, or a short list, is one piece. A property test
 * over random snapshot-like documents, and the cases the property cannot
 * reach at random.
 */
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValueNotStorableError } from "../src/index.js";
import { deserialize, PIECE_ITEMS, serialize, serializeInPieces } from "../src/persistence/serialization.js";

const key = fc.oneof(fc.string({ maxLength: 5 }), fc.constantFrom("a.b", "a\\b", "\\."));
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((v) => !Object.is(v, -0));
const leaf = fc.oneof(fc.constant(undefined), fc.constant(null), fc.boolean(), fc.integer(), finite, fc.string({ maxLength: 6 }));
/** Plain data (what the JSON fast path takes), with `undefined`s; `exotic` adds what it does not (-0, a Date, a null prototype). */
function documents(exotic: boolean) {
  const leaves = exotic ? fc.oneof(leaf, fc.constant(-0), fc.constant(new Date(0))) : leaf;
  const noNullPrototype = !exotic;
  const value = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: "small" }, leaves, tie("array"), tie("object")),
    array: fc.array(tie("value"), { maxLength: 3 }),
    object: fc
      .dictionary(key, tie("value"), { maxKeys: 3, noNullPrototype })
      .filter((o) => !Object.keys(o).some((k) => k === "__proto__" || k === "constructor" || k === "prototype")),
  })).value;
  const record = fc.record(
    { id: fc.string({ maxLength: 4 }), status: fc.constantFrom("pending", "succeeded"), output: value },
    { requiredKeys: ["id", "status"], noNullPrototype },
  );
  return fc.record(
    {
      version: fc.constant(1),
      seq: fc.nat(),
      meta: fc.record({ runId: fc.string({ maxLength: 4 }), inputs: value }, { noNullPrototype }),
      nodes: fc.array(record, { maxLength: 40 }),
    },
    { noNullPrototype: true },
  );
}

describe("serializeInPieces", () => {
  it("joins to serialize(value) byte for byte, in pieces of at most perPiece items, and reads back deep-equal", () => {
    fc.assert(
      fc.property(documents(false), fc.integer({ min: 1, max: 7 }), (value, perPiece) => {
        const pieces = [...serializeInPieces(value, "nodes", perPiece)];
        const text = pieces.join("");
        expect(text).toBe(serialize(value));
        expect(isDeepStrictEqual(deserialize(text), value)).toBe(true);
        // A head, one piece per perPiece records, a tail; or the whole text at once for a short list.
        const expected = value.nodes.length > perPiece ? Math.ceil(value.nodes.length / perPiece) + 2 : 1;
        expect(pieces).toHaveLength(expected);
      }),
      { numRuns: 400 },
    );
  });

  it("joins to serialize(value) byte for byte for values the fast path may not take (-0, a Date, a null prototype)", () => {
    fc.assert(
      fc.property(documents(true), fc.integer({ min: 1, max: 7 }), (value, perPiece) => {
        const text = [...serializeInPieces(value, "nodes", perPiece)].join("");
        expect(text).toBe(serialize(value));
        expect(isDeepStrictEqual(deserialize(text), value)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("counts the list's elements across pieces in the superjson paths of undefined values", () => {
    const value = { version: 1, seq: 3, meta: { inputs: undefined }, nodes: [{ id: "a" }, { id: "b", output: undefined }, { id: "c", output: [undefined] }] };
    const pieces = [...serializeInPieces(value, "nodes", 1)];
    expect(pieces).toEqual([
      '{"json":{"version":1,"seq":3,"meta":{"inputs":null},"nodes":[',
      '{"id":"a"}',
      ',{"id":"b","output":null}',
      ',{"id":"c","output":[null]}',
      ']},"meta":{"values":{"meta.inputs":["undefined"],"nodes.1.output":["undefined"],"nodes.2.output.0":["undefined"]},"v":1}}',
    ]);
    expect(pieces.join("")).toBe(serialize(value));
  });

  it("is one piece, serialize(value), for a value the fast path cannot take, a short list, or a list that is not the last key", () => {
    const nodes = Array.from({ length: 5 }, (_, i) => ({ id: `n${i}`, output: i }));
    const withDate = { seq: 1, meta: { at: new Date(0) }, nodes };
    expect([...serializeInPieces(withDate, "nodes", 2)]).toEqual([serialize(withDate)]);
    const listFirst = { nodes, seq: 1 };
    expect([...serializeInPieces(listFirst, "nodes", 2)]).toEqual([serialize(listFirst)]);
    const short = { seq: 1, nodes };
    expect([...serializeInPieces(short, "nodes")]).toEqual([serialize(short)]);
    expect(PIECE_ITEMS).toBeGreaterThan(nodes.length);
    const notAList = { seq: 1, nodes: "n" };
    expect([...serializeInPieces(notAList, "nodes", 0)]).toEqual([serialize(notAList)]);
  });

  it("throws ValueNotStorableError, as serialize does, for a value it cannot read", () => {
    const bad = { seq: 1, nodes: [{ id: "a" }, { id: "b" }, {}] };
    Object.defineProperty(bad.nodes[2], "output", {
      enumerable: true,
      get() {
        throw new Error("no");
      },
    });
    expect(() => [...serializeInPieces(bad, "nodes", 1)]).toThrow(ValueNotStorableError);
    expect(() => serialize(bad)).toThrow(ValueNotStorableError);
  });
});
