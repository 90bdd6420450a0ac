/**
 * The stored form of a graph (the JSON shape): {@link GraphSpec} and its
 * parts, the registry of functions by name, and the options of `toSpec`
 * and `fromSpec`. A spec holds the structure that the fingerprint covers
 * (ids, edges, retry and timeout settings, map fan-out, routes) and, in
 * place of each function, a name.
 *
 * Invariants: types and the format version only; no module of
 * `src/graph` is imported here but the types of `input-validator.ts`, so
 * the writer, the reader and `TaskGraph` can all use it.
 *
 * @module
 */
import type { BackoffOptions } from "../retry-options.js";
import type { InputValidator } from "../input-validator.js";

/** The spec format version taskloom writes and reads. */
export const GRAPH_SPEC_VERSION = 1;

/**
 * A graph as JSON: what {@link toSpec} returns and {@link fromSpec} reads.
 *
 * @example
 * ```json
 * { "version": 1, "name": "etl", "fingerprint": "…",
 *   "nodes": [{ "id": "fetch", "after": [], "fn": "fetchPage", "retry": { "maxAttempts": 5 } },
 *             { "id": "parse", "after": ["fetch"], "fn": "parsePage" }],
 *   "output": "summarize" }
 * ```
 */
export interface GraphSpec {
  /** The format version: 1. */
  readonly version: 1;
  /** The graph's name. */
  readonly name: string;
  /** The nodes, in a topological order. */
  readonly nodes: readonly NodeSpec[];
  /** The registry name of the output function `(outputs, inputs) => …`; absent when the outputs are all node outputs. */
  readonly output?: string;
  /**
   * The graph's fingerprint when the spec was written. Optional when
   * reading (a spec written by hand has none); when present, `fromSpec`
   * refuses a spec whose graph has another fingerprint.
   */
  readonly fingerprint: string;
}

/** One node of a {@link GraphSpec}. */
export interface NodeSpec {
  /** The node id. */
  readonly id: string;
  /** The ids of the nodes it runs after. */
  readonly after: readonly string[];
  /** The registry name of its function (it receives the usual `NodeContext`). */
  readonly fn: string;
  /** Its retry options; `retryOn` is a registry name too. */
  readonly retry?: RetrySpec;
  /** Its per-attempt time limit (ms). */
  readonly timeoutMs?: number;
  /** Set for a map node. */
  readonly map?: { readonly source: string; readonly maxConcurrency?: number };
  /** Set for a routing node: route name → target node ids. */
  readonly routes?: Readonly<Record<string, readonly string[]>>;
  /** At most this many visits of the node in one run (routing loops). */
  readonly maxVisits?: number;
}

/** A node's retry options in a {@link GraphSpec}. */
export interface RetrySpec {
  /** Attempts in all, the first included. */
  readonly maxAttempts?: number;
  /** Backoff between attempts. */
  readonly backoff?: BackoffOptions;
  /** The registry name of the `retryOn(error, attempt)` predicate. */
  readonly retryOn?: string;
  /** Per-attempt time limit (ms). */
  readonly timeoutMs?: number;
}

/** Functions by name: node bodies, output functions and `retryOn` predicates. */
export type FunctionRegistry = Readonly<Record<string, (...args: never[]) => unknown>>;

/** Options of {@link toSpec}. */
export interface ToSpecOptions {
  /**
   * Names for the graph's functions, found by identity. A function not in
   * it is named by its own `name`, which must be non-empty and not
   * `"anonymous"`. Pass the same registry to {@link fromSpec}.
   */
  readonly registry?: FunctionRegistry;
}

/** Options of {@link fromSpec}. */
export interface FromSpecOptions<I> {
  /** Validates the inputs before anything runs (validators are not stored in specs). */
  readonly input?: InputValidator<I>;
}
