/**
 * What a node function receives: the context of one attempt
 * ({@link NodeContext}), of one map element ({@link MapContext}), the
 * options of `waitFor`, and the type of a node's body. The context's
 * functions do not use `this`, so destructuring
 * (`async ({ deps, step, signal }) => …`) works.
 *
 * Invariants: types only; the engine's attempt context and the BullMQ
 * worker's remote context build the objects.
 *
 * @module
 */
import type { InputValidator } from "./input-validator.js";
import type { RouteTrigger } from "./route.js";

/**
 * The context of one attempt of one node.
 *
 * @typeParam I - the graph's inputs
 * @typeParam D - the outputs of the nodes in `after`, by id
 *
 * @example
 * ```ts
 * .node("store", async ({ deps, signal, step }) => {
 *   const id = await step("insert", () => db.insert(deps.parse, { signal }));
 *   return { id };
 * }, { after: ["parse"] })
 * ```
 */
export interface NodeContext<I = unknown, D = Record<string, unknown>> {
  /** The run's validated inputs. */
  readonly inputs: I;
  /** The outputs of the nodes this node runs after, by node id. */
  readonly deps: D;
  /** The run id. */
  readonly runId: string;
  /**
   * The run's mark (`RunMeta.instance`): random, set when the run is
   * created and kept across resumes, so it tells this run from a later run
   * started under the same id after this one was deleted. Put it beside
   * the run id in a link or callback that will resolve a wait, and pass it
   * back as `resolveWait`'s `instance` option. Undefined only for a run
   * stored by a version that did not keep marks.
   */
  readonly runInstance: string | undefined;
  /** This node's (activation) id. */
  readonly nodeId: string;
  /** The attempt number, from 1. */
  readonly attempt: number;
  /** Which visit of the node this is, from 1 (above 1 only when a routing loop led back to it). */
  readonly visit: number;
  /** The route that chose this visit, when a route did (`from` is the routing node's id). */
  readonly trigger: RouteTrigger | undefined;
  /** Aborted when the attempt times out, the run is cancelled, or another node fails the run. */
  readonly signal: AbortSignal;
  /** Emits a `node:event` event on the run's emitter. */
  readonly emit: (name: string, data?: unknown) => void;
  /**
   * Runs `fn` once and journals its result with the node: when the node
   * runs again (a retry, or a resume in a new process), `step` returns the
   * recorded result without calling `fn`. The result is durable before
   * `step` returns. Names must be unique within the node.
   */
  readonly step: <T>(name: string, fn: () => T | Promise<T>) => Promise<T>;
  /**
   * Suspends the node until `resolveWait(runId, key, payload)` delivers
   * an event, and returns its payload. While it waits the node holds no
   * concurrency slot; when only waits are left the run is saved as
   * `waiting` and `runAsync` rejects with `GraphHasPendingWaits`. A resumed
   * run calls the node again: work before the wait that went through
   * `step` is not repeated, and `waitFor` returns the delivered payload.
   */
  readonly waitFor: <T = unknown>(key: string, options?: WaitOptions<T>) => Promise<T>;
  /**
   * Runs `graph` (a built graph, a builder, a `graphFn` or an async
   * function) as a durable child run and resolves to its outputs. The
   * child has its own run id, derived from this run's, this node's
   * activation and `key` (`childRunId`), is listed and inspectable like
   * any run, and records this run as its parent. When this node runs
   * again (a retry, a resume), a finished child is not run again (its
   * stored outputs are returned) and an unfinished one is resumed. While
   * the child waits for events this node waits too (the run's
   * `GraphHasPendingWaits` lists the child's waits, with its `runId`);
   * resolve them with `resolveWait(childRunId, key, payload)` and resume
   * this run. This node's signal aborting cancels the child. Not
   * available in a BullMQ worker.
   *
   * @example
   * ```ts
   * .node("invoices", async ({ deps, run }) =>
   *   Promise.all(deps.customers.map((c) => run(invoiceGraph, { customer: c.id }, { key: c.id }))))
   * ```
   */
  readonly run: <O = unknown>(graph: object, inputs: unknown, options: ChildRunOptions) => Promise<O>;
}

/**
 * Options of `ctx.run`.
 *
 * @example
 * ```ts
 * const totals = await run(billing, { month: "2026-11" }, { key: "billing-2026-11" });
 * ```
 */
export interface ChildRunOptions {
  /** Names the child among this node's children (1 to 100 characters, no `#`); with the run and the node it makes the child's run id. */
  readonly key: string;
}

/**
 * Options of `ctx.waitFor`.
 *
 * @example
 * ```ts
 * const review = await waitFor<{ approved: boolean }>(`review:${id}`, { timeoutMs: 86_400_000, schema: Review });
 * ```
 */
export interface WaitOptions<T> {
  /**
   * Fail the node with `WaitTimeoutError` if no event arrives within this
   * time (ms). The deadline is stored: it holds across restarts, and a run
   * resumed after it passed fails the wait at once.
   */
  readonly timeoutMs?: number;
  /** Validates the payload (an object with `parse`, or a Standard Schema such as zod). */
  readonly schema?: InputValidator<T>;
}

/**
 * The context of one element of a map node: a {@link NodeContext} plus
 * the element and its index.
 *
 * @example
 * ```ts
 * .map("thumbs", "list", async ({ item, index, signal }) => resize(item, { signal }))
 * ```
 */
export interface MapContext<I = unknown, T = unknown, D = Record<string, unknown>> extends NodeContext<I, D> {
  /** The element of the source's array. */
  readonly item: T;
  /** Its index in the array. */
  readonly index: number;
}

/** A node's body. */
export type NodeFunction<I = unknown, D = Record<string, unknown>, R = unknown> = (context: NodeContext<I, D>) => R | Promise<R>;
