/**
 * Stored graphs audit, the round trip: any valid graph (ids with unusual
 * but valid characters, routes, maps, retries, timeouts, `after` lists,
 * nodes in any order) written with `toSpec`, put through JSON and read
 * back with `fromSpec`, is the same graph: the same fingerprint, order and
 * nodes, and it writes itself back as the same spec.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromSpec, GraphDefinitionError, TaskGraph, toSpec } from "../src/index.js";
import type { NodeDefinition } from "../src/graph/definition.js";

function body(): number {
  return 1;
}
function again(): boolean {
  return true;
}
function out(outputs: Record<string, unknown>): unknown {
  return outputs;
}
const registry = { body, again, out };

/** Node ids: plain, unusual (quotes, brackets, unicode, spaces inside, names of Object.prototype) and random. */
const idArb = fc
  .oneof(
    fc.constantFrom("a", "b", "c", "constructor", "toString", "hasOwnProperty", 'q"uote', "back\\slash", "m[0", "x]", "日本", "e\u0301", "😀", "a b", "trail "),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }),
    fc.string({ unit: "binary", minLength: 1, maxLength: 8 }),
  )
  .filter((id) => /^[^#\s][^#]*$/.test(id) && id !== "__proto__");

const retryArb = fc.record(
  {
    maxAttempts: fc.integer({ min: 1, max: 9 }),
    timeoutMs: fc.double({ min: 0.5, max: 1e6, noNaN: true }),
    retryOn: fc.constant(again),
    backoff: fc.record(
      { initialMs: fc.double({ min: 0, max: 1e5, noNaN: true }), factor: fc.double({ min: 1, max: 5, noNaN: true }), maxMs: fc.nat(1e6), jitter: fc.boolean() },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

/** A graph's parts: nodes listed in any order, each after earlier ones (in a hidden order), some maps and routing nodes. */
const graphArb = fc
  .uniqueArray(idArb, { minLength: 1, maxLength: 8 })
  .chain((ids) =>
    fc.tuple(
      fc.constant(ids),
      fc.tuple(
        ...ids.map((id, i) =>
          fc.record(
            {
              after: fc.subarray(ids.slice(0, i)),
              retry: retryArb,
              timeoutMs: fc.integer({ min: 1, max: 1e6 }),
              maxVisits: fc.integer({ min: 1, max: 5 }),
              mapConcurrency: fc.option(fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(Infinity))),
              routes: fc.dictionary(
                fc
                  .oneof(fc.constantFrom("go", "constructor", "toString", "ré"), fc.string({ minLength: 1, maxLength: 5 }))
                  .filter((r) => r.trim() !== "" && r !== "__proto__"),
                fc.oneof(fc.constantFrom(...ids), fc.subarray(ids)),
                { minKeys: 1, maxKeys: 3 },
              ),
            },
            { requiredKeys: ["after"] },
          ),
        ),
      ),
      fc.boolean(),
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }).filter((s) => s.trim() !== ""),
      fc.nat(),
    ),
  )
  .map(([ids, options, hasOutput, name, seed]) => {
    const nodes = ids.map((id, i): NodeDefinition => {
      const o = options[i]!;
      const isMap = o.mapConcurrency !== undefined && o.after.length > 0;
      return {
        id,
        fn: body,
        after: o.after,
        ...(o.retry !== undefined && { retry: o.retry }),
        ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
        ...(o.maxVisits !== undefined && { maxVisits: o.maxVisits }),
        ...(isMap && { map: { source: o.after[0]!, ...(o.mapConcurrency !== null && { maxConcurrency: o.mapConcurrency }) } }),
        ...(!isMap && o.routes !== undefined && { routes: o.routes }),
      };
    });
    // Listed in a shuffled order: a graph's nodes need not be given in a topological order.
    const shuffled = nodes
      .map((n, i) => ({ n, k: (i * 7919 + seed) % 104_729 }))
      .sort((x, y) => x.k - y.k)
      .map((x) => x.n);
    return { name, nodes: shuffled, hasOutput };
  });

/** The graph, or undefined when these parts are not a valid graph (routes the routing topology refuses, say). */
function build(parts: { name: string; nodes: NodeDefinition[]; hasOutput: boolean }): TaskGraph | undefined {
  try {
    return new TaskGraph({ name: parts.name, nodes: parts.nodes, ...(parts.hasOutput && { output: out }) });
  } catch (err) {
    if (err instanceof GraphDefinitionError) return undefined;
    throw err;
  }
}

/** What a node means, functions by name. */
function meaning(g: TaskGraph, id: string): unknown {
  const n = g.node(id)!;
  const { retryOn, ...retry } = n.retry ?? {};
  return {
    after: [...n.after],
    retry: n.retry === undefined ? undefined : { ...retry, retryOn: retryOn === undefined ? undefined : retryOn.name },
    timeoutMs: n.timeoutMs,
    map: n.map === undefined ? undefined : { source: n.map.source, maxConcurrency: n.map.maxConcurrency ?? Infinity },
    routes: n.routes,
    maxVisits: n.maxVisits,
  };
}

describe("toSpec → JSON → fromSpec", () => {
  it("property: gives the same graph, which writes the same spec", () => {
    let built = 0;
    fc.assert(
      fc.property(graphArb, (parts) => {
        const g = build(parts);
        fc.pre(g !== undefined);
        built += 1;
        const text = JSON.stringify(toSpec(g, { registry }));
        const loaded = fromSpec(JSON.parse(text) as unknown, registry);
        expect(loaded.fingerprint).toBe(g.fingerprint);
        expect(loaded.name).toBe(g.name);
        expect(loaded.order).toEqual(g.order);
        for (const id of g.order) expect(meaning(loaded, id)).toEqual(meaning(g, id));
        expect(JSON.stringify(toSpec(loaded, { registry }))).toBe(text);
      }),
      { numRuns: 500 },
    );
    expect(built).toBeGreaterThan(100);
  });
});

describe("toSpec", () => {
  it("returns data the caller can edit (routes too) without touching the graph", () => {
    const g = new TaskGraph({
      name: "edit",
      nodes: [
        { id: "a", after: [], fn: body, routes: { go: "b" } },
        { id: "b", after: [], fn: body },
      ],
    });
    const spec = toSpec(g) as unknown as { nodes: { routes?: Record<string, string[]>; after: string[] }[]; fingerprint?: string };
    spec.nodes[0]!.routes!.go!.push("a");
    spec.nodes[0]!.routes!.stop = [];
    delete spec.fingerprint;
    expect(g.node("a")?.routes).toEqual({ go: ["b"] });
    expect(fromSpec(spec, registry).node("a")?.routes).toEqual({ go: ["b", "a"], stop: [] });
  });
});
