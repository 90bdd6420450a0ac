/**
 * The fingerprint of a graph: a SHA-256 over its name, node ids, edges and
 * node options in a canonical order. Function bodies are left out on
 * purpose: fixing a bug in a node must not orphan the runs it left behind;
 * changing what depends on what, or how a node retries, does.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { NodeDefinition } from "./definition.js";
import type { RoutesOption } from "./route.js";

/** Routes with names and targets sorted, targets always arrays. */
function canonicalRoutes(routes: RoutesOption): [string, string[]][] {
  return Object.entries(routes)
    .map(([name, targets]): [string, string[]] => [name, typeof targets === "string" ? [targets] : [...targets].sort()])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** The fingerprint of a graph's structure and options. */
export function fingerprintOf(name: string, nodes: readonly NodeDefinition[], hasOutput: boolean, dynamic = false): string {
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
        ...(n.routes && { routes: canonicalRoutes(n.routes) }),
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
