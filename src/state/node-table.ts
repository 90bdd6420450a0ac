/**
 * The node records of a run, kept in shards so that an immer update of one
 * record copies one shard and the shard list, not every record: with
 * `ceil(sqrt(n))` shards a transition costs O(sqrt(n)) copying instead of
 * O(n), which keeps a 100,000-node run linear enough to finish quickly.
 * Readers use the functions here and never see the shards.
 *
 * @module
 */
import type { NodeRecord } from "./records.js";

/** The node records of a run, sharded by a hash of the activation id. */
export interface NodeTable {
  /** The shards; a record lives in shard `hash(id) % shards.length`. */
  readonly shards: readonly Readonly<Record<string, NodeRecord>>[];
}

/** The shard index of an activation id (FNV-1a). */
export function shardOf(table: NodeTable, id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % table.shards.length;
}

/** Builds a table sized for about `expected` records. */
export function createNodeTable(records: Iterable<NodeRecord>, expected: number): NodeTable {
  const count = Math.max(1, Math.ceil(Math.sqrt(Math.max(1, expected))));
  const shards: Record<string, NodeRecord>[] = Array.from({ length: count }, () => ({}));
  const table: NodeTable = { shards };
  for (const record of records) {
    (shards[shardOf(table, record.id)] as Record<string, NodeRecord>)[record.id] = record;
  }
  return table;
}

/** The record of an activation, or undefined. */
export function getNode(table: NodeTable, id: string): NodeRecord | undefined {
  return table.shards[shardOf(table, id)]?.[id];
}

/** Every record, in no particular order. */
export function* nodeRecords(table: NodeTable): IterableIterator<NodeRecord> {
  for (const shard of table.shards) {
    for (const id in shard) yield shard[id] as NodeRecord;
  }
}

/** The number of records. */
export function nodeCount(table: NodeTable): number {
  let n = 0;
  for (const shard of table.shards) n += Object.keys(shard).length;
  return n;
}
