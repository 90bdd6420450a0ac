/**
 * The fluent, typed graph builder: `graph(name).input<T>().node(…).output(…).build()`.
 *
 * The builder's type parameters accumulate what has been declared: `I`
 * the inputs, `O` a map from node id to that node's output type. A node's
 * `after` list is checked against `keyof O`, so naming a node that does
 * not exist is a compile error, and `deps` is typed as exactly the outputs
 * of the nodes listed. At run time nothing is checked until `build()`,
 * which validates the whole graph at once and throws
 * `GraphDefinitionError` listing every problem.
 *
 * Each call returns a new builder; a builder is never mutated, so a
 * partial builder can be shared and extended two ways.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";
import type { MapOptions, NodeDefinition, NodeOptions, OutputFunction } from "./definition.js";
import { isInputValidator, type InputValidator } from "./input-validator.js";
import type { MapContext, NodeContext } from "./node-context.js";
import { assertOptionKeys, MAP_OPTION_KEYS, NODE_OPTION_KEYS } from "./option-keys.js";
import type { Unrouted } from "./route.js";
import { TaskGraph } from "./task-graph.js";

/** The element type of an array type. */
export type ElementOf<T> = T extends readonly (infer E)[] ? E : never;

/** The outputs of the nodes named in `A`, by id. */
export type DepsOf<O, A extends readonly PropertyKey[]> = { readonly [K in A[number] & keyof O]: O[K] };

/** Marks a builder whose `output()` was not called. */
export type NoOutput = { readonly __noOutput: unique symbol };

/** Nodes as a persistent list (newest first), so adding one is O(1) and builders can share a prefix. */
interface NodeList {
  readonly node: NodeDefinition;
  readonly prev: NodeList | undefined;
}

function toArray(list: NodeList | undefined): NodeDefinition[] {
  const out: NodeDefinition[] = [];
  for (let l = list; l; l = l.prev) out.push(l.node);
  return out.reverse();
}

/**
 * A copy of an `after` option. Anything but an array is kept as it is, for
 * `build()` to refuse by name: spread, a string (`after: "fetch"` from plain
 * JavaScript) became a list of its characters.
 */
function afterList(after: readonly string[] | undefined): readonly string[] {
  if (after === undefined) return [];
  return Array.isArray(after) ? [...(after as readonly string[])] : after;
}

/**
 * Builds a {@link TaskGraph} step by step.
 *
 * @typeParam I - the graph's inputs
 * @typeParam O - node id → output type, for the nodes declared so far
 * @typeParam R - the graph's outputs once `output()` was called
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the empty record of node outputs: each node is intersected onto it, and {} keeps the displayed types short
export class GraphBuilder<I = undefined, O extends object = {}, R = NoOutput> {
  readonly #name: string;
  readonly #nodes: NodeList | undefined;
  /** The validator; null when `.input<T>()` declared the inputs' type only, undefined when nothing declared them. */
  readonly #validator: InputValidator<I> | null | undefined;
  readonly #output: OutputFunction<I, unknown> | undefined;

  /** @internal use {@link graph}. */
  constructor(name: string, nodes: NodeList | undefined = undefined, validator?: InputValidator<I> | null, output?: OutputFunction<I, unknown>) {
    this.#name = name;
    this.#nodes = nodes;
    this.#validator = validator;
    this.#output = output;
  }

  /**
   * Declares the inputs' type, and optionally a validator (an object with
   * `parse`, or a Standard Schema such as a zod schema) that checks them
   * before anything runs.
   *
   * @example
   * ```ts
   * graph("etl").input<{ url: string }>()
   * graph("etl").input(z.object({ url: z.string().url() }))
   * ```
   */
  input<T>(validator?: InputValidator<T>): GraphBuilder<T, O, R> {
    if (validator !== undefined && !isInputValidator(validator)) {
      throw new InvalidOptionError("input(validator)", "must have a parse(value) method or be a Standard Schema");
    }
    return builderOf<T, O, R>(this.#name, this.#nodes, validator ?? null, undefined);
  }

  /**
   * Adds a node. Throws `InvalidOptionError` at once for an option key
   * that is not a node option (a typo such as `timeoutMS`), naming the
   * nearest known one; option values are checked by `build()`. `fn` receives a {@link NodeContext} whose `deps` holds the
   * outputs of the nodes in `options.after`; its return value (awaited)
   * becomes this node's output. A node with `routes` returns
   * `route(name, value)`: `value` is its output and the route's targets run
   * next (see `route`).
   *
   * @example
   * ```ts
   * .node("fetch", async ({ inputs, signal }) => (await fetch(inputs.url, { signal })).text())
   * .node("parse", ({ deps }) => JSON.parse(deps.fetch), { after: ["fetch"], retry: { maxAttempts: 1 } })
   * .node("triage", ({ deps }) => route(deps.parse.length > 0 ? "store" : "alert", deps.parse), {
   *   after: ["parse"],
   *   routes: { store: "store", alert: "alert" },
   * })
   * ```
   */
  node<const Id extends string, T, const A extends readonly (keyof O & string)[] = []>(
    id: Id,
    fn: (context: NodeContext<I, DepsOf<O, A>>) => T | Promise<T>,
    options?: NodeOptions<A>,
  ): GraphBuilder<I, O & { readonly [K in Id]: Unrouted<Awaited<T>> }, R> {
    assertOptionKeys(`node "${id}"`, options, NODE_OPTION_KEYS);
    const definition: NodeDefinition = {
      id,
      fn: fn as NodeDefinition["fn"],
      after: afterList(options?.after),
      ...(options?.retry !== undefined && { retry: options.retry }),
      ...(options?.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      ...(options?.routes !== undefined && { routes: options.routes }),
      ...(options?.maxVisits !== undefined && { maxVisits: options.maxVisits }),
    };
    return builderOf(this.#name, { node: definition, prev: this.#nodes }, this.#validator, this.#output);
  }

  /**
   * Adds a map node: `fn` runs once per element of `source`'s array output,
   * each element its own durable activation (`id[0]`, `id[1]`, …, with its
   * own retries), and the node's output is the results in order. On
   * resume, elements that succeeded are not run again. The map node itself
   * is not retried: its elements are.
   *
   * @example
   * ```ts
   * .node("urls", () => ["https://a", "https://b"])
   * .map("pages", "urls", ({ item, signal }) => fetch(item, { signal }).then((r) => r.text()), { maxConcurrency: 4 })
   * ```
   */
  map<const Id extends string, const S extends keyof O & string, T, const A extends readonly (keyof O & string)[] = []>(
    id: Id,
    source: S,
    fn: (context: MapContext<I, ElementOf<O[S]>, DepsOf<O, A>>) => T | Promise<T>,
    options?: MapOptions<A>,
  ): GraphBuilder<I, O & { readonly [K in Id]: Awaited<T>[] }, R> {
    assertOptionKeys(`map "${id}"`, options, MAP_OPTION_KEYS);
    const after = afterList(options?.after) as string[];
    if (Array.isArray(after) && !after.includes(source)) after.unshift(source);
    const definition: NodeDefinition = {
      id,
      fn: fn as unknown as NodeDefinition["fn"],
      after,
      map: { source, ...(options?.maxConcurrency !== undefined && { maxConcurrency: options.maxConcurrency }) },
      ...(options?.retry !== undefined && { retry: options.retry }),
      ...(options?.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      // Passed on, not dropped: build() refuses routes on a map node, naming it.
      ...(options?.routes !== undefined && { routes: options.routes }),
      ...(options?.maxVisits !== undefined && { maxVisits: options.maxVisits }),
    };
    return builderOf(this.#name, { node: definition, prev: this.#nodes }, this.#validator, this.#output);
  }

  /**
   * Sets the graph's outputs: a function of every node's output (by id)
   * and of the inputs. Without it, a run's outputs are all node outputs.
   *
   * @example
   * ```ts
   * .output(({ store }, inputs) => ({ rows: store.count, url: inputs.url }))
   * ```
   */
  output<T>(fn: (outputs: O, inputs: I) => T): GraphBuilder<I, O, T> {
    return builderOf<I, O, T>(this.#name, this.#nodes, this.#validator, fn as unknown as OutputFunction<I, unknown>);
  }

  /**
   * Validates the graph and returns it. Throws `GraphDefinitionError`
   * listing every problem (duplicate or unknown ids, cycles, bodies that
   * are not functions, invalid options).
   */
  build(): TaskGraph<I, R extends NoOutput ? O : R> {
    return new TaskGraph<I, R extends NoOutput ? O : R>({
      name: this.#name,
      nodes: toArray(this.#nodes),
      inputValidator: this.#validator ?? undefined,
      declaresInputs: this.#validator !== undefined,
      output: this.#output as OutputFunction<I, R extends NoOutput ? O : R> | undefined,
      origin: "builder",
    });
  }
}

/**
 * The builder a {@link GraphBuilder} method returns. A function of its
 * own, not `new GraphBuilder` in the class: a class body that names its
 * class is renamed by the build (scripts/build.mjs).
 */
function builderOf<I, O extends object, R>(
  name: string,
  nodes: NodeList | undefined,
  validator: InputValidator<I> | null | undefined,
  output: OutputFunction<I, unknown> | undefined,
): GraphBuilder<I, O, R> {
  return new GraphBuilder<I, O, R>(name, nodes, validator, output);
}

/**
 * Starts a graph.
 *
 * @example
 * ```ts
 * const g = graph("hello")
 *   .input<{ name: string }>()
 *   .node("greet", ({ inputs }) => `hello ${inputs.name}`)
 *   .output(({ greet }) => greet)
 *   .build();
 * ```
 */
export function graph(name: string): GraphBuilder {
  return new GraphBuilder(name);
}
