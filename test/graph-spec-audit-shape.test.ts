/**
 * Stored graphs audit: a spec edited by hand (any JSON put in place of any
 * field, or a new field) is either refused with `GraphDefinitionError`, or
 * loads into a graph that writes itself back (`toSpec`) as a spec that
 * loads again with the same fingerprint. A route named `"__proto__"` (a
 * plain key in JSON, the prototype slot in an object literal) was
 * accepted, counted by the fingerprint, and dropped from the graph's
 * routes, so the spec written back did not load.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromSpec, GraphDefinitionError, toSpec, type TaskGraph } from "../src/index.js";

const registry = { f: () => 1, out: (o: unknown) => o, again: () => true };

const BASE = {
  version: 1,
  name: "g",
  nodes: [
    {
      id: "a",
      after: [],
      fn: "f",
      retry: { maxAttempts: 2, backoff: { initialMs: 1, factor: 2, maxMs: 5, jitter: true }, retryOn: "again", timeoutMs: 4 },
      routes: { go: ["b"], stop: ["c"] },
      maxVisits: 2,
    },
    { id: "b", after: [], fn: "f", timeoutMs: 3 },
    { id: "c", after: ["a"], fn: "f", map: { source: "a", maxConcurrency: 2 } },
  ],
  output: "out",
};

/** Every path to a value of BASE (objects and arrays included). */
function pathsOf(value: unknown, at: (string | number)[] = [], into: (string | number)[][] = []): (string | number)[][] {
  into.push(at);
  if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) pathsOf(v, [...at, Array.isArray(value) ? Number(k) : k], into);
  }
  return into;
}

function expectRefusedOrRoundTrips(spec: unknown): void {
  let graph: TaskGraph | undefined;
  try {
    graph = fromSpec(spec, registry);
  } catch (err) {
    expect(err).toBeInstanceOf(GraphDefinitionError);
    return;
  }
  const written = JSON.parse(JSON.stringify(toSpec(graph))) as unknown;
  expect(fromSpec(written, registry).fingerprint).toBe(graph.fingerprint);
}

describe("a spec edited by hand", () => {
  it("refuses a route named __proto__ and names the node and the field", () => {
    const spec = JSON.parse(
      '{"version":1,"name":"g","nodes":[{"id":"a","after":[],"fn":"f","routes":{"__proto__":["b"],"go":["b"]}},{"id":"b","after":[],"fn":"f"}]}',
    ) as unknown;
    expect(() => fromSpec(spec, registry)).toThrow(GraphDefinitionError);
    expect(() => fromSpec(spec, registry)).toThrow(/nodes\[0\] \("a"\) routes: .*"__proto__"/);
  });

  it("is refused with GraphDefinitionError, or loads and writes back a spec that loads with the same fingerprint", () => {
    const paths = pathsOf(BASE);
    const key = fc.oneof(fc.constantFrom("__proto__", "constructor", "toString", "retries", "go", "id", "after", "fn", "source"), fc.string({ maxLength: 4 }));
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom("a", "b", "c", "f", "__proto__", "constructor", ["b"], ["c"], ["a", "b"], {}));
    const edit = fc.record({ path: fc.constantFrom(...paths), key: fc.option(key), value, remove: fc.boolean() });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.nat(5), (edits, order) => {
        // Edited as text would be: own properties only, "__proto__" a plain key, as JSON.parse makes it.
        const spec = JSON.parse(JSON.stringify(BASE)) as Record<string, unknown>;
        // The nodes in any order (a spec lists them in a topological order, a person may not).
        const nodes = spec.nodes as unknown[];
        spec.nodes = [0, 1, 2].map(
          (i) =>
            nodes[
              [
                [0, 1, 2],
                [0, 2, 1],
                [1, 0, 2],
                [1, 2, 0],
                [2, 0, 1],
                [2, 1, 0],
              ][order]?.[i] ?? i
            ],
        );
        for (const e of edits) {
          let target: unknown = spec;
          for (const seg of e.path) target = target !== null && typeof target === "object" ? (target as Record<string, unknown>)[seg] : undefined;
          if (target === null || typeof target !== "object") continue;
          const k = e.key ?? Object.keys(target)[0];
          if (k === undefined) continue;
          if (e.remove) delete (target as Record<string, unknown>)[k];
          else Object.defineProperty(target, k, { value: structuredClone(e.value), enumerable: true, writable: true, configurable: true });
        }
        expectRefusedOrRoundTrips(JSON.parse(JSON.stringify(spec)));
      }),
      { numRuns: 3000, examples: [[[{ path: ["nodes", 0, "routes"], key: "__proto__", value: ["b"], remove: false }], 0]] },
    );
  });
});
