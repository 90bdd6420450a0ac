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
 * The outputs that feed `deps` are read from the latest records (no map
 * of a million outputs beside them); only a node visited more than once
 * (a routing loop) keeps its latest visit's output in a small map, since
 * its first record keeps the first visit's. An attempt's number is read
 * from the record its start transition returns.
 *
 * Invariants:
 * - `get(id)` is the latest record of `id`: `#changed` wins over the state.
 * - The buffer never changes a record itself: every change is a named
 *   transition of `src/state/`.
 *
 * @module
 */
import { getNode, nodeRecords } from "../state/node-table.js";
import type { NodeRecord } from "../state/records.js";
import { appendNodes, commitNodes, nodeOf, type RunState } from "../state/run-state.js";
import { type NodeTransition } from "../state/node-transitions.js";
import type { RunJournal } from "./journal-port.js";

/** The latest records of one run, committed to its state in batches. */
export class RecordBuffer {
  readonly #journal: RunJournal;
  readonly #now: () => number;
  #state: RunState;
  /** Records changed since the last commit, by activation id. */
  #changed = new Map<string, NodeRecord>();
  /** New activation records not yet in the state (their latest value is in `#changed`). */
  #appended: NodeRecord[] = [];
  /** The output of each node's latest visit, for nodes visited more than once (routing loops). */
  readonly #latestVisit = new Map<string, unknown>();

  constructor(state: RunState, journal: RunJournal, now: () => number) {
    this.#state = state;
    this.#journal = journal;
    this.#now = now;
    for (const n of nodeRecords(state.nodes)) {
      // A later visit's output is the node's latest (records are in the order visits began).
      if (n.status === "succeeded" && n.visit !== undefined) this.#latestVisit.set(n.nodeId, n.output);
    }
  }

  /** The run state with every change made so far committed. */
  get state(): RunState {
    if (this.#appended.length > 0) {
      const appended = this.#appended;
      this.#appended = [];
      this.#state = appendNodes(this.#state, appended);
    }
    if (this.#changed.size > 0) {
      const changed = this.#changed;
      this.#changed = new Map();
      this.#state = commitNodes(this.#state, changed.values(), this.#now());
    }
    return this.#state;
  }

  /** The latest record of an activation, including changes not yet committed. */
  get(id: string): NodeRecord | undefined {
    return this.#changed.get(id) ?? getNode(this.#state.nodes, id);
  }

  /** Adds activation records and journals them (not urgent: they ride along with the next write). */
  append(records: readonly NodeRecord[]): void {
    for (const record of records) {
      this.#appended.push(record);
      this.#changed.set(record.id, record);
    }
    for (const record of records) this.#journal.put(record, false);
  }

  /** Changes activation `id`'s record without a journal write of its own (transient statuses). */
  change(id: string, transition: NodeTransition): void {
    const next = transition(this.#changed.get(id) ?? nodeOf(this.#state, id));
    this.#changed.set(id, next);
    this.#journal.revise(next);
  }

  /** Changes activation `id`'s record and journals it (`urgent`: schedule a write for it); returns the new record. */
  transition(transition: NodeTransition, id: string, urgent = true): NodeRecord {
    const next = transition(this.#changed.get(id) ?? nodeOf(this.#state, id));
    this.#changed.set(id, next);
    this.#journal.put(next, urgent);
    return next;
  }

  /** The output of a succeeded activation (for a node visited more than once: of its latest visit), for `deps`. */
  output(id: string): unknown {
    if (this.#latestVisit.size > 0 && this.#latestVisit.has(id)) return this.#latestVisit.get(id);
    const record = this.get(id);
    return record?.status === "succeeded" ? record.output : undefined;
  }

  /** A later visit (`n#2`, …) of node `nodeId` succeeded with `value`: from now on it is the node's output. */
  setLatestVisitOutput(nodeId: string, value: unknown): void {
    this.#latestVisit.set(nodeId, value);
  }
}
