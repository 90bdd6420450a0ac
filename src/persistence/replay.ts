/**
 * Rebuilding a run from a snapshot and the journal records after it, the
 * same way in every store.
 *
 * @module
 */
import { stateFromRecords, type RunState } from "../state/run-state.js";
import type { JournalRecord, NodeRecord, RunMeta } from "../state/records.js";
import { nodeRecords } from "../state/node-table.js";

/** A snapshot as stored: the run meta and every node record, flat. */
export interface SnapshotDocument {
  /** Format version. */
  readonly version: 1;
  /** The journal sequence number the snapshot includes. */
  readonly seq: number;
  /** The run meta. */
  readonly meta: RunMeta;
  /** Every node record. */
  readonly nodes: readonly NodeRecord[];
}

/** Flattens a state into a snapshot document. */
export function toSnapshotDocument(state: RunState, seq: number): SnapshotDocument {
  const nodes: NodeRecord[] = [];
  for (const n of nodeRecords(state.nodes)) nodes.push(storable(n));
  return { version: 1, seq, meta: state.meta, nodes };
}

/**
 * A node record as a store writes it: the output of a record flagged not
 * durable is left out, since it could not be read back as it was (the node
 * runs again on resume anyway). Every other record is written as it is.
 */
export function storable(n: NodeRecord): NodeRecord {
  if (n.durable !== false || !("output" in n)) return n;
  const { output: _dropped, ...rest } = n;
  return rest;
}

/**
 * Applies journal records to a snapshot one at a time, so a store can
 * replay a journal while reading it: only the latest record of each node
 * is kept, whatever the journal's length. Records at or below the
 * snapshot's seq are skipped (the snapshot includes them).
 */
export class Replay {
  readonly #doc: SnapshotDocument;
  /**
   * The latest record of each node, made when the first record above the
   * snapshot's seq is applied (until then the snapshot's list is the
   * state, and a load that has nothing to replay copies no record: its
   * node ids are unique, as `toSnapshotDocument` writes them and
   * `checkSnapshot` requires of what a store reads).
   * Insertion order is the snapshot's, then new activations in the order they first appear.
   */
  #byId: Map<string, NodeRecord> | undefined;
  #meta: RunMeta;
  #seq: number;
  #applied = 0;

  constructor(doc: SnapshotDocument) {
    this.#doc = doc;
    this.#meta = doc.meta;
    this.#seq = doc.seq;
  }

  /** Applies one record (in journal order). */
  apply(r: JournalRecord): void {
    if (r.seq <= this.#doc.seq) return;
    if (r.kind === "node") {
      if (this.#byId === undefined) {
        this.#byId = new Map();
        for (const n of this.#doc.nodes) this.#byId.set(n.id, n);
      }
      this.#byId.set(r.node.id, r.node);
    } else this.#meta = r.run;
    this.#seq = r.seq;
    this.#applied += 1;
  }

  /** The state so far, the last applied sequence number and how many records were applied. */
  result(): { state: RunState; seq: number; journalRecords: number } {
    const records = this.#byId === undefined ? this.#doc.nodes : this.#byId.values();
    return { state: stateFromRecords(this.#meta, records), seq: this.#seq, journalRecords: this.#applied };
  }
}

/**
 * Applies the records with `seq` above the snapshot's to it, in order, and
 * returns the state and the last applied sequence number.
 */
export function replay(doc: SnapshotDocument, records: Iterable<JournalRecord>): { state: RunState; seq: number; journalRecords: number } {
  const run = new Replay(doc);
  for (const r of records) run.apply(r);
  return run.result();
}
