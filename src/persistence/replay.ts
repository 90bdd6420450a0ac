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
 * Applies the records with `seq` above the snapshot's to it, in order, and
 * returns the state and the last applied sequence number.
 */
export function replay(doc: SnapshotDocument, records: Iterable<JournalRecord>): { state: RunState; seq: number } {
  const later: JournalRecord[] = [];
  for (const r of records) if (r.seq > doc.seq) later.push(r);
  // A table sized for the final node count: records may add activations.
  const byId = new Map<string, NodeRecord>();
  for (const n of doc.nodes) byId.set(n.id, n);
  let meta = doc.meta;
  let seq = doc.seq;
  for (const r of later) {
    if (r.kind === "node") byId.set(r.node.id, r.node);
    else meta = r.run;
    seq = r.seq;
  }
  return { state: stateFromRecords(meta, byId.values()), seq };
}

