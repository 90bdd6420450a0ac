/**
 * `RunState` and every change to it. A run state is plain data: one
 * {@link RunMeta} and a {@link NodeTable} of node records. It is never
 * mutated: every change (an immer `produce`, or on the hot paths a
 * structural copy) returns a new state and leaves the old one intact, so a state handed to a listener or a store
 * stays valid. This module is the only place that changes a state; the
 * scheduler decides *when*, these functions decide *how*.
 *
 * Node transitions are pure functions from one immutable node record to
 * the next ({@link NodeTransition}, in `node-transitions.ts`); a run's
 * summary and node counts are made in `run-summary.ts`. The scheduler keeps the records that
 * changed since the last commit and {@link commitNodes} lays them into the
 * state once per batch, replacing each touched shard with a frozen copy.
 * Immer's cost is per object it drafts (about 6 µs each on our machines,
 * more than a no-op node's whole scheduling), so drafting every record on
 * every transition would dominate a run; the batch commit (like
 * {@link appendNodes} and {@link setRunStatus}, the per-run paths) is a
 * plain structural copy of the state, its meta, node table and shard list,
 * which is all a produce there changed, without the drafts. Every read of
 * the state goes through a commit first, so it sees every transition made
 * before it.
 *
 * Immer runs with auto-freeze off: freezing would deep-freeze user outputs
 * on every transition, a cost that grows with the output's size and
 * surprises callers who keep a reference. The types are `readonly`.
 *
 * @module
 */
import { Immer } from "immer";
import { anchorShape } from "../core/shape-anchors.js";
import type { PendingWait } from "./waits.js";
import { createNodeTable, getNode, indexNext, nodeCount as recordCount, nodeRecords, type NodeTable } from "./node-table.js";
import { MAX_ATTEMPT_LOG, type ErrorRecord, type InboxEntry, type NodeCounts, type NodeRecord, type RunMeta } from "./records.js";
import type { RunStatus } from "./status.js";
import { markPending, markReady, type NodeTransition } from "./node-transitions.js";

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
  /**
   * The position of each of `nodeIds` in it, and nothing else (the graph's
   * own map, for `nodeIds` = the graph's `order`): shared as the run's index
   * instead of a map built per run. @default a map built here
   */
  readonly positions?: ReadonlyMap<string, number> | undefined;
  readonly now: number;
  readonly sessionId?: string | undefined;
  readonly agentId?: string | undefined;
  readonly appId?: string | undefined;
  /** The parent run, for a child run started with `ctx.run`. */
  readonly parentRunId?: string | undefined;
  /** The run's random mark (`RunMeta.instance`). */
  readonly instance?: string | undefined;
  /** For a child run: its parent's mark (`RunMeta.parentInstance`). */
  readonly parentInstance?: string | undefined;
}

/** A new run: every node pending. */
export function createRunState(init: NewRunInit): RunState {
  const records = init.nodeIds.map((id): NodeRecord => ({ id, nodeId: id, status: "pending", attempts: 0 }));
  const meta: { -readonly [K in keyof RunMeta]: RunMeta[K] } = {
    runId: init.runId,
    graphName: init.graphName,
    fingerprint: init.fingerprint,
    inputs: init.inputs,
    status: "pending",
    createdAt: init.now,
    updatedAt: init.now,
    starts: 0,
    waits: [],
  };
  // Set when present, in this order (the meta's text is as ever), not spread in: once per run, mostly before the
  // code is optimized, where each spread of a condition is a call into the runtime.
  if (init.sessionId !== undefined) meta.sessionId = init.sessionId;
  if (init.agentId !== undefined) meta.agentId = init.agentId;
  if (init.appId !== undefined) meta.appId = init.appId;
  if (init.parentRunId !== undefined) meta.parentRunId = init.parentRunId;
  if (init.instance !== undefined) meta.instance = init.instance;
  if (init.parentInstance !== undefined) meta.parentInstance = init.parentInstance;
  const nodes = createNodeTable(records, init.positions !== undefined && init.positions.size === records.length ? init.positions : undefined);
  // A list that may change later (not frozen, as a graph's order is) could stop naming the records.
  if (Object.isFrozen(init.nodeIds)) FRESH.set(nodes, init.nodeIds);
  return { meta, nodes };
}

/** The ids {@link createRunState} made each of its tables from (weak: they die with it); a table is never changed in place. */
const FRESH = new WeakMap<NodeTable, readonly string[]>();

/**
 * The ids of `table`'s records when {@link createRunState} made it (a new
 * run's table, before any change): record p is then exactly
 * `{ id: ids[p], nodeId: ids[p], status: "pending", attempts: 0 }`, with
 * no other field, so a store can write it without looking at each record
 * (`persistence/snapshot-file.ts`). Undefined for any other table (a
 * loaded run's, a later state's).
 */
export function freshNodeIds(table: NodeTable): readonly string[] | undefined {
  return FRESH.get(table);
}

/** Rebuilds a state from a run meta and its node records (as loaded from a store). */
export function stateFromRecords(meta: RunMeta, records: Iterable<NodeRecord>): RunState {
  return { meta, nodes: createNodeTable(records) };
}

/** Reads one node record; throws when the id is unknown (a bug, not a user error). */
export function nodeOf(state: RunState, id: string): NodeRecord {
  const record = getNode(state.nodes, id);
  if (!record) throw new Error(`taskloom internal error: no node record "${id}" in run "${state.meta.runId}"`);
  return record;
}

/**
 * Lays changed node records into the state in one structural copy. Each
 * record's id must already be in the table. `positions`, when given, holds
 * the table position of each record, in the same order (the record buffer
 * keeps its changes by position): no lookup by id then, which for the
 * million records a million-node run commits at its end is a million
 * lookups in a map that does not fit in the cache.
 */
export function commitNodes(state: RunState, records: readonly NodeRecord[], now?: number, positions?: readonly number[]): RunState {
  const table = state.nodes;
  const { shardSize, index } = table;
  // The copied shards, by shard number (most commits touch a few; a run's last touches all).
  const copies = new Array<NodeRecord[] | undefined>(table.shards.length);
  let touched = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const p = positions === undefined ? index.get(record.id) : positions[i];
    if (p === undefined || p >= index.size) throw new Error(`taskloom internal error: no node record "${record.id}" in run "${state.meta.runId}"`);
    const s = Math.floor(p / shardSize);
    let shard = copies[s];
    if (shard === undefined) {
      shard = copies[s] = (table.shards[s] ?? []).slice();
      touched += 1;
    }
    shard[p - s * shardSize] = record;
  }
  if (touched === 0) return state;
  // A structural copy of the three objects that change (what immer's produce made, without its drafts).
  const shards = table.shards.slice();
  for (let s = 0; s < copies.length; s++) {
    const shard = copies[s];
    if (shard !== undefined) shards[s] = Object.freeze(shard);
  }
  const meta = now !== undefined && state.meta.updatedAt !== now ? { ...state.meta, updatedAt: now } : state.meta;
  return { ...state, meta, nodes: { ...table, shards } };
}

/**
 * Adds node records after the existing ones (dynamic activations: graphFn
 * steps). The table's id index is shared by every state of the run and
 * only ever grows, so earlier states simply do not see the new records.
 */
export function appendNodes(state: RunState, records: readonly NodeRecord[]): RunState {
  if (records.length === 0) return state;
  const table = state.nodes;
  const shards = table.shards.map((shard) => shard);
  for (const record of records) {
    if (table.index.has(record.id)) throw new Error(`taskloom internal error: node record "${record.id}" exists already`);
    const position = indexNext(table, record.id);
    const s = Math.floor(position / table.shardSize);
    const shard = s < shards.length ? [...(shards[s] ?? [])] : [];
    shard.push(record);
    shards[s] = Object.freeze(shard);
  }
  return { ...state, nodes: { ...table, shards: Object.freeze(shards) } };
}

/** Applies one transition to one node and commits it. */
export function applyTransition(state: RunState, id: string, transition: NodeTransition, now?: number): RunState {
  return commitNodes(state, [transition(nodeOf(state, id))], now);
}

/** Extra run fields set together with a status. */
export interface RunStatusChange {
  readonly outputs?: unknown;
  /** The outputs cannot be stored exactly: they are left out and computed again on resume. */
  readonly outputsDurable?: false;
  readonly error?: ErrorRecord;
  readonly waits?: readonly PendingWait[];
  /** Replaces the inbox (undefined: keep it). */
  readonly inbox?: Readonly<Record<string, InboxEntry>>;
}

/**
 * Changes the run's status (and, with it, outputs, error or waits). Only
 * the meta changes, so this is a plain structural copy of it rather than an
 * immer `produce` (which costs more than the copy at every run's start and
 * end); the state it returns shares every node record with `state`.
 */
export function setRunStatus(state: RunState, status: RunStatus, now: number, change: RunStatusChange = {}): RunState {
  const m: { -readonly [K in keyof RunMeta]: RunMeta[K] } = { ...state.meta };
  m.status = status;
  m.updatedAt = now;
  if (status === "running") {
    m.startedAt = now;
    m.starts += 1;
    const sessions = [...(m.sessions ?? []), { startedAt: now }];
    m.sessions = sessions.length > MAX_ATTEMPT_LOG ? sessions.slice(sessions.length - MAX_ATTEMPT_LOG) : sessions;
    delete m.endedAt;
    delete m.error;
    delete m.outputs;
    delete m.outputsDurable;
  } else if (status !== "pending") {
    m.endedAt = now;
    const sessions = m.sessions;
    const last = sessions?.[sessions.length - 1];
    if (sessions !== undefined && last !== undefined && last.endedAt === undefined)
      m.sessions = [...sessions.slice(0, -1), { startedAt: last.startedAt, endedAt: now }];
  }
  if ("outputs" in change) m.outputs = change.outputs;
  if (change.outputsDurable === false) m.outputsDurable = false;
  if (change.error !== undefined) m.error = change.error;
  m.waits = change.waits ?? [];
  if (change.inbox !== undefined) {
    if (Object.keys(change.inbox).length === 0) delete m.inbox;
    else m.inbox = change.inbox;
  }
  return { ...state, meta: m };
}

/** Sets (or, with `undefined`, removes) the run's deadline (epoch ms). */
export function setRunDeadline(state: RunState, deadline: number | undefined): RunState {
  if (state.meta.deadline === deadline) return state;
  return produce(state, (draft) => {
    if (deadline === undefined) delete draft.meta.deadline;
    else draft.meta.deadline = deadline;
  });
}

/** Delivers an event into the run's inbox (resolveWait on a run no process is driving). */
export function deliverToInbox(state: RunState, key: string, entry: InboxEntry): RunState {
  return produce(state, (draft) => {
    draft.meta.inbox = { ...draft.meta.inbox, [key]: entry };
    draft.meta.updatedAt = entry.at;
  });
}

/**
 * The wait keys a stored run has open, read from its node records (not
 * from `meta.waits`, which is written only when a run stops as `waiting`):
 * a key is open when an activation that will run again (anything but
 * succeeded or skipped) waits for it and has not taken its event, whatever
 * status the run was saved with (a driver killed mid-run leaves it
 * `running`; a failed or cancelled run waits again on resume). A succeeded
 * run has none. `taken` lists the keys whose event a node already took.
 */
export function openWaitKeys(state: RunState): { open: string[]; taken: string[] } {
  const open = new Set<string>();
  const taken = new Set<string>();
  const done = state.meta.status === "succeeded";
  for (const n of nodeRecords(state.nodes)) {
    if (!n.waits) continue;
    const settled = (n.status === "succeeded" && n.durable !== false) || n.status === "skipped";
    for (const [key, wait] of Object.entries(n.waits)) {
      if (wait.resolved) taken.add(key);
      else if (!settled && !done) open.add(key);
    }
  }
  if (!done) for (const w of state.meta.waits) open.add(w.key);
  return { open: [...open], taken: [...taken] };
}

/** Updates the fingerprint (resume with `allowGraphChange`) and adds pending records for nodes the stored run lacks. */
export function adoptGraph(state: RunState, fingerprint: string, nodeIds: readonly string[], now: number): RunState {
  const missing = nodeIds.filter((id) => !getNode(state.nodes, id));
  const next = produce(state, (draft) => {
    draft.meta.fingerprint = fingerprint;
    draft.meta.updatedAt = now;
  });
  if (missing.length === 0) return next;
  const records = [...nodeRecords(next.nodes)];
  for (const id of missing) records.push({ id, nodeId: id, status: "pending", attempts: 0 });
  return { meta: next.meta, nodes: createNodeTable(records) };
}

/**
 * Prepares a stored, unfinished run to continue: every activation that did
 * not succeed (or succeeded with an output that could not be stored) goes
 * back to `pending` with fresh attempts, keeping its journaled steps;
 * succeeded and skipped ones keep their records. Returns the ids reset,
 * and the node counts of the state returned (`countNodes`'s, taken in the
 * same pass: a resume's start needs them, and a second pass over every
 * record cost as much as this one).
 */
export function resetUnfinished(state: RunState, now: number): { state: RunState; reset: string[]; counts: Required<NodeCounts> } {
  const reset: string[] = [];
  const records: NodeRecord[] = [];
  // Where each reset record sits: the commit then looks none of them up by id.
  const positions: number[] = [];
  // Where each kept record sits, and whether one is a later visit: the resume's other passes take them from here (`resumeFacts`).
  const kept = new Int32Array(recordCount(state.nodes));
  let keptCount = 0;
  let visits = false;
  let pending: NodeTransition | undefined;
  // What is kept is succeeded or skipped; what is reset is pending (neither settled nor failed).
  let nodeCount = 0;
  let succeededCount = 0;
  let settledCount = 0;
  // Indexed loops over the table's shards, not its record iterator: this runs once per resume, mostly before it
  // is optimized, where each iterator step allocates its result.
  const { shards, shardSize } = state.nodes;
  for (let s = 0; s < shards.length; s++) {
    const shard = shards[s]!;
    for (let i = 0; i < shard.length; i++) {
      const n = shard[i]!;
      nodeCount += 1;
      if (n.status === "succeeded" && n.durable !== false) {
        succeededCount += 1;
        settledCount += 1;
        kept[keptCount++] = s * shardSize + i;
        if (n.visit !== undefined) visits = true;
        continue;
      }
      if (n.status === "skipped") {
        settledCount += 1;
        kept[keptCount++] = s * shardSize + i;
        if (n.visit !== undefined) visits = true;
        continue;
      }
      reset.push(n.id);
      records.push((pending ??= markPending())(n));
      positions.push(s * shardSize + i);
    }
  }
  const counts = { nodeCount, settledCount, succeededCount, failedCount: 0 };
  const next = reset.length === 0 ? state : commitNodes(state, records, now, positions);
  // Keyed by the table returned: tables are never changed, and every later change makes a new one.
  FACTS.set(next.nodes, { settled: kept.subarray(0, keptCount), visits, from: state.nodes, changed: records });
  return { state: next, reset, counts };
}

/**
 * What {@link resetUnfinished} learnt of the node table it returned, in
 * its one pass over the records: a resume's start would otherwise walk
 * every record again for each (the ready set, the record buffer, the
 * journal's start each did), a pass that runs once per resume, mostly
 * before it is optimized (about a microsecond per record then).
 */
export interface ResumeFacts {
  /** The positions of the settled records (succeeded or skipped: the kept ones), ascending, each once. */
  readonly settled: Int32Array;
  /** True when a settled record has a `visit` (a routed node's later visit). */
  readonly visits: boolean;
  /** The table the records were reset from (the run as loaded). */
  readonly from: NodeTable;
  /** The records that differ from `from`'s (the reset ones), in position order. */
  readonly changed: readonly NodeRecord[];
}

/** {@link ResumeFacts} by the table {@link resetUnfinished} returned (weak: they die with it). */
const FACTS = new WeakMap<NodeTable, ResumeFacts>();

/** The {@link ResumeFacts} of `table` when {@link resetUnfinished} returned it, else undefined (any other table: a new run's, a later state's). */
export function resumeFacts(table: NodeTable): ResumeFacts | undefined {
  return FACTS.get(table);
}

// Each commit copies the state, its meta and its node table (`commitNodes`), and no copy outlives its run, so
// their maps would die with it: they are anchored (see core/shape-anchors.ts) through a one-node sample state
// committed once, as a run's states are.
{
  const sample = createRunState({ runId: "", graphName: "", fingerprint: "", inputs: undefined, nodeIds: ["a"], now: Date.now() });
  anchorShape(commitNodes(sample, [markReady()(nodeOf(sample, "a"))], Date.now() + 1));
}
