/**
 * Rebuilding a run from a snapshot and the journal records after it, the
 * same way in every store.
 *
 * @module
 */
import type { RunState } from "../state/run-state.js";
import { SnapshotCorruptError } from "./errors.js";
import { duplicateNodeId } from "./snapshot-schema.js";
import type { JournalRecord, NodeRecord, RunMeta } from "../state/records.js";
import { createNodeTable, nodeRecords } from "../state/node-table.js";
import { eachRecord, expand, type ResetRecord, type SameLogRecord, type StoredRecord } from "./journal-delta.js";
import type { LoadHint } from "./run-store.js";
import { startsWithOrder } from "./node-columns.js";

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
 * The records are kept by position (the snapshot's order, then new
 * activations in the order they first appear), with one map of positions
 * that the loaded table takes as its index, so a load builds at most one
 * map of ids, and none when it is given a `layout` ({@link LoadHint}) the
 * snapshot's records start with: the layout's own map then indexes those
 * records (a resumed run's graph nodes), and a map of the load's own only
 * the activations after them.
 *
 * The snapshot's node ids must be unique: they are checked here, as they
 * are indexed (a layout's ids are unique, and every other id is checked
 * against the index as it is added), so a store that read the document
 * with `checkSnapshotFields` pays no set of ids of its own. Two records
 * with one id are `SnapshotCorruptError` naming `source`, with
 * `checkSnapshot`'s phrase.
 */
export class Replay {
  readonly #doc: SnapshotDocument;
  readonly #layout: LoadHint["layout"];
  /**
   * The latest record of each activation by position, made when the first
   * record above the snapshot's seq is applied (until then the snapshot's
   * list is the state, and a load that has nothing to replay copies no
   * record).
   */
  #records: NodeRecord[] | undefined;
  /** The index of the records, made with `#records`: a layout's positions (`#shared`) and the ids after them, or a map of every id. */
  #base: ReadonlyMap<string, number> | undefined;
  /** The positions of the ids `#base` does not hold (a layout's map is never changed); `#base` itself when it is this load's own. */
  #added: Map<string, number> | undefined;
  #meta: RunMeta;
  #seq: number;
  #applied = 0;

  readonly #source: string;
  readonly #journalSource: string;

  /**
   * @param source the snapshot's name in a {@link SnapshotCorruptError} (its file)
   * @param journalSource the journal's, for a record that cannot be applied (`journal-delta.ts`)
   * @param layout the ids the records are expected to start with, and their positions ({@link LoadHint})
   */
  constructor(doc: SnapshotDocument, source = "snapshot", journalSource = "journal", layout?: LoadHint["layout"]) {
    this.#doc = doc;
    this.#meta = doc.meta;
    this.#seq = doc.seq;
    this.#source = source;
    this.#journalSource = journalSource;
    this.#layout = layout;
  }

  /**
   * Applies one stored record (in journal order): a compact one
   * (`journal-delta.ts`) to the activation's latest record, a line of
   * resets as the records it stands for, one by one.
   */
  apply(stored: StoredRecord): void {
    if (stored.seq <= this.#doc.seq) return;
    eachRecord(stored, this.#applyOne);
  }

  readonly #applyOne = (stored: JournalRecord | ResetRecord | SameLogRecord): void => {
    if (stored.seq <= this.#doc.seq) return;
    if (stored.kind === "node") {
      const records = (this.#records ??= this.#indexed().slice());
      const r = expand(stored, (id) => this.#recordOf(id), this.#journalSource) as Extract<JournalRecord, { kind: "node" }>;
      const id = r.node.id;
      const p = this.#positionOf(id);
      if (p !== undefined) records[p] = r.node;
      else {
        this.#added!.set(id, records.length);
        records.push(r.node);
      }
    } else this.#meta = stored.run;
    this.#seq = stored.seq;
    this.#applied += 1;
  };

  /**
   * The state so far, the last applied sequence number and how many
   * records were applied. The replay's map of positions becomes the
   * state's index: apply nothing after this.
   */
  result(): { state: RunState; seq: number; journalRecords: number } {
    const records = this.#records ?? this.#indexed();
    const base = this.#base!;
    // The table indexes the records after the base's itself: the ids `#added` holds, in their order.
    const state: RunState = { meta: this.#meta, nodes: createNodeTable(records, base) };
    return { state, seq: this.#seq, journalRecords: this.#applied };
  }

  /** The snapshot's records, their index made (`#base`, `#added`) and their ids checked unique. */
  #indexed(): readonly NodeRecord[] {
    const nodes = this.#doc.nodes;
    if (this.#base !== undefined) return nodes;
    const layout = this.#layout;
    // Records made from id texts that were the layout's own (node-columns.ts) start with it: no pass over them.
    if (layout !== undefined && (startsWithOrder(nodes, layout.order) || startsWith(nodes, layout.order))) {
      const base = layout.positions;
      const added = new Map<string, number>();
      for (let p = layout.order.length; p < nodes.length; p++) {
        const id = nodes[p]!.id;
        if (base.has(id) || added.has(id)) this.#duplicate();
        added.set(id, p);
      }
      this.#base = base;
      this.#added = added;
      return nodes;
    }
    const own = new Map<string, number>();
    for (let p = 0; p < nodes.length; p++) own.set(nodes[p]!.id, p);
    if (own.size !== nodes.length) this.#duplicate();
    this.#base = own;
    this.#added = own;
    return nodes;
  }

  /** The position of activation `id` among the records, or undefined when it has none yet. */
  #positionOf(id: string): number | undefined {
    const p = this.#base!.get(id);
    return p !== undefined || this.#added === this.#base ? p : this.#added!.get(id);
  }

  /** The latest record of activation `id`, or undefined. */
  #recordOf(id: string): NodeRecord | undefined {
    const p = this.#positionOf(id);
    return p === undefined ? undefined : this.#records![p];
  }

  #duplicate(): never {
    throw new SnapshotCorruptError(this.#source, duplicateNodeId(this.#doc.nodes) ?? "two node records have one id");
  }
}

/** True when the first `order.length` records have the ids of `order`, in its order. */
function startsWith(nodes: readonly NodeRecord[], order: readonly string[]): boolean {
  if (nodes.length < order.length) return false;
  for (let p = 0; p < order.length; p++) if (nodes[p]!.id !== order[p]) return false;
  return true;
}

/**
 * Applies the records with `seq` above the snapshot's to it, in order, and
 * returns the state and the last applied sequence number; `source` names
 * the snapshot in a {@link SnapshotCorruptError} (see {@link Replay}).
 */
export function replay(
  doc: SnapshotDocument,
  records: Iterable<StoredRecord>,
  source?: string,
  layout?: LoadHint["layout"],
): { state: RunState; seq: number; journalRecords: number } {
  const run = new Replay(doc, source, undefined, layout);
  for (const r of records) run.apply(r);
  return run.result();
}
