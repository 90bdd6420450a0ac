/**
 * Stored graphs, the public functions: a `TaskGraph` as plain JSON
 * (`toSpec`) and back (`fromSpec`). A spec (see `format.ts`) holds the
 * structure that the fingerprint covers and, in place of each function, a
 * name; `fromSpec` looks the names up in a registry of functions. So a
 * graph round-tripped through JSON has the same fingerprint as the
 * original, and a run started by one resumes under the other.
 *
 * `fromSpec` trusts nothing: it checks the spec's shape and reports every
 * problem at once (`check-spec.ts`), then every function name the registry
 * lacks, then builds the graph (which validates ids, edges, cycles and
 * option values), then compares the fingerprint the spec recorded, if any,
 * with the graph's own, so that a spec edited by hand after `toSpec` is
 * noticed. Writing is in `write-spec.ts`, which `TaskGraph.toSpec()` calls;
 * this module imports `TaskGraph`, and nothing it imports imports it back.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../../core/known-keys.js";
import { InvalidOptionError } from "../../errors.js";
import type { NodeDefinition, OutputFunction } from "../definition.js";
import { isInputValidator } from "../input-validator.js";
import { TaskGraph } from "../task-graph.js";
import { specProblems } from "./check-spec.js";
import type { FromSpecOptions, FunctionRegistry, GraphSpec, ToSpecOptions } from "./format.js";
import { GraphDefinitionError } from "../errors.js";

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
export function fromSpec<I = unknown, O = unknown>(spec: unknown, registry: FunctionRegistry, options: FromSpecOptions<I> = {}): TaskGraph<I, O> {
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
      missing.push(`the registry has no function "${name}" (used by ${by.join(", ")})${fn === undefined ? "" : `: it holds a ${typeof fn}`}`);
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
    origin: "spec",
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
