/**
 * The node records of a run, laid out for cheap immutable updates.
 *
 * Records live in fixed-size array shards (`ceil(sqrt(n))` records each)
 * addressed through `index`, a map from activation id to position that is
 * built once and shared by every later state of the run (positions never
 * move). An immer update of one record copies one shard and the shard
 * list, O(sqrt(n)) pointers in flat arrays, instead of every record; a
 * 100,000-node run stays near linear. Readers use the functions here and
 * never see the shards. The snapshot form is a flat record list
 * (`persistence/replay.ts`); `index` is derived from it on load.
 *
 * @module
 */
import type { NodeRecord } from "./records.js";

/** The node records of a run. */
export interface NodeTable {
  /** Activation id → position; shared, append-only, never serialized. */
  readonly index: ReadonlyMap<string, number>;
  /** Records per shard. */
  readonly shardSize: number;
  /** The shards: position `p` is `shards[floor(p / shardSize)][p % shardSize]`. */
  readonly shards: readonly (readonly NodeRecord[])[];
}

/** Builds a table from records, in the order given (a list is read in place, not copied first). */
export function createNodeTable(records: Iterable<NodeRecord>): NodeTable {
  const list: readonly NodeRecord[] = Array.isArray(records) ? records : [...records];
  const shardSize = Math.max(16, Math.ceil(Math.sqrt(list.length)));
  const index = new Map<string, number>();
  const shards: NodeRecord[][] = [];
  for (let start = 0; start < list.length; start += shardSize) {
    const end = Math.min(start + shardSize, list.length);
    const shard: NodeRecord[] = [];
    for (let position = start; position < end; position++) {
      const record = list[position]!;
      index.set(record.id, position);
      shard.push(record);
    }
    shards.push(shard);
  }
  return { index, shardSize, shards };
}

/** Where a record lives, or undefined for an unknown id. */
export function locate(table: NodeTable, id: string): { shard: number; slot: number } | undefined {
  const p = table.index.get(id);
  if (p === undefined) return undefined;
  return { shard: Math.floor(p / table.shardSize), slot: p % table.shardSize };
}

/** The record of an activation, or undefined. */
export function getNode(table: NodeTable, id: string): NodeRecord | undefined {
  const p = table.index.get(id);
  if (p === undefined) return undefined;
  return table.shards[Math.floor(p / table.shardSize)]?.[p % table.shardSize];
}

/** The record at `position`, or undefined past the end (for a reader that knows a record's position: no id lookup). */
export function nodeAt(table: NodeTable, position: number): NodeRecord | undefined {
  return table.shards[Math.floor(position / table.shardSize)]?.[position % table.shardSize];
}

/**
 * Every record, in position order (creation order: topological for a fresh run).
 * An iterator object, not a generator: a pass over a run's records (several
 * per run, at load and at the end) then costs a fifth of a generator's.
 */
export function nodeRecords(table: NodeTable): IterableIterator<NodeRecord> {
  return new RecordIterator(table.shards);
}

class RecordIterator implements IterableIterator<NodeRecord> {
  readonly #shards: readonly (readonly NodeRecord[])[];
  #shard = 0;
  #slot = 0;

  constructor(shards: readonly (readonly NodeRecord[])[]) {
    this.#shards = shards;
  }

  [Symbol.iterator](): IterableIterator<NodeRecord> {
    return this;
  }

  next(): IteratorResult<NodeRecord, undefined> {
    for (;;) {
      const shard = this.#shards[this.#shard];
      if (shard === undefined) return { done: true, value: undefined };
      if (this.#slot < shard.length) return { done: false, value: shard[this.#slot++]! };
      this.#shard += 1;
      this.#slot = 0;
    }
  }
}

/** The number of records. */
export function nodeCount(table: NodeTable): number {
  let n = 0;
  for (const shard of table.shards) n += shard.length;
  return n;
}
