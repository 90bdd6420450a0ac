/**
 * What `run()` and `runAsync()` accept as the thing to run, and how each
 * becomes a {@link TaskGraph}: a built graph as is; a `graphFn` through its
 * `graph`; a graph builder (anything with `build()`) is built, its errors
 * thrown as `GraphDefinitionError`; a plain function becomes a one-node
 * graph (node `main`, graph named after the function), whose output is the
 * function's result, with the same durability as any run.
 *
 * Invariant: the same plain function object always gives the same graph
 * object (and so the same fingerprint), so a resume by run id finds it.
 *
 * @module
 */
import { describe, InvalidOptionError } from "../errors.js";
import { GraphDefinitionError } from "../graph/errors.js";
import type { NodeContext } from "../graph/node-context.js";
import { TaskGraph } from "../graph/task-graph.js";

/** A `graphFn` result (anything callable with a `graph`), accepted where a graph is. */
export interface GraphFnLike<I, O> {
  (...args: never[]): unknown;
  readonly graph: TaskGraph<I, O>;
}

/**
 * Something with a `build()` that returns a graph: a `graph(name)…` builder.
 *
 * @example
 * ```ts
 * const builder: GraphBuilderLike<undefined, { x: number }> = graph("b").node("x", () => 1);
 * await runAsync(builder, undefined); // built, then run
 * ```
 */
export interface GraphBuilderLike<I, O> {
  build(): TaskGraph<I, O>;
}

/**
 * A plain async function run as a one-node graph: it gets the inputs and the node's context.
 *
 * @example
 * ```ts
 * const fetchPage: RunFunction<{ url: string }, string> = async ({ url }, { signal }) => (await fetch(url, { signal })).text();
 * await runAsync(fetchPage, { url: "https://example.com" }, { runId: "page-1" });
 * ```
 */
export type RunFunction<I, O> = (inputs: I, context: NodeContext<I>) => O | Promise<O>;

/**
 * What `run()` and `runAsync()` accept: a built graph, a `graphFn`, a graph builder or a plain async function.
 *
 * @example
 * ```ts
 * const jobs: Runnable<undefined, unknown>[] = [etl, graph("b").node("x", () => 1), async () => "plain"];
 * for (const job of jobs) await runAsync(job, undefined);
 * ```
 */
export type Runnable<I, O> = TaskGraph<I, O> | GraphFnLike<I, O> | GraphBuilderLike<I, O> | RunFunction<I, O>;

/** The node id of the one-node graph a plain function becomes. */
export const FUNCTION_NODE_ID = "main";

const functionGraphs = new WeakMap<object, TaskGraph<unknown, unknown>>();

/**
 * The graph `runnable` stands for (see the module comment). Throws
 * `GraphDefinitionError` for a builder that cannot build, and
 * `InvalidOptionError` for anything else that is not runnable.
 */
export function toTaskGraph<I, O>(runnable: Runnable<I, O>): TaskGraph<I, O> {
  if (runnable instanceof TaskGraph) return runnable;
  if (typeof runnable === "function") {
    const inner = (runnable as Partial<GraphFnLike<I, O>>).graph;
    if (inner instanceof TaskGraph) return inner;
    return functionGraph(runnable as RunFunction<I, O>);
  }
  if (runnable !== null && typeof runnable === "object" && typeof (runnable as Partial<GraphBuilderLike<I, O>>).build === "function") {
    return built(runnable);
  }
  throw new InvalidOptionError("graph", "must be a TaskGraph, a graph builder (graph(name)…), a graphFn or an async function");
}

function built<I, O>(builder: GraphBuilderLike<I, O>): TaskGraph<I, O> {
  let graph: unknown;
  try {
    graph = builder.build();
  } catch (error) {
    if (error instanceof GraphDefinitionError) throw error;
    throw Object.assign(new GraphDefinitionError("(builder)", [`build() threw ${describe(error)}`]), { cause: error });
  }
  if (!(graph instanceof TaskGraph)) throw new InvalidOptionError("graph", "is a builder whose build() did not return a TaskGraph");
  return graph as TaskGraph<I, O>;
}

function functionGraph<I, O>(fn: RunFunction<I, O>): TaskGraph<I, O> {
  let graph = functionGraphs.get(fn);
  if (!graph) {
    const name = typeof fn.name === "string" && fn.name.trim() !== "" ? fn.name : "function";
    graph = new TaskGraph<unknown, unknown>({
      name,
      nodes: [{ id: FUNCTION_NODE_ID, after: [], fn: (context) => fn(context.inputs as I, context as NodeContext<I>) }],
      output: (outputs) => outputs[FUNCTION_NODE_ID],
      origin: "builder",
    });
    functionGraphs.set(fn, graph);
  }
  return graph as TaskGraph<I, O>;
}
