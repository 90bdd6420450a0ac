/**
 * Stored graphs audit, specs that must be refused: values no JSON text
 * holds but other parsers make (a bigint from a YAML parser, a sparse
 * array built in code) were a raw TypeError or reached the builder as
 * undefined; a node id "__proto__" was accepted and its output lost at run
 * time; a spec of thousands of wrong references took minutes to refuse.
 * Each is now a `GraphDefinitionError` naming the place in the spec.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromSpec, GraphDefinitionError, toSpec } from "../src/index.js";

function f(): number {
  return 1;
}
const registry = { f };

/** The problems of the GraphDefinitionError that fromSpec throws for `spec`. */
function problemsOf(spec: unknown): readonly string[] {
  try {
    fromSpec(spec, registry);
  } catch (err) {
    expect(err).toBeInstanceOf(GraphDefinitionError);
    return (err as GraphDefinitionError).problems;
  }
  throw new Error("expected fromSpec to refuse the spec");
}

describe("fromSpec refuses, naming the place", () => {
  it("a bigint where a number or the version belongs (a YAML parser may make one), not with a TypeError", () => {
    expect(problemsOf({ version: 1n, name: "g", nodes: [{ id: "a", after: [], fn: "f", timeoutMs: 5n }] })).toEqual([
      "version must be 1 (got bigint 1); this taskloom reads version 1 specs",
      'nodes[0] ("a"): timeoutMs must be a number (got bigint 5)',
    ]);
  });

  it("a sparse nodes array or after list, instead of building from undefined", () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(problemsOf({ version: 1, name: "g", nodes: [, { id: "a", after: [], fn: "f" }] })).toEqual(["nodes[0] must be an object (got nothing)"]);
    const after: string[] = [];
    after[1] = "b";
    expect(
      problemsOf({
        version: 1,
        name: "g",
        nodes: [
          { id: "a", after, fn: "f", routes: { go: after } },
          { id: "b", after: [], fn: "f" },
        ],
      }),
    ).toEqual([
      'nodes[0] ("a"): after must be an array of strings (got an array)',
      'nodes[0] ("a") routes: route "go" must be a node id or an array of node ids (got an array)',
    ]);
  });

  it('a node id "__proto__", whose output a run would lose (it would set the outputs\' prototype)', () => {
    const spec = JSON.parse('{"version":1,"name":"g","nodes":[{"id":"__proto__","after":[],"fn":"f"},{"id":"b","after":["__proto__"],"fn":"f"}]}') as unknown;
    expect(problemsOf(spec)).toEqual(['nodes[0] ("__proto__"): a node cannot have the id "__proto__"; rename it']);
    // Other names of Object.prototype are plain ids.
    const ok = fromSpec(JSON.parse('{"version":1,"name":"g","nodes":[{"id":"constructor","after":[],"fn":"f"}]}'), registry);
    expect(fromSpec(JSON.parse(JSON.stringify(toSpec(ok))), registry).fingerprint).toBe(ok.fingerprint);
  });

  it("a long value where a number belongs, shown cut short", () => {
    const [problem] = problemsOf({ version: 1, name: "g", nodes: [{ id: "a", after: [], fn: "f", timeoutMs: "9".repeat(100_000) }] });
    expect(problem).toMatch(/^nodes\[0\] \("a"\): timeoutMs must be a number \(got string "9{50,60}…\)$/);
  });

  it("every wrong reference of a large spec, naming the likely id for the first ten only (each hint searched every id)", () => {
    const nodes = Array.from({ length: 300 }, (_, i) => ({ id: `node-${i}`, after: [`nodx-${i}`], fn: "f" }));
    const problems = problemsOf({ version: 1, name: "g", nodes });
    expect(problems).toHaveLength(300);
    expect(problems[0]).toBe('node "node-0" runs after "nodx-0", which is not a node of this graph: did you mean "node-0"?');
    expect(problems.filter((p) => p.includes("did you mean"))).toHaveLength(10);
    expect(problems[299]).toBe('node "node-299" runs after "nodx-299", which is not a node of this graph');
  });

  it("a few wrong references together with the graph's other problems, as before", () => {
    const problems = problemsOf({
      version: 1,
      name: "g",
      nodes: [
        { id: "fetch", after: [], fn: "f", routes: { go: ["fecth"] } },
        { id: "m", after: ["fetch"], fn: "f", map: { source: "fetc" } },
        { id: "c", after: ["fetchh"], fn: "f", retry: { maxAttempts: 0 } },
      ],
    });
    expect(problems).toContain('node "fetch": route "go" leads to "fecth", which is not a node of this graph: did you mean "fetch"?');
    expect(problems).toContain('map node "m" maps "fetc", which is not a node of this graph: did you mean "fetch"?');
    expect(problems).toContain('node "c" runs after "fetchh", which is not a node of this graph: did you mean "fetch"?');
    expect(problems.some((p) => p.includes("maxAttempts"))).toBe(true);
  });
});

describe("property: any value anywhere", () => {
  const BASE = {
    version: 1,
    name: "g",
    nodes: [
      { id: "a", after: [], fn: "f", retry: { maxAttempts: 2, backoff: { initialMs: 1 } }, routes: { go: ["b"] } },
      { id: "b", after: [], fn: "f", timeoutMs: 3 },
      { id: "c", after: ["a"], fn: "f", map: { source: "a", maxConcurrency: 2 } },
    ],
  };
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, at: (string | number)[]): void => {
    paths.push(at);
    if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, [...at, Array.isArray(v) ? Number(k) : k]);
  };
  walk(BASE, []);

  /** Values a parser other than JSON.parse, or code, may put in a spec. */
  const odd = fc.oneof(
    fc.bigInt(),
    fc.constantFrom(Symbol("s"), Infinity, -0, NaN, undefined, "__proto__", () => 1),
    fc.array(fc.constantFrom("a", "b", "c"), { maxLength: 3 }).map((xs) => {
      const sparse: string[] = [];
      xs.forEach((x, i) => (sparse[2 * i + 1] = x));
      return sparse;
    }),
    fc.jsonValue({ maxDepth: 2 }),
  );

  it("is refused with GraphDefinitionError, or loads a graph that writes a spec that loads again", () => {
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.option(fc.constantFrom("id", "after", "fn", "__proto__", "x")), odd, (path, key, value) => {
        const spec = structuredClone(BASE) as Record<string, unknown>;
        let target: unknown = spec;
        for (const seg of path) target = (target as Record<string | number, unknown>)[seg];
        if (target === null || typeof target !== "object") return;
        const k = key ?? Object.keys(target)[0];
        if (k === undefined) return;
        Object.defineProperty(target, k, { value, enumerable: true, writable: true, configurable: true });
        let loaded;
        try {
          loaded = fromSpec(spec, registry);
        } catch (err) {
          expect(err).toBeInstanceOf(GraphDefinitionError);
          return;
        }
        expect(fromSpec(JSON.parse(JSON.stringify(toSpec(loaded))), registry).fingerprint).toBe(loaded.fingerprint);
      }),
      { numRuns: 2000 },
    );
  });
});
