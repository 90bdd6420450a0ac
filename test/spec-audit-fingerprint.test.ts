/**
 * Stored graphs audit, the fingerprint that resume compares: the same
 * graph has the same fingerprint whatever order its nodes, `after` lists,
 * routes and option keys are given in, and a change of meaning (an edge,
 * a time limit, a retry setting, a route, a map's limit) changes it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { NodeDefinition } from "../src/graph/definition.js";
import { fingerprintOf } from "../src/graph/fingerprint.js";

const fn = (): null => null;

const graphArb = fc.uniqueArray(fc.string({ unit: "grapheme", minLength: 1, maxLength: 5 }), { minLength: 2, maxLength: 8 }).chain((ids) =>
  fc.tuple(
    ...ids.map((id, i) =>
      fc
        .record(
          {
            after: fc.subarray(ids.slice(0, i)),
            timeoutMs: fc.integer({ min: 1, max: 1e6 }),
            maxVisits: fc.integer({ min: 1, max: 5 }),
            retry: fc.record(
              { maxAttempts: fc.integer({ min: 1, max: 5 }), backoff: fc.record({ initialMs: fc.nat(100), jitter: fc.boolean() }) },
              { requiredKeys: [] },
            ),
            routes: fc.dictionary(fc.string({ minLength: 1, maxLength: 3 }), fc.subarray(ids, { minLength: 1 }), { minKeys: 1, maxKeys: 3 }),
          },
          { requiredKeys: ["after"] },
        )
        .map((o): NodeDefinition => ({ id, fn, ...o })),
    ),
  ),
);

/** The same node with every list and object key in reverse order. */
function reordered(n: NodeDefinition): NodeDefinition {
  const reverseKeys = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).reverse()) as T;
  const copy: Record<string, unknown> = reverseKeys({ ...n, after: [...n.after].reverse() });
  if (n.retry) copy.retry = reverseKeys({ ...n.retry, ...(n.retry.backoff && { backoff: reverseKeys(n.retry.backoff) }) });
  if (n.routes)
    copy.routes = Object.fromEntries(
      Object.entries(n.routes)
        .reverse()
        .map(([k, t]) => [k, [...t].reverse()]),
    );
  return copy as unknown as NodeDefinition;
}

describe("graph fingerprint", () => {
  it("property: the same for any order of nodes, after lists, routes and keys", () => {
    fc.assert(
      fc.property(graphArb, fc.boolean(), (nodes, hasOutput) => {
        expect(fingerprintOf("g", [...nodes].reverse().map(reordered), hasOutput)).toBe(fingerprintOf("g", nodes, hasOutput));
      }),
    );
  });

  it("property: changes when a node's edges or options change", () => {
    const changes: ((n: NodeDefinition, ids: string[]) => NodeDefinition)[] = [
      (n) => ({ ...n, timeoutMs: (n.timeoutMs ?? 0) + 1 }),
      (n) => ({ ...n, maxVisits: (n.maxVisits ?? 0) + 1 }),
      (n) => ({ ...n, retry: { ...n.retry, maxAttempts: (n.retry?.maxAttempts ?? 0) + 1 } }),
      (n) => ({ ...n, retry: { ...n.retry, retryOn: n.retry?.retryOn ? undefined : () => true } }),
      (n, ids) => ({ ...n, after: n.after.length > 0 ? n.after.slice(1) : [ids.find((id) => id !== n.id)!] }),
      (n) => ({ ...n, routes: { ...n.routes, another: [n.id] } }),
      (n, ids) => ({ ...n, map: n.map ? { ...n.map, maxConcurrency: (n.map.maxConcurrency ?? 1) + 1 } : { source: ids[0]! } }),
    ];
    fc.assert(
      fc.property(graphArb, fc.nat(), fc.constantFrom(...changes), (nodes, at, change) => {
        const i = at % nodes.length;
        const changed = nodes.map((n, k) =>
          k === i
            ? change(
                n,
                nodes.map((x) => x.id),
              )
            : n,
        );
        expect(fingerprintOf("g", changed, false)).not.toBe(fingerprintOf("g", nodes, false));
      }),
    );
  });
});
