/**
 * `RunState` and every change to it. A run state is plain data: one
 * {@link RunMeta} and a {@link NodeTable} of node records. It is never
 * mutated: each function here is one immer `produce` that returns a new
 * state and leaves the old one intact, so a state handed to a listener or
 * a store stays valid. This module is the only place that changes a state;
 * the scheduler decides *when*, these functions decide *how*.
 *
 * Immer runs with auto-freeze off: freezing would deep-freeze user outputs
 * on every transition, a cost that grows with the output's size and
 * surprises callers who keep a reference. The types are `readonly`.
 *
 * @module
 */
import { Immer } from "immer";
import type { PendingWait } from "../errors.js";
import { createNodeTable, getNode, nodeRecords, shardOf, type NodeTable } from "./node-table.js";
import type { ErrorRecord, NodeRecord, RunMeta, RunSummary } from "./records.js";
import type { RunStatus } from "./status.js";

const immer = new Immer({ autoFreeze: false });
const produce = immer.produce;

/** The whole state of a run. */
export interface RunState {
  /** Run-level fields. */
  readonly meta: RunMeta;
  /** One record per node activation. */
  readonly nodes: NodeTable;
}

/** What a new run starts with. */
export interface NewRunInit {
  readonly runId: string;
  readonly graphName: string;
  readonly fingerprint: string;
  readonly inputs: unknown;
  readonly nodeIds: readonly string[];
  readonly now: number;
  readonly sessionId?: string | undefined;
  readonly agentId?: string | undefined;
  readonly appId?: string | undefined;
}

/** A new run: every node pending. */
export function createRunState(init: NewRunInit): RunState {
  const records = init.nodeIds.map(
    (id): NodeRecord => ({ id, nodeId: id, status: "pending", attempts: 0 }),
  );
  return {
    meta: {
      runId: init.runId,
      graphName: init.graphName,
      fingerprint: init.fingerprint,
      inputs: init.inputs,
      status: "pending",
      createdAt: init.now,
      updatedAt: init.now,
      starts: 0,
      waits: [],
      ...(init.sessionId !== undefined && { sessionId: init.sessionId }),
      ...(init.agentId !== undefined && { agentId: init.agentId }),
      ...(init.appId !== undefined && { appId: init.appId }),
    },
    nodes: createNodeTable(records, records.length),
  };
}

/** Rebuilds a state from a run meta and its node records (as loaded from a store). */
export function stateFromRecords(meta: RunMeta, records: Iterable<NodeRecord>, expected: number): RunState {
  return { meta, nodes: createNodeTable(records, expected) };
}

/** Reads one node record; throws when the id is unknown (a bug, not a user error). */
export function nodeOf(state: RunState, id: string): NodeRecord {
  const record = getNode(state.nodes, id);
  if (!record) throw new Error(`taskloom internal error: no node record "${id}" in run "${state.meta.runId}"`);
  return record;
}

type Draft<T> = { -readonly [K in keyof T]: T[K] };

function updateNode(state: RunState, id: string, now: number, recipe: (node: Draft<NodeRecord>) => void): RunState {
  const shard = shardOf(state.nodes, id);
  return produce(state, (draft) => {
    const node = draft.nodes.shards[shard]?.[id];
    if (!node) throw new Error(`taskloom internal error: no node record "${id}" in run "${state.meta.runId}"`);
    recipe(node);
    draft.meta.updatedAt = now;
  });
}

/** Sets (adds or replaces) a whole node record, as when replaying a journal. */
export function putNode(state: RunState, record: NodeRecord): RunState {
  const shard = shardOf(state.nodes, record.id);
  return produce(state, (draft) => {
    const target = draft.nodes.shards[shard];
    if (target) target[record.id] = record as Draft<NodeRecord>;
  });
}

/** Replaces the run meta, as when replaying a journal. */
export function putMeta(state: RunState, meta: RunMeta): RunState {
  return produce(state, (draft) => {
    draft.meta = meta as unknown as typeof draft.meta;
  });
}

/** The node's dependencies are met; it is queued. */
export function markReady(state: RunState, id: string, now: number): RunState {
  return updateNode(state, id, now, (n) => {
    n.status = "ready";
  });
}

/** An attempt starts. */
export function markRunning(state: RunState, id: string, now: number): RunState {
  return updateNode(state, id, now, (n) => {
    n.status = "running";
    n.attempts += 1;
    n.startedAt = now;
    delete n.retryAt;
  });
}

/** An attempt failed and another is due at `retryAt`. */
export function markRetrying(state: RunState, id: string, error: ErrorRecord, retryAt: number, now: number): RunState {
  return updateNode(state, id, now, (n) => {
    n.status = "retrying";
    n.error = error;
    n.retryAt = retryAt;
  });
}

/** The node succeeded with `output`; `durable` is false when the output cannot be stored. */
export function markSucceeded(state: RunState, id: string, output: unknown, durable: boolean, now: number): RunState {
  return updateNode(state, id, now, (n) => {
    n.status = "succeeded";
    n.output = output;
    n.endedAt = now;
    delete n.error;
    delete n.retryAt;
    if (durable) delete n.durable;
    else n.durable = false;
  });
}

/** The node failed for good. */
export function markFailed(state: RunState, id: string, error: ErrorRecord, now: number): RunState {
  return updateNode(state, id, now, (n) => {
    n.status = "failed";
    n.error = error;
    n.endedAt = now;
    delete n.retryAt;
  });
}

/** The node was cancelled (it was running, retrying, ready or pending when the run stopped). */
export function markCancelled(state: RunState, id: string, now: number): RunState {
  return updateNode(state, id, now, (n) => {
    n.status = "cancelled";
    n.endedAt = now;
    delete n.retryAt;
  });
}

/** The node will not run: its only predecessors were skipped by routing. */
export function markSkipped(state: RunState, id: string, now: number): RunState {
  return updateNode(state, id, now, (n) => {
    n.status = "skipped";
    n.endedAt = now;
  });
}

/** Records the result of `ctx.step(name, fn)` in the node's journal. */
export function recordStep(state: RunState, id: string, name: string, value: unknown, now: number): RunState {
  return updateNode(state, id, now, (n) => {
    n.steps = { ...n.steps, [name]: value };
  });
}

/** Extra run fields set together with a status. */
export interface RunStatusChange {
  readonly outputs?: unknown;
  readonly error?: ErrorRecord;
  readonly waits?: readonly PendingWait[];
}

/** Changes the run's status (and, with it, outputs, error or waits). */
export function setRunStatus(state: RunState, status: RunStatus, now: number, change: RunStatusChange = {}): RunState {
  return produce(state, (draft) => {
    const m = draft.meta;
    m.status = status;
    m.updatedAt = now;
    if (status === "running") {
      m.startedAt = now;
      m.starts += 1;
      delete m.endedAt;
      delete m.error;
      delete m.outputs;
    } else if (status !== "pending") {
      m.endedAt = now;
    }
    if ("outputs" in change) m.outputs = change.outputs;
    if (change.error !== undefined) m.error = change.error;
    m.waits = (change.waits ?? []) as PendingWait[];
  });
}

/** Updates the fingerprint (resume with `allowGraphChange`) and adds records for nodes the stored run lacks. */
export function adoptGraph(state: RunState, fingerprint: string, nodeIds: readonly string[], now: number): RunState {
  const missing = nodeIds.filter((id) => !getNode(state.nodes, id));
  let next = produce(state, (draft) => {
    draft.meta.fingerprint = fingerprint;
    draft.meta.updatedAt = now;
  });
  if (missing.length > 0) {
    const records = [...nodeRecords(next.nodes)];
    for (const id of missing) records.push({ id, nodeId: id, status: "pending", attempts: 0 });
    next = { meta: next.meta, nodes: createNodeTable(records, records.length) };
  }
  return next;
}

/**
 * Prepares a stored, unfinished run to continue: every activation that did
 * not succeed (or succeeded with an output that could not be stored) goes
 * back to `pending` with fresh attempts; succeeded ones keep their outputs.
 * Returns the ids that were reset.
 */
export function resetUnfinished(state: RunState, now: number): { state: RunState; reset: string[] } {
  const reset: string[] = [];
  for (const n of nodeRecords(state.nodes)) {
    const keep = (n.status === "succeeded" && n.durable !== false) || n.status === "skipped";
    if (!keep) reset.push(n.id);
  }
  if (reset.length === 0) return { state, reset };
  const next = produce(state, (draft) => {
    for (const id of reset) {
      const shard = draft.nodes.shards[shardOf(state.nodes, id)];
      const n = shard?.[id];
      if (!n || !shard) continue;
      const steps = n.steps;
      shard[id] = { id: n.id, nodeId: n.nodeId, status: "pending", attempts: 0, ...(steps && { steps }) };
    }
    draft.meta.updatedAt = now;
  });
  return { state: next, reset };
}

/** Counts node activations by whether they settled. */
export function countNodes(state: RunState): { nodeCount: number; settledCount: number } {
  let nodeCount = 0;
  let settledCount = 0;
  for (const n of nodeRecords(state.nodes)) {
    nodeCount += 1;
    if (n.status === "succeeded" || n.status === "skipped") settledCount += 1;
  }
  return { nodeCount, settledCount };
}

/** Makes the {@link RunSummary} of a state (O(nodes): call at status changes, not per transition). */
export function summarize(state: RunState): RunSummary {
  const meta = state.meta;
  return {
    runId: meta.runId,
    graphName: meta.graphName,
    status: meta.status,
    ...countNodes(state),
    createdAt: meta.createdAt,
    updatedAt: meta.updatedAt,
    waits: meta.waits,
    ...(meta.sessionId !== undefined && { sessionId: meta.sessionId }),
    ...(meta.agentId !== undefined && { agentId: meta.agentId }),
    ...(meta.appId !== undefined && { appId: meta.appId }),
  };
}
