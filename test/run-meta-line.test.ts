/**
 * The run meta of a run record line read without its outputs
 * (src/persistence/run-meta-line.ts), for `list`: the same record the
 * whole line's parse gives, less `outputs`, for every line this store
 * writes (outputs of any value, odd strings in every field, outputs that
 * superjson annotates); the same error for every damaged line; and
 * `skipValue`, its JSON check, never takes for JSON what `JSON.parse`
 * refuses.
 */
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { SnapshotCorruptError } from "../src/persistence/errors.js";
import { parseLineAt } from "../src/persistence/run-file-leases.js";
import { runMetaOfLine, skipValue } from "../src/persistence/run-meta-line.js";
import { serialize } from "../src/persistence/serialization.js";
import type { RunMeta } from "../src/state/records.js";
import { sampleRun } from "./store-conformance.js";

const FILE = "/store/r.run";

const loneSurrogate = fc.constantFrom("\ud800", "\udfff");
const oddString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.string({ unit: fc.oneof(loneSurrogate, fc.constantFrom("\u0000", "\u001f", "\u2028", '"', "\\", "\n", "é", "{", "}", ",", ":")), maxLength: 8 }),
  fc.constantFrom('"outputs":{', ',"outputs":1}', '{"json":{"kind":"run",', "outputs"),
);
const plain = fc.jsonValue({ maxDepth: 3 });
/** Outputs: mostly plain JSON (the fast path), sometimes values superjson annotates (the whole line parsed). */
const outputs = fc.oneof(
  { weight: 6, arbitrary: fc.dictionary(oddString, plain, { maxKeys: 8 }) },
  { weight: 2, arbitrary: plain },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.date(), fc.constant(undefined), fc.bigInt()), { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.constant(new Map([["a", 1]])) },
);

/** A run record line as a run file holds it: a run's meta with odd strings where users put them, and `outputs` (or none). */
const line = fc
  .record({
    graphName: oddString,
    sessionId: oddString,
    seq: fc.nat(),
    outputs: fc.option(outputs, { nil: undefined }),
    inputs: plain,
    position: fc.constantFrom("first", "middle", "last"),
  })
  .map(({ graphName, sessionId, seq, outputs, inputs, position }) => {
    const base = sampleRun("r", { inputs, status: "succeeded" }).meta;
    const { outputs: _none, ...rest } = { ...base, graphName, sessionId } as RunMeta;
    // `outputs` first, among the others, or last among the run's members.
    const run =
      outputs === undefined
        ? rest
        : position === "first"
          ? { outputs, ...rest }
          : position === "last"
            ? { ...rest, outputs }
            : Object.fromEntries([...Object.entries(rest).slice(0, 3), ["outputs", outputs], ...Object.entries(rest).slice(3)]);
    return Buffer.from(serialize({ kind: "run", seq, run }), "utf8");
  });

/** The whole line's parse, less `outputs`, or the error it throws. */
function whole(bytes: Buffer): unknown {
  try {
    const { outputs: _outputs, ...meta } = parseLineAt<{ run: RunMeta }>(bytes, FILE).run;
    return { ok: meta };
  } catch (err) {
    return { error: err instanceof SnapshotCorruptError ? "SnapshotCorruptError" : String(err) };
  }
}

function fast(bytes: Buffer): unknown {
  try {
    return { ok: runMetaOfLine(bytes, FILE) };
  } catch (err) {
    return { error: err instanceof SnapshotCorruptError ? "SnapshotCorruptError" : String(err) };
  }
}

describe("runMetaOfLine", () => {
  it("gives the whole line's run meta, less outputs, for every line a store writes", () => {
    fc.assert(
      fc.property(line, (bytes) => {
        const got = fast(bytes);
        expect(got).toEqual(whole(bytes));
        expect((got as { ok: RunMeta }).ok).not.toHaveProperty("outputs");
      }),
      { numRuns: 400 },
    );
  });

  it("agrees with the whole line's parse on every damaged line: the same meta, or the same error", () => {
    fc.assert(
      fc.property(line, fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }), (bytes, damage) => {
        const damaged = Buffer.from(bytes);
        for (const { at, byte } of damage) damaged[at % damaged.length] = byte;
        expect(fast(damaged)).toEqual(whole(damaged));
      }),
      { numRuns: 600 },
    );
  });

  it("reads a fan-out's outputs without building them, and a line cut short as the whole parse does", () => {
    const outputs = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`n${i}`, i]));
    const base = sampleRun("r", { status: "succeeded" }).meta;
    const bytes = Buffer.from(serialize({ kind: "run", seq: 10_002, run: { ...base, outputs } }), "utf8");
    // The outputs' text is never parsed: JSON.parse is given the line without them.
    const parse = vi.spyOn(JSON, "parse");
    try {
      expect(fast(bytes)).toEqual(whole(bytes));
      expect(parse.mock.calls[0]![0].length).toBeLessThan(bytes.length / 10);
    } finally {
      parse.mockRestore();
    }
    const cut = bytes.subarray(0, bytes.length - 40);
    expect(fast(cut)).toEqual({ error: "SnapshotCorruptError" });
    expect(whole(cut)).toEqual({ error: "SnapshotCorruptError" });
  });
});

describe("skipValue", () => {
  it("takes a whole JSON text for one value exactly when JSON.parse reads it", () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 4 }), (text) => {
        const bytes = Buffer.from(text, "utf8");
        expect(skipValue(bytes, 0)).toBe(bytes.length);
      }),
      { numRuns: 400 },
    );
  });

  it("never takes for a value what JSON.parse refuses (damaged texts)", () => {
    fc.assert(
      fc.property(
        fc.json({ maxDepth: 4 }),
        fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }),
        (text, damage) => {
          const bytes = Buffer.from(text, "utf8");
          for (const { at, byte } of damage) bytes[at % bytes.length] = byte;
          if (skipValue(bytes, 0) === bytes.length) expect(() => void JSON.parse(bytes.toString("utf8"))).not.toThrow();
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("refuses what JSON does not allow", () => {
    for (const text of ["01", "1.", ".5", "-", "1e", "+1", '"\\x"', '"\\u12"', '"a\u0001"', "[1,]", "{,}", '{"a"}', '{"a":1,}', "[", "tru", "nul", "{1:2}"]) {
      const bytes = Buffer.from(text, "utf8");
      expect(skipValue(bytes, 0), text).not.toBe(bytes.length);
      expect(() => void JSON.parse(text), text).toThrow();
    }
  });
});
