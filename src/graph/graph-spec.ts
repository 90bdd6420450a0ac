/**
 * Stored graphs: a `TaskGraph` as plain JSON (`toSpec`) and back
 * (`fromSpec`). A spec holds the structure that the fingerprint covers
 * (ids, edges, retry and timeout settings, map fan-out) and, in place of
 * each function, a name; `fromSpec` looks the names up in a registry of
 * functions. So a graph round-tripped through JSON has the same
 * fingerprint as the original, and a run started by one resumes under the
 * other.
 *
 * `fromSpec` trusts nothing: it checks the spec's shape and reports every
 * problem at once, then every function name the registry lacks, then
 * builds the graph (which validates ids, edges, cycles and option values),
 * then compares the fingerprint the spec recorded, if any, with the
 * graph's own, so that a spec edited by hand after `toSpec` is noticed.
 * Writing lives in `spec-writer.ts`, so that `TaskGraph.toSpec()` can use
 * it without an import cycle.
 *
 * @module
 */
import { assertKnownKeys, optionKeys, unknownKeyProblems } from "../core/known-keys.js";
import { GraphDefinitionError, InvalidOptionError } from "../errors.js";
import type { BackoffOptions } from "../engine/retry-policy.js";
import { isInputValidator, type InputValidator } from "./input-validator.js";
import { TaskGraph, type NodeDefinition, type OutputFunction } from "./task-graph.js";

/** The spec format version this module writes and reads. */
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

const FROM_SPEC_OPTION_KEYS = optionKeys<FromSpecOptions<unknown>>({ input: true });

/**
 * Describes `graph` as JSON-able data: the same as `graph.toSpec(options)`.
 * Throws `GraphDefinitionError` listing every function it cannot name
 * (anonymous, or two different functions with one name), and for graphs
 * that have no static structure to store (`graphFn`, `graphify`).
 *
 * @example
 * ```ts
 * const registry = { fetchPage, parsePage, summarize };
 * writeFileSync("etl.json", JSON.stringify(toSpec(etl, { registry }), null, 2));
 * ```
 */
export function toSpec<I, O>(graph: TaskGraph<I, O>, options?: ToSpecOptions): GraphSpec {
  if (!(graph instanceof TaskGraph)) throw new InvalidOptionError("toSpec(graph)", "graph must be a TaskGraph");
  return graph.toSpec(options);
}

/**
 * Builds a validated {@link TaskGraph} from a spec (as {@link toSpec}
 * wrote it, after `JSON.parse`) and a registry of functions by name.
 * Throws `GraphDefinitionError` listing every problem: a malformed spec
 * (wrong version, nodes not an array, fields of the wrong type, unknown
 * fields), every function name the registry lacks, an invalid graph, or a
 * fingerprint that does not match.
 *
 * @typeParam I - the inputs
 * @typeParam O - the outputs
 *
 * @example
 * ```ts
 * const etl = fromSpec<{ url: string }, { rows: number }>(JSON.parse(readFileSync("etl.json", "utf8")), registry);
 * await runAsync(etl, { url }, { runId: "etl-1" });
 * ```
 */
export function fromSpec<I = unknown, O = unknown>(
  spec: unknown,
  registry: FunctionRegistry,
  options: FromSpecOptions<I> = {},
): TaskGraph<I, O> {
  if (registry === null || typeof registry !== "object") {
    throw new InvalidOptionError("fromSpec(spec, registry)", "registry must be an object of functions by name");
  }
  if (options === null || typeof options !== "object") throw new InvalidOptionError("fromSpec options", "must be an object");
  assertKnownKeys("fromSpec", options, FROM_SPEC_OPTION_KEYS);
  if (options.input !== undefined && !isInputValidator(options.input)) {
    throw new InvalidOptionError("fromSpec input", "must have a parse(value) method or be a Standard Schema");
  }
  const raw = spec as Record<string, unknown> | null;
  const graphName = typeof raw?.name === "string" && raw.name !== "" ? raw.name : "(spec)";
  const problems = specProblems(spec);
  if (problems.length > 0) throw new GraphDefinitionError(graphName, problems);
  const parsed = spec as GraphSpec;

  const uses = new Map<string, string[]>();
  const use = (name: string, by: string): void => void (uses.get(name) ?? uses.set(name, []).get(name))?.push(by);
  for (const n of parsed.nodes) {
    use(n.fn, `node "${n.id}"`);
    if (n.retry?.retryOn !== undefined) use(n.retry.retryOn, `node "${n.id}" retry.retryOn`);
  }
  if (parsed.output !== undefined) use(parsed.output, "the output");
  const missing: string[] = [];
  for (const [name, by] of uses) {
    const fn = Object.hasOwn(registry, name) ? registry[name] : undefined;
    if (typeof fn !== "function") {
      missing.push(
        `the registry has no function "${name}" (used by ${by.join(", ")})${fn === undefined ? "" : `: it holds a ${typeof fn}`}`,
      );
    }
  }
  if (missing.length > 0) throw new GraphDefinitionError(graphName, missing);

  const lookup = (name: string): NodeDefinition["fn"] => registry[name] as unknown as NodeDefinition["fn"];
  const nodes = parsed.nodes.map((n): NodeDefinition => {
    const { retryOn, ...retry } = n.retry ?? {};
    return {
      id: n.id,
      after: [...n.after],
      fn: lookup(n.fn),
      ...(n.retry !== undefined && {
        retry: { ...retry, ...(retryOn !== undefined && { retryOn: lookup(retryOn) as (e: unknown, a: number) => boolean }) },
      }),
      ...(n.timeoutMs !== undefined && { timeoutMs: n.timeoutMs }),
      ...(n.map !== undefined && { map: { ...n.map } }),
      ...(n.routes !== undefined && { routes: n.routes }),
      ...(n.maxVisits !== undefined && { maxVisits: n.maxVisits }),
    };
  });
  const graph = new TaskGraph<I, O>({
    name: parsed.name,
    nodes,
    inputValidator: options.input,
    output: parsed.output === undefined ? undefined : (lookup(parsed.output) as unknown as OutputFunction<I, O>),
  });
  const recorded = (spec as { fingerprint?: string }).fingerprint;
  if (recorded !== undefined && recorded !== graph.fingerprint) {
    throw new GraphDefinitionError(graphName, [
      `the spec records fingerprint ${recorded}, but the graph it describes has fingerprint ${graph.fingerprint}: ` +
        "the spec was changed after toSpec wrote it; write it again with toSpec, or remove the fingerprint field to accept the change",
    ]);
  }
  return graph;
}

/** Every problem with the shape of a spec (types and known fields only; values are checked by the graph). */
export function specProblems(spec: unknown): string[] {
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    return [`the spec must be an object as toSpec writes it (got ${kind(spec)})`];
  }
  const s = spec as Record<string, unknown>;
  const problems: string[] = [];
  problems.push(...unknownKeyProblems("", s, SPEC_FIELDS, "field"));
  if (s.version !== GRAPH_SPEC_VERSION) {
    problems.push(`version must be ${GRAPH_SPEC_VERSION} (got ${kind(s.version)}); this taskloom reads version ${GRAPH_SPEC_VERSION} specs`);
  }
  if (typeof s.name !== "string" || s.name === "") problems.push(`name must be a non-empty string (got ${kind(s.name)})`);
  if (s.output !== undefined && typeof s.output !== "string") problems.push(`output must be a function name (got ${kind(s.output)})`);
  if (s.fingerprint !== undefined && typeof s.fingerprint !== "string") {
    problems.push(`fingerprint must be a string (got ${kind(s.fingerprint)})`);
  }
  if (!Array.isArray(s.nodes)) {
    problems.push(`nodes must be an array (got ${kind(s.nodes)})`);
  } else {
    s.nodes.forEach((node: unknown, i: number) => problems.push(...nodeProblems(node, i)));
  }
  return problems;
}

const SPEC_FIELDS = optionKeys<GraphSpec>({ version: true, name: true, nodes: true, output: true, fingerprint: true });

function nodeProblems(node: unknown, i: number): string[] {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return [`nodes[${i}] must be an object (got ${kind(node)})`];
  const n = node as Record<string, unknown>;
  const where = typeof n.id === "string" ? `nodes[${i}] ("${n.id}")` : `nodes[${i}]`;
  const problems = fieldProblems(n, where, {
    id: "string",
    after: "string[]",
    fn: "string",
    retry: "object?",
    timeoutMs: "number?",
    map: "object?",
    routes: "object?",
    maxVisits: "number?",
  });
  if (n.retry !== null && typeof n.retry === "object" && !Array.isArray(n.retry)) {
    const retry = n.retry as Record<string, unknown>;
    problems.push(
      ...fieldProblems(retry, `${where} retry`, { maxAttempts: "number?", backoff: "object?", retryOn: "string?", timeoutMs: "number?" }),
    );
    if (retry.backoff !== null && typeof retry.backoff === "object" && !Array.isArray(retry.backoff)) {
      problems.push(
        ...fieldProblems(retry.backoff as Record<string, unknown>, `${where} retry.backoff`, {
          initialMs: "number?",
          factor: "number?",
          maxMs: "number?",
          jitter: "boolean?",
        }),
      );
    }
  }
  if (n.map !== null && typeof n.map === "object" && !Array.isArray(n.map)) {
    problems.push(...fieldProblems(n.map as Record<string, unknown>, `${where} map`, { source: "string", maxConcurrency: "number?" }));
  }
  return problems;
}

type FieldType = "string" | "string[]" | "string?" | "number?" | "boolean?" | "object?";

/** Problems with `obj`'s fields against `fields`: unknown fields, missing required ones, wrong types. */
function fieldProblems(obj: Record<string, unknown>, where: string, fields: Readonly<Record<string, FieldType>>): string[] {
  const problems: string[] = [];
  problems.push(...unknownKeyProblems(where, obj, Object.keys(fields), "field"));
  for (const [key, type] of Object.entries(fields)) {
    const value = obj[key];
    const optional = type.endsWith("?");
    if (value === undefined && optional) continue;
    const base = type.replace("?", "");
    const ok =
      base === "string[]"
        ? Array.isArray(value) && value.every((v) => typeof v === "string")
        : base === "object"
          ? value !== null && typeof value === "object" && !Array.isArray(value)
          : typeof value === base;
    if (!ok) {
      const wanted = base === "string[]" ? "an array of strings" : base === "object" ? "an object" : `a ${base}`;
      problems.push(`${where}: ${key} must be ${wanted} (got ${kind(value)})`);
    }
  }
  return problems;
}

function kind(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${JSON.stringify(value)}`;
}
