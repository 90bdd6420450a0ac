/**
 * How a run session turns its engine's outcome into the run's end: the
 * run outputs (computed by the graph from its nodes' outputs, or given by
 * a `graphFn` body), whether they can be stored exactly, and the status
 * and fields the run's final write records. Pure: the session emits the
 * events and saves the end (`PersistenceObserver.finish`: an append or a
 * snapshot).
 *
 * Invariant: run outputs follow the rule node outputs do: stored exactly,
 * or flagged (`outputsDurable: false`, an `OUTPUT_NOT_DURABLE` warning
 * unless a flagged node already explains it) and computed again on resume.
 *
 * @module
 */
import type { TaskGraph } from "../graph/task-graph.js";
import { checkDurable } from "../core/durable-value.js";
import type { SchedulerOutcome } from "../engine/forward-scheduler.js";
import { toErrorRecord } from "../state/error-record.js";
import { nodeRecords } from "../state/node-table.js";
import type { RunState } from "../state/run-state.js";
import type { InboxEntry, NodeRecord } from "../state/records.js";
import { OutputError } from "./errors.js";
import { RunCancelledError } from "../engine/errors.js";

/** The outputs of a succeeded outcome, or the outcome turned failed when the graph's `outputs` threw. */
export interface RunEnding {
  readonly outcome: SchedulerOutcome;
  readonly outputs: unknown;
  readonly outputsDurable: boolean;
  /** Why the outputs cannot be stored exactly, when no flagged node explains it already. */
  readonly notDurable?: string;
}

/** The run outputs of `outcome` (see the module comment). */
export function endRun(outcome: SchedulerOutcome, graph: TaskGraph<unknown, unknown>, inputs: unknown, runId: string): RunEnding {
  if (outcome.status !== "succeeded") return { outcome, outputs: undefined, outputsDurable: true };
  const state = outcome.state;
  try {
    const outputs = outcome.outputs ? outcome.outputs.value : graph.outputs(collectOutputs(state, graph), inputs);
    const durability = checkDurable(outputs);
    if (durability.ok) return { outcome, outputs, outputsDurable: true };
    // One warning per cause: a node flagged already explains outputs that hold its output.
    const explained = someNode(state, (n) => n.status === "succeeded" && n.durable === false);
    return { outcome, outputs, outputsDurable: false, ...(!explained && { notDurable: durability.reason }) };
  } catch (error) {
    return { outcome: { status: "failed", state, error: new OutputError(runId, error) }, outputs: undefined, outputsDurable: true };
  }
}

/** True when a node record of `state` passes `test` (without a copy of the records). */
function someNode(state: RunState, test: (n: NodeRecord) => boolean): boolean {
  for (const n of nodeRecords(state.nodes)) if (test(n)) return true;
  return false;
}

/**
 * The status and fields the run's final write records for `ending`; a
 * cancelled run records `cancelError` when given (a `RunTimeoutError`),
 * else a `RunCancelledError` with its reason.
 */
export function finalChange(ending: RunEnding, runId: string, inbox: Record<string, InboxEntry>, cancelError?: Error) {
  // A switch, not a ts-pattern match: this runs once per run, and a match chain allocates its patterns and closures
  // each time (about a kilobyte per run, in a stage runner's sweep of thousands of runs). Exhaustive all the same (`never`).
  const o = ending.outcome;
  switch (o.status) {
    case "succeeded":
      return {
        status: "succeeded" as const,
        change: ending.outputsDurable ? { outputs: ending.outputs, inbox } : { outputsDurable: false as const, inbox },
      };
    case "failed":
      return { status: "failed" as const, change: { error: toErrorRecord(o.error), inbox } };
    case "cancelled":
      return { status: "cancelled" as const, change: { error: toErrorRecord(cancelError ?? new RunCancelledError(runId, o.reason)), inbox } };
    case "waiting":
      return { status: "waiting" as const, change: { waits: o.waits, inbox } };
    default:
      return unhandled(o);
  }
}

/** The `default` of an exhaustive switch: a status added to the union without a case fails to compile here. */
export function unhandled(value: never): never {
  throw new Error(`taskloom internal error: unhandled ${JSON.stringify(value)}`);
}

/**
 * The output of every succeeded node of the graph (not of map elements or
 * steps), by node id; for a node visited more than once (a routing loop),
 * its latest visit's. A first visit is its node's own record
 * (`id === nodeId`), so only later visits are tracked, in a map as small
 * as the routing loops: a million-node run builds the one record of
 * outputs the graph's `outputs` is given, nothing beside it. With the
 * graph's `order`, a record at its node's graph position (a run made from
 * the graph) is known to be a graph node's without a lookup.
 */
export function collectOutputs(state: RunState, graph: { node(id: string): unknown; readonly order?: readonly string[] | undefined }): Record<string, unknown> {
  const outputs: Record<string, unknown> = {};
  // The visit number of the latest later visit kept per node (first visits are visit 1, below every later one).
  const later = new Map<string, number>();
  const order = graph.order;
  let at = -1;
  // Indexed loops over the table's shards, not its record iterator: this runs once per run, with a record per
  // node, and a resume's runs mostly before it is optimized, where each iterator step allocates its result.
  const shards = state.nodes.shards;
  for (let s = 0; s < shards.length; s++) {
    const shard = shards[s]!;
    for (let i = 0; i < shard.length; i++) {
      const n = shard[i]!;
      at += 1;
      if (n.status !== "succeeded") continue;
      // A run made from the graph holds node `order[p]` at position p: that record needs no lookup to be the graph's.
      const own = order?.[at] === n.nodeId;
      if (!own && !graph.node(n.nodeId)) continue;
      if (n.id === n.nodeId) {
        // Keyed by the graph's own string when it is the same id: a loaded record's is another string, which an object key must look up first.
        if (!later.has(n.nodeId)) outputs[own ? order[at]! : n.nodeId] = n.output;
        continue;
      }
      if (n.visit === undefined || n.visit < (later.get(n.nodeId) ?? 0)) continue;
      later.set(n.nodeId, n.visit);
      outputs[n.nodeId] = n.output;
    }
  }
  return outputs;
}
