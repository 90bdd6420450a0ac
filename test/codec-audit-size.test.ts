/**
 * The size limit of a stored value (`MAX_STORED_VALUE_CHARS`, "more than
 * 64 MiB once serialized" in docs/durability.md) counted what JSON writes:
 * a string counted as its length, though JSON writes a control character
 * or a lone surrogate as six characters (`\u0001`), and an array's
 * brackets and commas counted nothing (an array of empty arrays counted 0).
 * So a value several times over the limit was accepted and written, and a
 * run holding it twice (its inputs and a node's output) could be written
 * as a snapshot line too long to read back. Now the walk counts them.
 */
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_STORED_VALUE_CHARS, MemoryStore, getRun, graph, isDurable, run, serialize, type RunEventMap } from "../src/index.js";
import { checkDurable } from "../src/core/value-codec.js";
import { jsonLength } from "../src/core/durable-value.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-codec-size-");

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
/** Strings heavy in what JSON escapes. */
const escapy = fc.string({
  unit: fc.oneof(loneSurrogate, fc.constantFrom("\u0000", "\u0001", "\u001f", "\n", "\t", '"', "\\", "a", "é", "𝄞", "\u2028")),
  maxLength: 40,
});
const text = fc.oneof(escapy, fc.string({ unit: "binary", maxLength: 20 }));

/** JSON-shaped values (no `undefined`, no annotations): what serialize writes is `{"json":…}` around their JSON. */
const { json } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof(
    { depthSize: "small" },
    text,
    fc.integer({ min: -9_999_999, max: 99_999_999 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("json"), { maxLength: 8 }),
    fc.array(fc.constant([]), { maxLength: 40 }),
    fc
      .dictionary(text, tie("json"), { maxKeys: 5, noNullPrototype: true })
      .filter((o) => !Object.keys(o).some((k) => ["__proto__", "constructor", "prototype"].includes(k))),
  ),
}));

describe("the size a value is counted at", () => {
  it("property: a string is counted as JSON writes it (escapes and lone surrogates included)", () => {
    fc.assert(
      fc.property(text, (s) => jsonLength(s) === JSON.stringify(s).length),
      { numRuns: 2000, seed: 20261203 },
    );
  });

  it("property: a value accepted under a limit serializes to at most that many characters (plus the envelope)", () => {
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 400 }), (value, max) => {
        const checked = checkDurable(value, max);
        if (!checked.ok) return;
        const written = serialize(value);
        expect(written.length, written).toBeLessThanOrEqual(max + '{"json":}'.length);
      }),
      { numRuns: 3000, seed: 20261203 },
    );
  });

  it("an array of empty arrays is counted by its brackets and commas", () => {
    const empty: never[] = [];
    const value = new Array<never[]>(100).fill(empty);
    expect(checkDurable(value, 250)).toMatchObject({ ok: false, reason: expect.stringMatching(/more than/) as unknown });
    expect(checkDurable(value, 310).ok).toBe(true);
  });

  it("a value that stays under the limit once escaped is still accepted, at its escaped size", () => {
    const value = { s: "\u0001".repeat(1000) };
    const checked = checkDurable(value, 7000);
    expect(checked).toMatchObject({ ok: true });
    expect(serialize(value).length).toBeLessThanOrEqual(7000 + 9);
    expect(checkDurable(value, 5000).ok).toBe(false);
  });
});

describe("an output over the limit only once escaped", () => {
  // 12 Mi control characters: 12 MiB as a string, 72 MiB as JSON.
  const big = "\u0001".repeat(12 * 1024 * 1024);

  it("is not durable", () => {
    expect(big.length).toBeLessThan(MAX_STORED_VALUE_CHARS);
    expect(JSON.stringify(big).length).toBeGreaterThan(MAX_STORED_VALUE_CHARS);
    expect(isDurable(big)).toBe(false);
    expect(isDurable(big.slice(0, 1024 * 1024))).toBe(true);
  });

  it.each(["memory", "lowdb"] as const)("is flagged OUTPUT_NOT_DURABLE on %s, and the run is read back whole", async (kind) => {
    const dir = tempDir();
    const memory = new MemoryStore();
    const store = () => (kind === "memory" ? memory : lowdb(dir));
    const g = graph("escaped-big")
      .node("huge", () => big)
      .node("small", ({ deps }) => deps.huge.length, { after: ["huge"] })
      .build();
    const warnings: RunEventMap["warning"][] = [];
    const handle = run(g, undefined, { store: store(), runId: "eb" });
    handle.events.on("warning", (w) => void warnings.push(w));
    await handle.result();
    expect(warnings.map((w) => [w.nodeId, w.code])).toEqual([["huge", "OUTPUT_NOT_DURABLE"]]);
    const details = await getRun("eb", { store: store() });
    expect(details.nodes.find((n) => n.id === "huge")?.durable).toBe(false);
    expect(isDeepStrictEqual(details.nodes.find((n) => n.id === "small")?.output, big.length)).toBe(true);
  });
});
