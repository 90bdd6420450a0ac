/**
 * Rebuilding a run from a snapshot and the journal records after it, the
 * same way in every store.
 *
 * @module
 */
import { stateFromRecords, type RunState } from "../state/run-state.js";
import { SnapshotCorruptError } from "./errors.js";
import { duplicateNodeId } from "./snapshot-schema.js";
import type { JournalRecord, NodeRecord, RunMeta } from "../state/records.js";
import { nodeRecords } from "../state/node-table.js";
import { expand, type StoredRecord } from "./journal-delta.js";

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
 *
 * The snapshot's node ids must be unique: they are checked here, as the
 * records are indexed by id (the map of the first applied record, or the
 * state's table), by comparing the number of ids with the number of
 * records, so a store that read the document with `checkSnapshotFields`
 * pays no set of ids of its own. Two records with one id are
 * `SnapshotCorruptError` naming `source`, with `checkSnapshot`'s phrase.
 */
export class Replay {
  readonly #doc: SnapshotDocument;
  /**
   * The latest record of each node, made when the first record above the
   * snapshot's seq is applied (until then the snapshot's list is the
   * state, and a load that has nothing to replay copies no record: its
   * node ids are unique, as `toSnapshotDocument` writes them, and as
   * the replay checks of what a store reads: `#unique`).
   * Insertion order is the snapshot's, then new activations in the order they first appear.
   */
  #byId: Map<string, NodeRecord> | undefined;
  #meta: RunMeta;
  #seq: number;
  #applied = 0;

  readonly #source: string;
  readonly #journalSource: string;

  /**
   * @param source the snapshot's name in a {@link SnapshotCorruptError} (its file)
   * @param journalSource the journal's, for a record that cannot be applied (`journal-delta.ts`)
   */
  constructor(doc: SnapshotDocument, source = "snapshot", journalSource = "journal") {
    this.#doc = doc;
    this.#meta = doc.meta;
    this.#seq = doc.seq;
    this.#source = source;
    this.#journalSource = journalSource;
  }

  /** Applies one record (in journal order); a compact one (`journal-delta.ts`) to the activation's latest record. */
  apply(stored: StoredRecord): void {
    if (stored.seq <= this.#doc.seq) return;
    if (stored.kind === "node") {
      if (this.#byId === undefined) {
        const byId = new Map<string, NodeRecord>();
        for (const n of this.#doc.nodes) byId.set(n.id, n);
        this.#unique(byId.size);
        this.#byId = byId;
      }
      const byId = this.#byId;
      const r = expand(stored, (id) => byId.get(id), this.#journalSource) as Extract<JournalRecord, { kind: "node" }>;
      byId.set(r.node.id, r.node);
    } else this.#meta = stored.run;
    this.#seq = stored.seq;
    this.#applied += 1;
  }

  /** The state so far, the last applied sequence number and how many records were applied. */
  result(): { state: RunState; seq: number; journalRecords: number } {
    let state: RunState;
    if (this.#byId === undefined) {
      state = stateFromRecords(this.#meta, this.#doc.nodes);
      this.#unique(state.nodes.index.size);
    } else state = stateFromRecords(this.#meta, this.#byId.values());
    return { state, seq: this.#seq, journalRecords: this.#applied };
  }

  /** Throws when the snapshot's records have fewer ids (`ids`) than there are records. */
  #unique(ids: number): void {
    if (ids === this.#doc.nodes.length) return;
    throw new SnapshotCorruptError(this.#source, duplicateNodeId(this.#doc.nodes) ?? "two node records have one id");
  }
}

/**
 * Applies the records with `seq` above the snapshot's to it, in order, and
 * returns the state and the last applied sequence number; `source` names
 * the snapshot in a {@link SnapshotCorruptError} (see {@link Replay}).
 */
export function replay(doc: SnapshotDocument, records: Iterable<StoredRecord>, source?: string): { state: RunState; seq: number; journalRecords: number } {
  const run = new Replay(doc, source);
  for (const r of records) run.apply(r);
  return run.result();
}
