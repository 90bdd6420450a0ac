/**
 * `graphify(name, fn)`: a static graph written as a plain function over
 * symbolic references. `graphify` calls `fn` once, at definition time (the
 * trace), with a {@link Ref} for the inputs; each `task(id, body)(…args)`
 * call inside it declares one node and returns a ref to that node's
 * output. A task's `after` list is inferred from the refs among its
 * arguments (also inside plain objects and arrays), and what `fn` returns
 * becomes the graph's output function. The result is an ordinary
 * `TaskGraph`: the same scheduler runs it, it resumes the same way, and
 * it has the same fingerprint as the equivalent builder graph. Its
 * `origin` is `"graphify"`, which is how `toSpec` knows to refuse it.
 *
 * The trace is synchronous and runs once, so a ref has no value during
 * it: using one (arithmetic, `await`, iteration, …) is refused with a
 * `GraphDefinitionError` (see `trace-ref.ts`). `if (ref)` and
 * `ref.x === y` cannot be trapped by JavaScript; docs/graphify.md says so.
 *
 * The trace is a module-level slot set only while `fn` runs, which is
 * sound because `fn` runs synchronously; nested `graphify` calls save and
 * restore it.
 *
 * @module
 */
import { assertKnownKeys, optionKeys, unknownKeyProblems } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { GraphDefinitionError, NonRetryableError } from "./errors.js";
import type { RetryOptions } from "./retry-options.js";
import type { NodeDefinition, OutputFunction } from "./definition.js";
import { isInputValidator, type InputValidator } from "./input-validator.js";
import type { NodeContext } from "./node-context.js";
import type { RoutesOption, Unrouted } from "./route.js";
import { TaskGraph } from "./task-graph.js";
import { Trace, captureTemplate, describeRef, makeRef, refInfo, refsOf, resolveTemplate, type Ref, type RefArg, type Resolved } from "./trace-ref.js";

/** Options of one task: the same node options as the builder's, except `after` (inferred from the arguments). */
export interface TaskOptions {
  /** This node's retry policy, laid over the run's. */
  readonly retry?: RetryOptions;
  /** Per-attempt time limit (ms); overrides `retry.timeoutMs`. */
  readonly timeoutMs?: number;
  /** Makes the task a routing node (it returns `route(name, value)`): route name → task id(s). */
  readonly routes?: RoutesOption;
  /** At most this many visits of the task in one run (routing loops). */
  readonly maxVisits?: number;
}

/** Options of {@link graphify}. */
export interface GraphifyOptions<I> {
  /** Validates the inputs before anything runs (an object with `parse`, or a Standard Schema such as zod). */
  readonly input?: InputValidator<I>;
}

/** A task function's parameters, without a trailing parameter typed as the node context. */
export type TaskParams<A extends unknown[]> = A extends [...infer P extends unknown[], infer L] ? ([L] extends [NodeContext<unknown, unknown>] ? P : A) : A;

/** What `task(id, fn)` returns: call it once with the arguments (values or refs) to get a ref to the output. */
export type TaskCall<P extends unknown[], R> = (...args: { [K in keyof P]: RefArg<P[K]> }) => Ref<Unrouted<Awaited<R>>>;

/** The outputs of a graphify graph whose function returned `R`: every ref replaced by its value; all node outputs when it returned nothing. */
export type GraphifyOutputs<R> = [R] extends [void] ? Record<string, unknown> : Resolved<R>;

const TASK_OPTION_KEYS = optionKeys<TaskOptions>({ retry: true, timeoutMs: true, routes: true, maxVisits: true });
const GRAPHIFY_OPTION_KEYS = optionKeys<GraphifyOptions<unknown>>({ input: true });

let current: Trace | undefined;

/**
 * Declares a task (one node) inside a {@link graphify} function and
 * returns the function to call, once, with its arguments: values or
 * {@link Ref}s to the inputs and to other tasks' outputs (or properties
 * of them). At run time `fn` receives the resolved values, then the
 * {@link NodeContext} as an extra last argument (for `signal`, `step`,
 * `attempt`, …): annotate its last parameter as `NodeContext`, and it is
 * left out of the arguments you pass. The context goes into the last
 * parameter `fn` declares (by `fn.length`) when the call leaves it empty,
 * so a function with no parameter for it (a rest parameter, a default
 * value) never receives it as a stray argument.
 *
 * Throws `GraphDefinitionError` when called outside a `graphify` trace,
 * when `id` was declared already, or when the returned function is called
 * a second time.
 *
 * @example
 * ```ts
 * const page = task("fetch", async (url: string, { signal }: NodeContext) => (await fetch(url, { signal })).text(),
 *   { retry: { maxAttempts: 5 } })(inputs.url);
 * ```
 */
export function task<A extends unknown[], R>(id: string, fn: (...args: A) => R, options?: TaskOptions): TaskCall<TaskParams<A>, R> {
  const trace = current;
  if (!trace) {
    throw new GraphDefinitionError("(none)", [
      `task(${JSON.stringify(id)}) was called outside graphify: call task(id, fn) inside the function passed to graphify(name, fn)`,
    ]);
  }
  if (typeof fn !== "function") {
    throw new GraphDefinitionError(trace.graphName, [`task ${JSON.stringify(id)}: its function is a ${typeof fn}, not a function`]);
  }
  if (options !== undefined) {
    // An array has no unknown keys, so `[{ retry }]` would pass for options and its settings be dropped in silence.
    if (options === null || typeof options !== "object" || Array.isArray(options)) {
      throw new GraphDefinitionError(trace.graphName, [
        `task ${JSON.stringify(id)}: options must be an object (got ${Array.isArray(options) ? "an array" : String(options)})`,
      ]);
    }
    const unknown = unknownKeyProblems(`task ${JSON.stringify(id)}`, options, TASK_OPTION_KEYS);
    if (unknown.length > 0) {
      const afterNote = Object.hasOwn(options, "after") ? "; a task's after list comes from the references among its arguments" : "";
      throw new GraphDefinitionError(
        trace.graphName,
        unknown.map((p) => p + afterNote),
      );
    }
  }
  if (trace.tasks.has(id)) {
    throw new GraphDefinitionError(trace.graphName, [`task id "${id}" is used twice: each task needs its own id`]);
  }
  const entry = { called: false };
  trace.tasks.set(id, entry);

  const call = (...args: unknown[]): object => {
    if (current !== trace || !trace.active) {
      throw new GraphDefinitionError(trace.graphName, [
        `task "${id}" was called after graphify("${trace.graphName}") finished tracing: call it inside the function passed to graphify`,
      ]);
    }
    if (entry.called) {
      throw new GraphDefinitionError(trace.graphName, [
        `task "${id}" was called twice: each call is one node, so declare a task with its own id for each call`,
      ]);
    }
    entry.called = true;
    const templates = args.map((arg, i) => captureTemplate(arg, trace, `argument ${i + 1} of task "${id}"`));
    const after = new Set<string>();
    for (const t of templates) for (const ref of refsOf(t)) if (ref.source.kind === "node") after.add(ref.source.id);
    // The context fills the function's last declared parameter, when the call left it empty. So a
    // function that declares none (`(...pages) => …`, `path.join`) never gets it as a stray argument.
    const contextSlot = fn.length - 1;
    const body = (context: NodeContext): unknown => {
      const deps = context.deps as Readonly<Record<string, unknown>>;
      const values = templates.map((t) => resolveTemplate(t, deps, context.inputs));
      if (contextSlot >= values.length) {
        values.length = contextSlot;
        values.push(context);
      }
      const result = (fn as (...a: unknown[]) => unknown)(...values);
      const leaked = refInfo(result);
      if (leaked) {
        throw new NonRetryableError(`task "${id}" returned the reference ${describeRef(leaked)}, which has no value at run time: return a value`);
      }
      return result;
    };
    const node: NodeDefinition = {
      id,
      after: [...after],
      fn: body,
      ...(options?.retry !== undefined && { retry: options.retry }),
      ...(options?.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      ...(options?.routes !== undefined && { routes: options.routes }),
      ...(options?.maxVisits !== undefined && { maxVisits: options.maxVisits }),
    };
    trace.nodes.push(node);
    return makeRef(trace, { kind: "node", id }, []);
  };
  return call as unknown as TaskCall<TaskParams<A>, R>;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/**
 * Makes a static {@link TaskGraph} from a function over symbolic
 * references. `fn` is called once, now, with a {@link Ref} to the
 * inputs; inside it, `task(id, body)(…args)` declares nodes. Refs among a
 * task's arguments become its dependencies, and what `fn` returns (an
 * object of refs and constants, or one ref) becomes the graph's outputs.
 * Throws `GraphDefinitionError` when `fn` uses a ref's value (see
 * docs/graphify.md), when a task is declared and never called, or when
 * the graph is not valid.
 *
 * @typeParam I - the inputs (annotate `fn`'s parameter as `Ref<I>`, or pass `options.input`)
 * @typeParam R - what `fn` returns; the graph's outputs are `R` with every `Ref<T>` replaced by `T`
 *
 * @example
 * ```ts
 * const etl = graphify("etl", (inputs: Ref<{ url: string }>) => {
 *   const page = task("fetch", (url: string) => download(url))(inputs.url);
 *   const rows = task("parse", (body: string) => parse(body))(page.body);
 *   return { rows, url: inputs.url };
 * });
 * const out = await runAsync(etl, { url }, { runId: "etl-1" }); // { rows, url }
 * ```
 */
export function graphify<I = undefined, R = unknown>(
  name: string,
  fn: (inputs: Ref<I>) => R,
  options: GraphifyOptions<I> = {},
): TaskGraph<I, GraphifyOutputs<R>> {
  if (typeof fn !== "function") throw new InvalidOptionError("graphify(name, fn)", "fn must be a function");
  if (options === null || typeof options !== "object") throw new InvalidOptionError("graphify options", "must be an object");
  assertKnownKeys(`graphify("${String(name)}")`, options, GRAPHIFY_OPTION_KEYS);
  if (options.input !== undefined && !isInputValidator(options.input)) {
    throw new InvalidOptionError("graphify input", "must have a parse(value) method or be a Standard Schema");
  }
  const trace = new Trace(typeof name === "string" ? name : String(name));
  const inputs = makeRef(trace, { kind: "inputs" }, []) as Ref<I>;
  const previous = current;
  current = trace;
  let returned: unknown;
  try {
    returned = fn(inputs);
  } catch (error) {
    throw trace.refusal ?? error;
  } finally {
    current = previous;
    trace.active = false;
  }
  const promised = !refInfo(returned) && isThenable(returned);
  // An async fn's rejection is reported below as a GraphDefinitionError; keep it from going unhandled.
  if (promised) Promise.resolve(returned).catch(() => undefined);
  if (trace.refusal) throw trace.refusal;
  if (promised) {
    throw new GraphDefinitionError(trace.graphName, [
      "the graphify function returned a promise: it must be synchronous, because it is traced once before anything runs; " + "await inside tasks instead",
    ]);
  }
  const uncalled = [...trace.tasks].filter(([, t]) => !t.called).map(([id]) => `task "${id}" was declared but never called`);
  if (uncalled.length > 0) throw new GraphDefinitionError(trace.graphName, uncalled);
  let output: OutputFunction<I, GraphifyOutputs<R>> | undefined;
  if (returned !== undefined) {
    const template = captureTemplate(returned, trace, "the graph's output");
    output = (outputs, inputValues) => resolveTemplate(template, outputs, inputValues) as GraphifyOutputs<R>;
  }
  return new TaskGraph<I, GraphifyOutputs<R>>({
    name,
    nodes: trace.nodes,
    inputValidator: options.input,
    output,
    origin: "graphify",
  });
}
