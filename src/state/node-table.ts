/**
 * The node records of a run, laid out for cheap immutable updates.
 *
 * Records live in fixed-size array shards (`ceil(sqrt(n))` records each)
 * addressed through `index`, which gives each activation id its position
 * (positions never move) and is shared by every later state of the run.
 * An update of one record copies one shard and the shard list,
 * O(sqrt(n)) pointers in flat arrays, instead of every record; a
 * 100,000-node run stays near linear. Readers use the functions here and
 * never see the shards. The snapshot form is a flat record list
 * (`persistence/replay.ts`); `index` is derived from it on load.
 *
 * The index of a new run is its graph's own map of node positions (a new
 * run holds node `order[p]` at position p, so the graph's map is already
 * the run's index): a million-node run then builds no million-entry map
 * of its own before it starts (about a microsecond per node at that size,
 * each insert missing the cache), and the engine's lookups by id (the
 * ready set's, the record buffer's) all go to one map instead of two.
 * That map is never changed: activations added later (graphFn steps, map
 * elements, later visits) go to a map of the run's own.
 *
 * @module
 */
import { anchorShape } from "../core/shape-anchors.js";
import type { NodeRecord } from "./records.js";

/**
 * A table's index: a base map of positions `0 … base.size - 1` (a graph's,
 * shared and never changed here, or one built for a loaded run) and the
 * ids appended after it, in a map of its own. Read as a `ReadonlyMap`.
 */
class AppendableIndex implements ReadonlyMap<string, number> {
  readonly #base: ReadonlyMap<string, number>;
  readonly #added = new Map<string, number>();

  constructor(base: ReadonlyMap<string, number>) {
    this.#base = base;
  }

  get(id: string): number | undefined {
    const p = this.#base.get(id);
    return p !== undefined || this.#added.size === 0 ? p : this.#added.get(id);
  }

  has(id: string): boolean {
    return this.#base.has(id) || this.#added.has(id);
  }

  get size(): number {
    return this.#base.size + this.#added.size;
  }

  /** True when `positions` is this index's base map itself (see {@link indexedBy}). */
  based(positions: ReadonlyMap<string, number>): boolean {
    return this.#base === positions;
  }

  /** Indexes `id` at the next position (`size`); the caller checked it is new. */
  add(id: string): number {
    const position = this.size;
    this.#added.set(id, position);
    return position;
  }

  forEach(fn: (position: number, id: string, map: ReadonlyMap<string, number>) => void, thisArg?: unknown): void {
    for (const [id, position] of this) fn.call(thisArg, position, id, this);
  }

  *entries(): MapIterator<[string, number]> {
    yield* this.#base.entries();
    yield* this.#added.entries();
  }

  *keys(): MapIterator<string> {
    for (const [id] of this.entries()) yield id;
  }

  *values(): MapIterator<number> {
    for (const [, position] of this.entries()) yield position;
  }

  [Symbol.iterator](): MapIterator<[string, number]> {
    return this.entries();
  }
}

// One index per run, dead when the run ends: its map is anchored (see core/shape-anchors.ts).
anchorShape(new AppendableIndex(new Map()));

/** The node records of a run. */
export interface NodeTable {
  /** Activation id → position; shared, append-only, never serialized. */
  readonly index: ReadonlyMap<string, number>;
  /** Records per shard. */
  readonly shardSize: number;
  /** The shards: position `p` is `shards[floor(p / shardSize)][p % shardSize]`. */
  readonly shards: readonly (readonly NodeRecord[])[];
}

/**
 * Builds a table from records, in the order given (a list is read in place,
 * not copied first). `positions`, when given, must map the id of
 * `records[p]` to p for every p below its size and hold nothing else (a
 * graph's map of node positions, for a run's records in the graph's order:
 * a new run's, or a stored one's that holds them so): it becomes the base
 * of the table's index, shared and never changed, instead of a map built
 * here; the records after the first `positions.size` (activations added
 * as the run went: map elements, steps, later visits) are indexed in the
 * table's own map, as they would have been when added, and their ids must
 * be new (the caller checked).
 */
export function createNodeTable(records: Iterable<NodeRecord>, positions?: ReadonlyMap<string, number>): NodeTable {
  const list: readonly NodeRecord[] = Array.isArray(records) ? records : [...records];
  const shardSize = Math.max(16, Math.ceil(Math.sqrt(list.length)));
  const own = positions === undefined ? new Map<string, number>() : undefined;
  const shards: NodeRecord[][] = [];
  for (let start = 0; start < list.length; start += shardSize) {
    const end = Math.min(start + shardSize, list.length);
    const shard: NodeRecord[] = list.slice(start, end);
    if (own !== undefined) for (let position = start; position < end; position++) own.set(list[position]!.id, position);
    shards.push(shard);
  }
  const index = new AppendableIndex(positions ?? own!);
  for (let position = index.size; position < list.length; position++) index.add(list[position]!.id);
  return { index, shardSize, shards };
}

/**
 * True when `table` was built on `positions` as its index's base (see
 * {@link createNodeTable}): the record at each position below
 * `positions.size` then has the id `positions` maps to it, every one of
 * them there, with no need to look.
 */
export function indexedBy(table: NodeTable, positions: ReadonlyMap<string, number>): boolean {
  return table.index instanceof AppendableIndex && table.index.based(positions);
}

/** Indexes `id` at the next position of `table` (`index.size`) and returns it; the caller checked that `id` is new. */
export function indexNext(table: NodeTable, id: string): number {
  return (table.index as AppendableIndex).add(id);
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

// One per pass over a run's records: its map is anchored (see core/shape-anchors.ts).
anchorShape(new RecordIterator([[]]));

/** The number of records. */
export function nodeCount(table: NodeTable): number {
  let n = 0;
  for (const shard of table.shards) n += shard.length;
  return n;
}
