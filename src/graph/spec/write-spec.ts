/**
 * Writing a {@link GraphSpec}: the work behind `TaskGraph.toSpec()` and
 * `toSpec(graph)`. It reads the graph through {@link SpecSource}, the
 * part of `TaskGraph` it needs, and never imports the class, so the class
 * can call it without an import cycle.
 *
 * Every function in the graph (node bodies, `retryOn` predicates, the
 * output function) needs a name that `fromSpec` will find in a registry:
 * the key under which the `registry` option holds that very function, or
 * else the function's own `name`. Everything that would make the spec
 * load something else than what was written is refused, all problems at
 * once: anonymous functions, two different functions under one name, a
 * function's own name bound to another function in the registry, node
 * fields this format does not know (so that a new kind of node is never
 * silently dropped), and graphs whose origin says they have no static
 * structure (`graphFn`) or that their wiring is code (`graphify`).
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../../core/known-keys.js";
import { InvalidOptionError } from "../../errors.js";
import type { GraphNode, GraphOrigin } from "../definition.js";
import type { FunctionRegistry, GraphSpec, NodeSpec, RetrySpec, ToSpecOptions } from "./format.js";
import { GraphDefinitionError } from "../errors.js";

/** What writing a spec reads of a graph: a `TaskGraph` is one. */
export interface SpecSource {
  readonly name: string;
  readonly fingerprint: string;
  readonly origin: GraphOrigin;
  /** Node ids in a topological order: the spec lists its nodes so. */
  readonly order: readonly string[];
  node(id: string): GraphNode | undefined;
}

const TO_SPEC_OPTION_KEYS = optionKeys<ToSpecOptions>({ registry: true });
const NODE_FIELDS = new Set(["id", "after", "fn", "retry", "timeoutMs", "map", "routes", "maxVisits"]);
const RETRY_FIELDS = new Set(["maxAttempts", "backoff", "retryOn", "timeoutMs"]);
const BACKOFF_FIELDS = ["initialMs", "factor", "maxMs", "jitter"] as const;

/** Names functions for one spec; collects the problems. */
class Namer {
  readonly problems: string[] = [];
  readonly #registry: FunctionRegistry;
  readonly #byFunction = new Map<unknown, string>();
  readonly #byName = new Map<string, { fn: unknown; what: string }>();

  constructor(registry: FunctionRegistry) {
    this.#registry = registry;
    // The first key wins when one function is registered under several names.
    for (const [key, fn] of Object.entries(registry)) if (!this.#byFunction.has(fn)) this.#byFunction.set(fn, key);
  }

  name(fn: unknown, what: string): string {
    let name = this.#byFunction.get(fn);
    if (name === undefined) {
      const own = typeof fn === "function" ? fn.name : "";
      if (own === "" || own === "anonymous") {
        this.problems.push(`${what} is an anonymous function: name it (a function declaration or a const), or pass it in { registry }`);
        return "";
      }
      const bound = Object.hasOwn(this.#registry, own) ? this.#registry[own] : undefined;
      if (bound !== undefined) {
        this.problems.push(
          `${what} is a function named "${own}", but the registry's "${own}" is another function: add this one to the registry under its own name`,
        );
        return own;
      }
      name = own;
    }
    const seen = this.#byName.get(name);
    if (seen && seen.fn !== fn) {
      this.problems.push(`${seen.what} and ${what} are different functions both named "${name}": pass { registry } to give them distinct names`);
    } else if (!seen) {
      this.#byName.set(name, { fn, what });
    }
    return name;
  }
}

/** Writes the spec of `graph`, whose output function is `output`; see `toSpec`. */
export function writeSpec(graph: SpecSource, output: unknown, options: ToSpecOptions = {}): GraphSpec {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("toSpec options", "must be an object");
  assertKnownKeys("toSpec", options, TO_SPEC_OPTION_KEYS);
  const registry = options.registry ?? {};
  if (registry === null || typeof registry !== "object") {
    throw new InvalidOptionError("toSpec registry", "must be an object of functions by name");
  }
  if (graph.origin === "graphFn") {
    throw new GraphDefinitionError(graph.name, [
      "it is a graphFn graph: its steps are decided by its code as it runs, so it has no structure a spec can hold; keep it in code",
    ]);
  }
  if (graph.origin === "graphify") {
    throw new GraphDefinitionError(graph.name, [
      `it was made by graphify (nodes ${graph.order.map((id) => `"${id}"`).join(", ")}): how its tasks' arguments are wired is code, ` +
        "which a spec cannot hold; keep graphify graphs in code, or build the graph with graph() and named functions to store it",
    ]);
  }
  const namer = new Namer(registry);
  const nodes = graph.order.map((id): NodeSpec => {
    const n = graph.node(id);
    if (!n) throw new Error(`taskloom internal error: no node "${id}" in graph "${graph.name}"`);
    const what = `node "${id}"`;
    for (const key of Object.keys(n)) {
      if (!NODE_FIELDS.has(key) && (n as unknown as Record<string, unknown>)[key] !== undefined) {
        namer.problems.push(`${what} has "${key}", which stored specs (version 1) cannot hold`);
      }
    }
    let retry: RetrySpec | undefined;
    if (n.retry !== undefined) {
      for (const key of Object.keys(n.retry)) {
        if (!RETRY_FIELDS.has(key)) namer.problems.push(`${what} retry has "${key}", which stored specs (version 1) cannot hold`);
      }
      const { maxAttempts, backoff, retryOn, timeoutMs } = n.retry;
      retry = {
        ...(maxAttempts !== undefined && { maxAttempts }),
        ...(backoff !== undefined && {
          backoff: Object.fromEntries(BACKOFF_FIELDS.filter((k) => backoff[k] !== undefined).map((k) => [k, backoff[k]])),
        }),
        ...(retryOn !== undefined && { retryOn: namer.name(retryOn, `${what} retry.retryOn`) }),
        ...(timeoutMs !== undefined && { timeoutMs }),
      };
    }
    const maxConcurrency = n.map?.maxConcurrency;
    return {
      id,
      after: [...n.after],
      fn: namer.name(n.fn, what),
      ...(retry !== undefined && { retry }),
      ...(n.timeoutMs !== undefined && { timeoutMs: n.timeoutMs }),
      // Infinity (no limit) is not JSON: leave it out, which means the same and hashes the same.
      ...(n.map !== undefined && {
        map: { source: n.map.source, ...(maxConcurrency !== undefined && Number.isFinite(maxConcurrency) && { maxConcurrency }) },
      }),
      // A copy, as for every other field: the graph's route table is frozen, and a spec is the caller's to edit.
      ...(n.routes !== undefined && { routes: Object.fromEntries(Object.entries(n.routes).map(([name, targets]) => [name, [...targets]])) }),
      ...(n.maxVisits !== undefined && { maxVisits: n.maxVisits }),
    };
  });
  const outputName = output === undefined ? undefined : namer.name(output, "the output function");
  if (namer.problems.length > 0) throw new GraphDefinitionError(graph.name, namer.problems);
  return {
    version: 1,
    name: graph.name,
    nodes,
    ...(outputName !== undefined && { output: outputName }),
    fingerprint: graph.fingerprint,
  };
}
