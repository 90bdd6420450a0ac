/**
 * The node chunk check's number columns (src/persistence/node-columns.ts,
 * `chunkProblem`): a chunk's attempts must each be a whole number at least
 * 0, and a time column's differences (`d`) each a safe integer whose
 * running sum stays a safe integer. The check tests these inline, without
 * a call per value when a value is a 32-bit integer; this pins it to the
 * plain definition (`Number.isSafeInteger`), over hand-picked edges and
 * random lists (fast-check), problem text included.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkProblem, toChunks } from "../src/persistence/node-columns.js";
import type { NodeRecord } from "../src/state/records.js";

/** A checked chunk of `n` succeeded records, its attempts and end times replaced by `attempts` and `d` (when given). */
function chunkWith(n: number, attempts?: readonly unknown[], d?: readonly unknown[]): Record<string, unknown> {
  const records: NodeRecord[] = Array.from({ length: n }, (_, i) => ({
    id: `n${i}`,
    nodeId: `n${i}`,
    status: "succeeded",
    attempts: 1,
    output: i,
    endedAt: 1_000 + i,
    startedAt: 1_000 + i,
  }));
  const chunk = { ...toChunks(records)[0]! } as Record<string, unknown>;
  if (attempts !== undefined) chunk.attempts = [...attempts];
  if (d !== undefined) chunk.endedAt = { skip: [], d: [...d] };
  return chunk;
}

/** The check's answer as its definition gives it: attempts first, then the end times' differences. */
function expected(attempts: readonly unknown[], d: readonly unknown[]): string | undefined {
  for (let p = 0; p < attempts.length; p++) {
    const a = attempts[p];
    if (!(typeof a === "number" && Number.isSafeInteger(a) && a >= 0)) return `.attempts[${p}] is not a whole number`;
  }
  let t = 0;
  for (let i = 0; i < d.length; i++) {
    const x = d[i];
    if (typeof x !== "number" || !Number.isSafeInteger(x) || !Number.isSafeInteger((t += x))) return `.endedAt.d[${i}] is not a whole difference of times`;
  }
  return undefined;
}

const EDGES: unknown[] = [
  0,
  -0,
  1,
  -1,
  0.5,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 32 + 1,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  -Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER - 1,
  2 ** 53 + 2,
  1e300,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.EPSILON,
  "1",
  null,
  true,
];

describe("node chunk number columns", () => {
  it("takes each hand-picked edge as an attempt count exactly as the definition does", () => {
    for (const a of EDGES) {
      const attempts = [1, a, 2];
      expect([a, chunkProblem(chunkWith(3, attempts))]).toEqual([a, expected(attempts, [1_000, 1, 1])]);
    }
  });

  it("takes each hand-picked edge as a time difference exactly as the definition does", () => {
    for (const x of EDGES) {
      for (const d of [
        [x, 1, 1],
        [1_000, x, 1],
        [Number.MAX_SAFE_INTEGER - 1, 1, x],
        [-Number.MAX_SAFE_INTEGER + 1, -1, x],
      ]) {
        expect([d, chunkProblem(chunkWith(3, undefined, d))]).toEqual([d, expected([1, 1, 1], d)]);
      }
    }
  });

  it("refuses a running sum of safe differences that leaves the safe range, and keeps one that comes back", () => {
    expect(chunkProblem(chunkWith(3, undefined, [Number.MAX_SAFE_INTEGER, 1, -5]))).toBe(".endedAt.d[1] is not a whole difference of times");
    expect(chunkProblem(chunkWith(3, undefined, [Number.MAX_SAFE_INTEGER, -1, 1]))).toBeUndefined();
    expect(chunkProblem(chunkWith(3, undefined, [-Number.MAX_SAFE_INTEGER, -1, 5]))).toBe(".endedAt.d[1] is not a whole difference of times");
  });

  it("answers random attempt and difference lists as the definition does (fast-check)", () => {
    const number = fc.oneof(
      fc.constantFrom(...EDGES),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
      fc.double(),
      fc.nat({ max: 8 }),
    );
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 12 })
          .chain((n) => fc.tuple(fc.array(number, { minLength: n, maxLength: n }), fc.array(number, { minLength: n, maxLength: n }))),
        ([attempts, d]) => {
          expect(chunkProblem(chunkWith(attempts.length, attempts, d))).toBe(expected(attempts, d));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
