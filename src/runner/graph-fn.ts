/**
 * `graphFn`: a dynamic graph, written as one async function. Each
 * `ctx.step(id, fn)` call is a node activation (retries, concurrency,
 * events, a journaled result), so a crashed run resumed with
 * `runAsync(myGraphFn, inputs, { runId })` replays the recorded steps from
 * the journal without running them and goes on at the first unrecorded
 * one. Steps awaited together (`Promise.all`) run in parallel, up to
 * `maxConcurrency`. The function must ask for the same steps in the same
 * order on every replay; if it does not, the step rejects with
 * `NonDeterminismError` naming both ids.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { isInputValidator, type InputValidator } from "../graph/input-validator.js";
import type { GraphFnContext } from "../graph/definition.js";
import { TaskGraph } from "../graph/task-graph.js";
import type { RunOptions } from "./run-options.js";
import { runAsync } from "./run.js";

/**
 * A dynamic graph: call it to run it, or pass it to `run`/`runAsync`
 * (its `graph`) like any graph.
 */
export interface GraphFn<I, O> {
  /** Runs the graph: `runAsync(fn.graph, inputs, options)`. */
  (inputs: I, options?: RunOptions): Promise<O>;
  /** The graph, for `run`, `runAsync` and the stores. */
  readonly graph: TaskGraph<I, O>;
}

/** Options of {@link graphFn}. */
export interface GraphFnOptions<I> {
  /** Validates the inputs before the body runs (an object with `parse`, or a Standard Schema). */
  readonly input?: InputValidator<I>;
}

const GRAPH_FN_OPTION_KEYS = optionKeys<GraphFnOptions<unknown>>({ input: true });

/**
 * Makes a dynamic graph from an async function. Its options, and each
 * step's options (`retry`, `timeoutMs`), refuse unknown keys with
 * `InvalidOptionError` (a step's refusal rejects the step's promise).
 *
 * @example
 * ```ts
 * const enrich = graphFn("enrich", async (inputs: { ids: string[] }, { step }) => {
 *   const users = await Promise.all(inputs.ids.map((id) => step(`user:${id}`, () => api.user(id))));
 *   return step("score", () => score(users), { retry: { maxAttempts: 5 } });
 * });
 * await enrich({ ids: ["a", "b"] });                                  // a durable run in the default store
 * await runAsync(enrich, { ids: ["a", "b"] }, { runId: "enrich-1" }); // resumable by id
 * ```
 */
export function graphFn<I, O>(name: string, body: (inputs: I, context: GraphFnContext) => O | Promise<O>, options: GraphFnOptions<I> = {}): GraphFn<I, O> {
  if (typeof body !== "function") throw new InvalidOptionError("graphFn(name, body)", "body must be a function");
  if (options === null || typeof options !== "object") throw new InvalidOptionError("graphFn options", "must be an object");
  assertKnownKeys(`graphFn("${String(name)}")`, options, GRAPH_FN_OPTION_KEYS);
  if (options.input !== undefined && !isInputValidator(options.input)) {
    throw new InvalidOptionError("graphFn input", "must have a parse(value) method or be a Standard Schema");
  }
  const graph = new TaskGraph<I, O>({
    name,
    nodes: [],
    inputValidator: options.input,
    dynamic: async (inputs, context) => body(inputs, context),
  });
  const fn = ((inputs: I, runOptions?: RunOptions) => runAsync(graph, inputs, runOptions)) as GraphFn<I, O>;
  Object.defineProperty(fn, "graph", { value: graph, enumerable: true });
  return fn;
}

/** True when `value` is a {@link GraphFn}. */
export function isGraphFn(value: unknown): value is GraphFn<unknown, unknown> {
  return typeof value === "function" && (value as { graph?: unknown }).graph instanceof TaskGraph;
}
