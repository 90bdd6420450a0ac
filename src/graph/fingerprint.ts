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

/** The canonical form of one node, as the fingerprint hashes it. */
function canonicalNode(n: NodeDefinition): object {
  return {
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
  };
}

/** Characters of canonical JSON gathered before they are handed to the hash. */
const CHUNK = 64 * 1024;

/**
 * The fingerprint of a graph's structure and options: the SHA-256 of
 * `JSON.stringify({ name, hasOutput, dynamic?, nodes: [canonical node…] })`
 * with the nodes sorted by id. The JSON is fed to the hash node by node,
 * never built whole: at a million nodes the whole document would be a
 * string of some hundred megabytes plus an object per node, all alive at
 * once. The bytes hashed are exactly those of the whole document, so
 * fingerprints do not change.
 */
export function fingerprintOf(name: string, nodes: readonly NodeDefinition[], hasOutput: boolean, dynamic = false): string {
  const hash = createHash("sha256");
  const head = JSON.stringify({ name, hasOutput, ...(dynamic && { dynamic }) });
  let chunk = `${head.slice(0, -1)},"nodes":[`;
  const sorted = [...nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0) chunk += ",";
    chunk += JSON.stringify(canonicalNode(sorted[i] as NodeDefinition));
    if (chunk.length >= CHUNK) {
      hash.update(chunk);
      chunk = "";
    }
  }
  hash.update(`${chunk}]}`);
  return hash.digest("hex");
}
