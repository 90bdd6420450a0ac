/**
 * Preparing a run before its engine starts: a new run's state, or a stored
 * run checked and made ready to resume. It reads nothing and writes
 * nothing: the session loads the stored run and hands it in, so every rule
 * below is decided from its arguments (only the graph's input validator
 * may be asynchronous).
 *
 * Resume rules (DESIGN.md, "Persistence and resume"): a succeeded run
 * returns its stored outputs and runs nothing; an unfinished one
 * (crashed, failed, cancelled) keeps every succeeded node's output and
 * runs the rest with fresh attempts; another fingerprint is refused unless
 * `allowGraphChange`; other inputs are refused, and omitted inputs mean
 * the stored ones, which the graph's input validator checks again (it is
 * not part of the fingerprint): refused, nothing runs and nothing is written.
 * Same graph, so every node has a record: a missing one means the stored
 * run was damaged (`SnapshotCorruptError`).
 *
 * @module
 */
import { describe } from "../errors.js";
import type { TaskGraph } from "../graph/task-graph.js";
import { checkDurable } from "../core/durable-value.js";
import type { StoredRun } from "../persistence/run-store.js";
import { sameValue } from "../persistence/serialization.js";
import { getNode, indexedBy, nodeRecords } from "../state/node-table.js";
import { graphIndex } from "../graph/graph-index.js";
import { adoptGraph, createRunState, resetUnfinished, type RunState } from "../state/run-state.js";
import type { NodeCounts } from "../state/run-summary.js";
import type { RunConfig } from "./run-options.js";
import { GraphChangedError, RunInputsMismatchError, StaleChildRunError, type GraphChanges } from "./errors.js";
import { InputValidationError } from "../graph/errors.js";
import { SnapshotCorruptError } from "../persistence/errors.js";
import { randomUUID } from "node:crypto";

/** What a prepared run is: done already (a stored succeeded run), or to be run. */
export type PreparedRun =
  | { readonly kind: "done"; readonly state: RunState; readonly outputs: unknown }
  | {
      readonly kind: "run";
      readonly state: RunState;
      /** The run's inputs, parsed by the graph's validator. */
      readonly inputs: unknown;
      /** The last journal sequence number stored (0 for a new run). */
      readonly seq: number;
      readonly resumed: boolean;
      /** Nodes kept from the stored run (settled ones). */
      readonly kept: number;
      /** The node counts of `state`, for a resume (its start's summary); undefined for a new run. */
      readonly counts?: NodeCounts;
    };

/** The slice of the resolved run config preparing reads. */
export type PrepareOptions = Pick<RunConfig, "allowGraphChange" | "sessionId" | "agentId" | "appId"> & {
  /** The parent run, recorded when a child run (`ctx.run`) is created. */
  readonly parentRunId?: string | undefined;
  /** The parent run's mark (`RunMeta.instance`), for a child run: recorded when it is created, checked when it is stored. */
  readonly parentInstance?: string | undefined;
};

/**
 * Prepares run `runId` of `graph`: a new one when `stored` is undefined,
 * else the stored run checked against the graph and `rawInputs` (see the
 * module comment). Throws the refusal; nothing has been written then.
 */
export async function prepareRun<I, O>(
  graph: TaskGraph<I, O>,
  runId: string,
  rawInputs: unknown,
  stored: StoredRun | undefined,
  options: PrepareOptions,
  now: () => number,
): Promise<PreparedRun> {
  if (!stored) {
    const inputs = await graph.parseInputs(rawInputs);
    assertStorableInputs(inputs);
    const state = createRunState({
      runId,
      graphName: graph.name,
      fingerprint: graph.fingerprint,
      inputs,
      nodeIds: graph.nodeIds(),
      positions: graphIndex(graph).position,
      now: now(),
      sessionId: options.sessionId,
      agentId: options.agentId,
      appId: options.appId,
      parentRunId: options.parentRunId,
      parentInstance: options.parentInstance,
      instance: runInstanceMark(),
    });
    return { kind: "run", state, inputs, seq: 0, resumed: false, kept: 0 };
  }

  let state = stored.state;
  const meta = state.meta;
  // A child run stored under this id by an earlier run of the parent's id, deleted since: its results are not this parent's.
  const parentRunId = options.parentRunId;
  if (parentRunId !== undefined && options.parentInstance !== undefined && meta.parentRunId === parentRunId && meta.parentInstance !== options.parentInstance) {
    throw new StaleChildRunError(runId, parentRunId);
  }
  if (meta.fingerprint !== graph.fingerprint) {
    if (!options.allowGraphChange) throw new GraphChangedError(runId, meta.fingerprint, graph.fingerprint, graphChanges(state, graph));
    state = adoptGraph(state, graph.fingerprint, graph.nodeIds(), now());
  }
  const lost = missingNode(state, graph.nodeIds(), graphIndex(graph).position);
  if (lost !== undefined) {
    throw new SnapshotCorruptError(stored.source ?? `run "${runId}"`, `it has no record of node "${lost}", which its graph has`);
  }
  let inputs: unknown = meta.inputs;
  if (rawInputs !== undefined) {
    const given = await graph.parseInputs(rawInputs);
    if (!sameValue(given, meta.inputs)) throw new RunInputsMismatchError(runId);
    inputs = given;
  }
  // Outputs that could not be stored exactly are computed again: the nodes (or steps) they come from are kept.
  if (meta.status === "succeeded" && meta.outputsDurable !== false) return { kind: "done", state, outputs: meta.outputs };
  // The graph may have gained (or changed) its validator since the run was stored; its fingerprint does not
  // cover it. Stored inputs it refuses never reach a node: InputValidationError, before anything is written.
  if (rawInputs === undefined) await graph.parseInputs(meta.inputs);
  const { state: reset, counts } = resetUnfinished(state, now());
  return { kind: "run", state: reset, inputs, seq: stored.seq, resumed: true, kept: counts.settledCount, counts };
}

/** The nodes `graph` added and removed since `state` was made; undefined for a dynamic graph (its nodes are made as it runs). */
function graphChanges(state: RunState, graph: { readonly dynamic: unknown; nodeIds(): readonly string[] }): GraphChanges | undefined {
  if (graph.dynamic !== undefined) return undefined;
  const stored = new Set<string>();
  for (const n of nodeRecords(state.nodes)) stored.add(n.nodeId);
  const now = new Set(graph.nodeIds());
  return { added: [...now].filter((id) => !stored.has(id)), removed: [...stored].filter((id) => !now.has(id)) };
}

/**
 * The first of `nodeIds` without a record in `state`, if any. Indexed
 * loops over the table's shards, not iterators: this pass runs once per
 * resume, mostly before the code is optimized, where each step of an
 * iterator allocates its result (a 10,000-node run: about a megabyte).
 * `positions`, when given, must map exactly `nodeIds` to their positions
 * (a graph's map and its ids): a table indexed by that very map (a run
 * loaded with its graph's layout, `Replay`) holds a record of each at its
 * position by construction (`createNodeTable`), and no record is looked at.
 */
export function missingNode(state: RunState, nodeIds: readonly string[], positions?: ReadonlyMap<string, number>): string | undefined {
  if (positions !== undefined && indexedBy(state.nodes, positions)) return undefined;
  // A stored run of the same graph holds its nodes in the graph's order: the record at the id's own position tells without a lookup.
  const table = state.nodes;
  const shards = table.shards;
  let p = 0;
  for (let s = 0; s < shards.length && p < nodeIds.length; s++) {
    const shard = shards[s]!;
    for (let i = 0; i < shard.length && p < nodeIds.length; i++, p++) {
      const id = nodeIds[p]!;
      if (shard[i]!.id !== id && !getNode(table, id)) return id;
    }
  }
  for (; p < nodeIds.length; p++) if (!getNode(table, nodeIds[p]!)) return nodeIds[p];
  return undefined;
}

/** Refuses run inputs that cannot be stored exactly: the run could not be resumed with them. */
export function assertStorableInputs(inputs: unknown): void {
  let problem: string;
  try {
    const durability = checkDurable(inputs);
    if (durability.ok) return;
    problem = durability.reason;
  } catch (error) {
    problem = `reading them threw ${describe(error)}`;
  }
  throw new InputValidationError("the run's inputs", [
    {
      path: [],
      message: `they cannot be stored exactly (${problem}); pass plain data (see docs/durability.md, "What a node may return")`,
    },
  ]);
}

/**
 * A new run's random mark (`RunMeta.instance`): 12 hex digits, 48 random
 * bits, enough to tell the runs of one id apart. From `randomUUID`, whose
 * random bytes come from a cached pool (about 0.1 µs a run, where
 * `randomBytes` asks the system each time, some 5 µs).
 */
function runInstanceMark(): string {
  const uuid = randomUUID();
  return uuid.slice(0, 8) + uuid.slice(9, 13);
}
