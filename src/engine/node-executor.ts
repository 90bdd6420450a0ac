/**
 * The executor hook: where a node body runs. Without one the scheduler
 * calls the node's function in this process. With one (the BullMQ
 * adapter's `bullmqExecutor`, say) the scheduler still decides everything
 * (which activation is ready, the concurrency limit, retries, timeouts,
 * cancellation, journaling) and hands the executor one attempt at a time;
 * the executor runs the body somewhere else and resolves to its output.
 *
 * Dynamic graphs (`graphFn`) always run their steps in this process: a
 * step is a closure, which no other process can look up.
 *
 * @module
 */
import type { RouteTrigger } from "../graph/route.js";
import type { NodeContext } from "../graph/node-context.js";

/**
 * One attempt of one node activation, as an executor receives it.
 *
 * @example
 * ```ts
 * const a: NodeActivation = { runId: "r1", graphName: "etl", fingerprint: "…", nodeId: "fetch",
 *   activationId: "fetch", attempt: 1, inputs: { url }, deps: {} };
 * ```
 */
export interface NodeActivation {
  /** The run. */
  readonly runId: string;
  /**
   * The run's random mark (`RunMeta.instance`): the same on every resume,
   * and different for a later run of the same id after a delete (absent
   * for a run stored before the mark was kept). An executor names its
   * remote work with it, so that work left by a deleted run is never taken
   * for this one's.
   */
  readonly runInstance?: string;
  /** The graph's name: a remote worker looks the node function up by it. */
  readonly graphName: string;
  /** The graph's fingerprint, so a worker can tell it has another version of the graph. */
  readonly fingerprint: string;
  /** The node id in the graph (for a map element: the map node's id). */
  readonly nodeId: string;
  /** The activation id (`"fetch"`, or `"thumbs[3]"` for a map element). */
  readonly activationId: string;
  /** The attempt number, from 1. */
  readonly attempt: number;
  /** The run's inputs. */
  readonly inputs: unknown;
  /** The outputs of the nodes this one runs after, by node id. */
  readonly deps: Readonly<Record<string, unknown>>;
  /** For a map element: the element. */
  readonly item?: unknown;
  /** For a map element: its index. */
  readonly index?: number;
  /** Which visit of the node (above 1 in a routing loop). */
  readonly visit?: number;
  /** The route that chose this visit, when one did. */
  readonly trigger?: RouteTrigger;
}

/**
 * Runs node bodies for a scheduler: one call per attempt. `context` is the
 * attempt's own context: its `signal` fires when the scheduler aborts the
 * attempt (a timeout, a cancellation, another node failing the run), and
 * its `step`, `waitFor` and `emit` journal and report exactly as for a
 * body run in this process.
 *
 * @example
 * ```ts
 * const inline: NodeExecutor = {
 *   execute: (activation, context) => Promise.resolve(graph.node(activation.nodeId)!.fn(context)),
 * };
 * await runAsync(graph, inputs, { executor: inline });
 * ```
 */
export interface NodeExecutor {
  /** Runs one attempt; resolves to the body's output or rejects with its error. */
  execute(activation: NodeActivation, context: NodeContext): Promise<unknown>;
  /**
   * Called once when a run that used this executor stops (for any reason),
   * so the executor can let go of what it holds for the run. `leaseLost`:
   * another driver took the run over, so what the run left behind (jobs,
   * results not yet taken) is that driver's now, not to be cleaned up.
   */
  runStopped?(runId: string, stop: { readonly leaseLost: boolean }): Promise<void>;
}
