/**
 * The record buffer: the engine's view of the run state between commits.
 *
 * Node transitions ({@link NodeTransition}, pure, from `src/state/`)
 * produce new records that wait in `#changed` until the state is next read
 * (by a compaction, a handle, the end of the run); then one `commitNodes`
 * lays them all into the state, so immer's cost is paid once per batch,
 * not once per transition. New activation records (graphFn steps, map
 * elements, later visits) wait in `#appended` and are appended at the same
 * commit, together.
 *
 * Every change is handed to the journal as it is made (push, never read
 * back): a journaled transition with {@link RunJournal.put}, a transient
 * one (an activation becoming ready) with {@link RunJournal.revise}.
 *
 * Changes wait by position in the state's table (the table's id index
 * gives it), not in a map by id: a record's latest value costs the one
 * index lookup, and a reader that knows the position (the `deps` of a
 * wide join, {@link RecordBuffer.outputAt}) needs none. In a million-node
 * run every lookup in a million-entry map misses the cache, and a map of
 * changes grew to a million entries before the run's end committed them
 * (issue 16, target 6). Only the records appended since the last commit,
 * not yet in the index, wait in a map by id.
 *
 * A graph node the ready set dispatches while its record is pending (a
 * first dispatch) gets no ready record then ({@link RecordBuffer.readyAt}):
 * its position waits in a list, and the next read of the state makes the
 * ready record of each that is still pending, before anything else is
 * committed. A state read thus shows what it showed when every dispatch
 * made its record at once; what it spares is a record per node, made for
 * a moment: a million-node fan-out made a million of them in one loop when
 * its root succeeded, and each lived until its node started, long enough
 * to be copied by the scavenger and promoted (issue 16, target 6).
 *
 * The outputs that feed `deps` are read from the latest records (no map
 * of a million outputs beside them); only a node visited more than once
 * (a routing loop) keeps its latest visit's output in a small map, since
 * its first record keeps the first visit's. An attempt's number is read
 * from the record its start transition returns.
 *
 * Invariants:
 * - `get(id)` is the latest record of `id`: a change not yet committed wins
 *   over the state; a node made ready by `readyAt` reads as its pending
 *   record until the state is read (no engine decision tells the two apart).
 * - The committed state holds every change made so far, `readyAt`'s included.
 * - The buffer never changes a record itself: every change is a named
 *   transition of `src/state/`.
 *
 * @module
 */
import { nodeAt } from "../state/node-table.js";
import type { NodeRecord } from "../state/records.js";
import { appendNodes, commitNodes, nodeOf, resumeFacts, type RunState } from "../state/run-state.js";
import { markReady, type NodeTransition } from "../state/node-transitions.js";
import type { RunJournal } from "./journal-port.js";

const READY = markReady();

/** The latest records of one run, committed to its state in batches. */
export class RecordBuffer {
  readonly #journal: RunJournal;
  readonly #now: () => number;
  #state: RunState;
  /** The id → position index of the state's table: shared by every state of the run, grown only by a commit's `appendNodes`. */
  readonly #index: ReadonlyMap<string, number>;
  /** Per position of the table: the record changed since the last commit, else undefined. */
  readonly #changedAt: (NodeRecord | undefined)[];
  /** The positions in `#changedAt`, in the order of their first change. */
  #changedPositions: number[] = [];
  /** New activation records not yet in the state, and the latest record of each (they are not in the index yet). */
  #appended: NodeRecord[] = [];
  readonly #appendedLatest = new Map<string, NodeRecord>();
  /** The output of each node's latest visit, for nodes visited more than once (routing loops). */
  readonly #latestVisit = new Map<string, unknown>();
  /** Positions made ready by {@link RecordBuffer.readyAt} whose ready record is not made yet (the state's next read makes it, for each still pending). */
  #readyPending: number[] = [];

  constructor(state: RunState, journal: RunJournal, now: () => number) {
    this.#state = state;
    this.#journal = journal;
    this.#now = now;
    this.#index = state.nodes.index;
    this.#changedAt = new Array<NodeRecord | undefined>(this.#index.size);
    // A resume's reset walked every record already, and says whether one is a later visit (resumeFacts): most
    // runs have none, and this pass is then skipped. Else indexed loops over the table's shards, not its record
    // iterator: this runs once per run, and a resume's mostly before it is optimized, where each iterator step
    // allocates its result.
    if (resumeFacts(state.nodes)?.visits === false) return;
    const shards = state.nodes.shards;
    for (let s = 0; s < shards.length; s++) {
      const shard = shards[s]!;
      for (let i = 0; i < shard.length; i++) {
        const n = shard[i]!;
        // A later visit's output is the node's latest (records are in the order visits began).
        if (n.status === "succeeded" && n.visit !== undefined) this.#latestVisit.set(n.nodeId, n.output);
      }
    }
  }

  /** The run state with every change made so far committed. */
  get state(): RunState {
    if (this.#readyPending.length > 0) this.#makeReadyRecords();
    if (this.#appended.length > 0) {
      const appended = this.#appended;
      this.#appended = [];
      this.#state = appendNodes(this.#state, appended);
      // Now in the index: their latest records wait by position, like any change.
      for (const record of appended) {
        const p = this.#index.get(record.id)!;
        this.#changedAt[p] = this.#appendedLatest.get(record.id);
        this.#changedPositions.push(p);
      }
      this.#appendedLatest.clear();
    }
    if (this.#changedPositions.length > 0) {
      const positions = this.#changedPositions;
      this.#changedPositions = [];
      const changed = new Array<NodeRecord>(positions.length);
      for (let i = 0; i < positions.length; i++) {
        const p = positions[i]!;
        changed[i] = this.#changedAt[p]!;
        this.#changedAt[p] = undefined;
      }
      this.#state = commitNodes(this.#state, changed, this.#now(), positions);
    }
    return this.#state;
  }

  /**
   * {@link get} as a reader outside the engine sees it: an activation made
   * ready by {@link readyAt} reads as ready (the ready records still due
   * are made now, as a state read makes them).
   */
  current(id: string): NodeRecord | undefined {
    if (this.#readyPending.length > 0) this.#makeReadyRecords();
    return this.get(id);
  }

  /** The latest record of an activation, including changes not yet committed (a node made ready by {@link readyAt} reads as pending). */
  get(id: string): NodeRecord | undefined {
    const p = this.#index.get(id);
    if (p === undefined) return this.#appendedLatest.get(id);
    return this.#changedAt[p] ?? nodeAt(this.#state.nodes, p);
  }

  /** Adds activation records and journals them (not urgent: they ride along with the next write). */
  append(records: readonly NodeRecord[]): void {
    for (const record of records) {
      this.#appended.push(record);
      this.#appendedLatest.set(record.id, record);
    }
    for (const record of records) this.#journal.put(record, false);
  }

  /** Changes activation `id`'s record without a journal write of its own (transient statuses). */
  change(id: string, transition: NodeTransition): void {
    this.#journal.revise(this.#apply(transition, id));
  }

  /** Changes activation `id`'s record and journals it (`urgent`: schedule a write for it); returns the new record. */
  transition(transition: NodeTransition, id: string, urgent = true): NodeRecord {
    const next = this.#apply(transition, id);
    this.#journal.put(next, urgent);
    return next;
  }

  /**
   * {@link transition} for a record expected at `position` of the state's
   * table (a graph node's graph position, where a run made from the graph
   * holds it; -1: not known): changed there without an id lookup when the
   * record there is `id`'s, else as {@link transition} does.
   */
  transitionAt(transition: NodeTransition, id: string, position: number, urgent: boolean): NodeRecord {
    const next = this.#applyAt(transition, id, position);
    this.#journal.put(next, urgent);
    return next;
  }

  /** {@link change} for a record expected at `position` (see {@link transitionAt}). */
  changeAt(id: string, position: number, transition: NodeTransition): void {
    this.#journal.revise(this.#applyAt(transition, id, position));
  }

  /**
   * Activation `id`, a graph node expected at `position` (see
   * {@link transitionAt}), became ready. When its latest record there is
   * pending, nothing is made now: the state's next read makes its ready
   * record if it is still pending then (it may have started, or settled,
   * meanwhile). Otherwise, as {@link changeAt} with `markReady`.
   * Nothing is journaled either way that would not be: a pending record
   * that waits to be written is as unfinished as a ready one (both are
   * reset to pending on resume), and `revise` writes nothing of its own.
   */
  readyAt(id: string, position: number): void {
    if (position >= 0) {
      const current = this.#changedAt[position] ?? nodeAt(this.#state.nodes, position);
      if (current !== undefined && current.id === id && current.status === "pending") {
        this.#readyPending.push(position);
        return;
      }
    }
    this.changeAt(id, position, READY);
  }

  /** Makes the ready record of each position {@link readyAt} left pending that still is, as a change (before a commit). */
  #makeReadyRecords(): void {
    const positions = this.#readyPending;
    this.#readyPending = [];
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i]!;
      const changed = this.#changedAt[p];
      const current = changed ?? nodeAt(this.#state.nodes, p);
      if (current?.status !== "pending") continue;
      this.#journal.revise(this.#changeAt(p, changed, READY(current)));
    }
  }

  /** {@link #apply} with the record looked for at `position` first. */
  #applyAt(transition: NodeTransition, id: string, position: number): NodeRecord {
    if (position < 0) return this.#apply(transition, id);
    const changed = this.#changedAt[position];
    const current = changed ?? nodeAt(this.#state.nodes, position);
    if (current === undefined || current.id !== id) return this.#apply(transition, id);
    return this.#changeAt(position, changed, transition(current));
  }

  /** Applies `transition` to the latest record of `id` and keeps the result as its change; throws for an unknown id. */
  #apply(transition: NodeTransition, id: string): NodeRecord {
    const p = this.#index.get(id);
    if (p === undefined) {
      const next = transition(this.#appendedLatest.get(id) ?? nodeOf(this.#state, id));
      this.#appendedLatest.set(id, next);
      return next;
    }
    const changed = this.#changedAt[p];
    return this.#changeAt(p, changed, transition(changed ?? nodeAt(this.#state.nodes, p) ?? nodeOf(this.#state, id)));
  }

  /** Keeps `next` as the change at position `p`, whose change so far was `changed`. */
  #changeAt(p: number, changed: NodeRecord | undefined, next: NodeRecord): NodeRecord {
    if (changed === undefined) this.#changedPositions.push(p);
    this.#changedAt[p] = next;
    return next;
  }

  /** The output of a succeeded activation (for a node visited more than once: of its latest visit), for `deps`. */
  output(id: string): unknown {
    if (this.#latestVisit.size > 0 && this.#latestVisit.has(id)) return this.#latestVisit.get(id);
    const record = this.get(id);
    return record?.status === "succeeded" ? record.output : undefined;
  }

  /**
   * As {@link output}, for a record expected at `position` of the state's
   * table (a graph node's graph position, where a run made from the graph
   * holds it): read there without an id lookup when the record there is
   * `id`'s, else looked up as {@link output} does.
   */
  outputAt(position: number, id: string): unknown {
    if (this.#latestVisit.size > 0 && this.#latestVisit.has(id)) return this.#latestVisit.get(id);
    const record = position >= 0 ? (this.#changedAt[position] ?? nodeAt(this.#state.nodes, position)) : undefined;
    if (record === undefined || record.id !== id) return this.output(id);
    return record.status === "succeeded" ? record.output : undefined;
  }

  /**
   * Sets `into[ids[k]]` to {@link outputAt}`(positions[from + k], ids[k])`
   * for each of `ids`, in order: the `deps` of a wide join, one loop and no
   * call per dependency (the join of a 10,000-node fan-out runs once per
   * run, mostly before it is optimized, where each call costs).
   */
  outputsAt(into: Record<string, unknown>, ids: readonly string[], positions: ArrayLike<number>, from: number): void {
    const changedAt = this.#changedAt;
    const { shards, shardSize } = this.#state.nodes;
    const visits = this.#latestVisit.size > 0;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!;
      if (visits && this.#latestVisit.has(id)) {
        into[id] = this.#latestVisit.get(id);
        continue;
      }
      const p = positions[from + k]!;
      const record = p >= 0 ? (changedAt[p] ?? shards[Math.floor(p / shardSize)]?.[p % shardSize]) : undefined;
      if (record === undefined || record.id !== id) into[id] = this.output(id);
      else into[id] = record.status === "succeeded" ? record.output : undefined;
    }
  }

  /** A later visit (`n#2`, …) of node `nodeId` succeeded with `value`: from now on it is the node's output. */
  setLatestVisitOutput(nodeId: string, value: unknown): void {
    this.#latestVisit.set(nodeId, value);
  }
}
