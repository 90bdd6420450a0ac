/**
 * The graph fingerprint is hashed node by node (a million-node graph never
 * builds its canonical JSON whole), and must stay byte for byte what it
 * was: stored runs compare it, and a changed fingerprint would refuse to
 * resume every run stored before. The reference below is the former
 * whole-document implementation.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { NodeDefinition } from "../src/graph/definition.js";
import { fingerprintOf } from "../src/graph/fingerprint.js";
import { graph } from "../src/index.js";

/** The fingerprint as it was computed before: one JSON document, hashed whole. */
function referenceFingerprint(name: string, nodes: readonly NodeDefinition[], hasOutput: boolean, dynamic = false): string {
  const canonicalRoutes = (routes: Record<string, string | readonly string[]>): [string, string[]][] =>
    Object.entries(routes)
      .map(([route, targets]): [string, string[]] => [route, typeof targets === "string" ? [targets] : [...targets].sort()])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const canonical = {
    name,
    hasOutput,
    ...(dynamic && { dynamic }),
    nodes: [...nodes]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((n) => ({
        id: n.id,
        after: [...n.after].sort(),
        timeoutMs: n.timeoutMs ?? null,
        ...(n.map && { map: { source: n.map.source, maxConcurrency: n.map.maxConcurrency ?? null } }),
        ...(n.routes && { routes: canonicalRoutes(n.routes as Record<string, string | readonly string[]>) }),
        ...(n.maxVisits !== undefined && { maxVisits: n.maxVisits }),
        retry: n.retry
          ? {
              maxAttempts: n.retry.maxAttempts ?? null,
              timeoutMs: n.retry.timeoutMs ?? null,
              retryOn: n.retry.retryOn !== undefined,
              backoff: n.retry.backoff
                ? {
                    initialMs: n.retry.backoff.initialMs ?? null,
                    factor: n.retry.backoff.factor ?? null,
                    maxMs: n.retry.backoff.maxMs ?? null,
                    jitter: n.retry.backoff.jitter ?? null,
                  }
                : null,
            }
          : null,
      })),
  };
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

const fn = (): null => null;

const nodeArb = (ids: readonly string[], i: number): fc.Arbitrary<NodeDefinition> =>
  fc
    .record(
      {
        after: fc.subarray(ids.slice(0, i)),
        timeoutMs: fc.integer({ min: 1, max: 10_000 }),
        maxVisits: fc.integer({ min: 1, max: 5 }),
        retry: fc.record(
          {
            maxAttempts: fc.integer({ min: 1, max: 5 }),
            timeoutMs: fc.integer({ min: 1, max: 10_000 }),
            backoff: fc.record({ initialMs: fc.integer({ min: 0, max: 100 }), factor: fc.double({ min: 1, max: 3, noNaN: true }) }, { requiredKeys: [] }),
          },
          { requiredKeys: [] },
        ),
        routes: fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), fc.oneof(fc.constantFrom(...ids), fc.subarray([...ids])), { maxKeys: 3 }),
        map: fc.record({ source: fc.constantFrom(...ids), maxConcurrency: fc.integer({ min: 1, max: 4 }) }, { requiredKeys: ["source"] }),
      },
      { requiredKeys: ["after"] },
    )
    .map((options) => ({ id: ids[i] as string, fn, ...options }));

describe("graph fingerprint", () => {
  it("property: hashed node by node, it equals the whole-document hash for any nodes and options", () => {
    fc.assert(
      fc.property(
        fc
          .uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 })
          .chain((ids) => fc.tuple(...ids.map((_, i) => nodeArb(ids, i)))),
        fc.string({ maxLength: 10 }),
        fc.boolean(),
        fc.boolean(),
        (nodes, name, hasOutput, dynamic) => {
          expect(fingerprintOf(name, nodes, hasOutput, dynamic)).toBe(referenceFingerprint(name, nodes, hasOutput, dynamic));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("equals the whole-document hash on a graph larger than one hashed chunk (5,000 nodes)", () => {
    const ids = Array.from({ length: 5_000 }, (_, i) => `node-${i}`);
    const nodes: NodeDefinition[] = ids.map((id, i) => ({ id, fn, after: i === 0 ? [] : [ids[i - 1] as string] }));
    expect(fingerprintOf("big", nodes, true)).toBe(referenceFingerprint("big", nodes, true));
  });

  it("a built graph keeps the fingerprint stored runs were made with", () => {
    const g = graph("etl")
      .node("fetch", () => 1)
      .node("parse", () => 2, { after: ["fetch"], retry: { maxAttempts: 2 } })
      .output(({ parse }) => parse)
      .build();
    expect(g.fingerprint).toBe("81b6732a0152f80eaacbe9af6635f45585b52650dfd7a62e5a78945eb623fd26");
  });
});
