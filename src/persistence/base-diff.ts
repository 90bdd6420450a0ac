/**
 * What a run's state holds beyond a stored base: the comparisons the
 * persistence observer makes to decide whether a run's start or end can be
 * journal records instead of a full snapshot (`persistence-observer.ts`,
 * `start` and `finish`). Pure functions over node tables; records are
 * immutable, so identity tells whether one changed.
 *
 * Both compare position by position when the two tables share one id
 * index and no activation was added since the base (every state of a run
 * shares the loaded state's index, so a record's id is at the same
 * position in both), an unchanged shard at once, and look up by id only
 * what they must; a table whose index grew (map elements, graphFn steps,
 * routed visits) or was rebuilt is compared by id.
 *
 * @module
 */
import type { NodeRecord } from "../state/records.js";
import { countNode, type NodeTally } from "../state/run-summary.js";
import { getNode, nodeCount, nodeRecords, type NodeTable } from "../state/node-table.js";
import { resumeFacts } from "../state/run-state.js";

/**
 * The records of `now` that are not `before`'s, or undefined when an
 * activation of `before` is gone from `now` (then only a snapshot says so).
 */
export function changedSince(now: NodeTable, before: NodeTable): NodeRecord[] | undefined {
  // A resume's start: `now` is what its reset made of `before`, and the reset knows what it changed (no pass over the records).
  const facts = resumeFacts(now);
  if (facts !== undefined && facts.from === before) return facts.changed.slice();
  const changed: NodeRecord[] = [];
  if (sharesPositions(now, before)) {
    for (let s = 0; s < now.shards.length; s++) {
      const shard = now.shards[s]!;
      const loaded = before.shards[s]!;
      if (shard === loaded) continue;
      for (let i = 0; i < shard.length; i++) if (shard[i] !== loaded[i]) changed.push(shard[i]!);
    }
    return changed;
  }
  if (now.index === before.index && now.shardSize === before.shardSize) return undefined;
  let kept = 0;
  for (const node of nodeRecords(now)) {
    const loaded = getNode(before, node.id);
    if (loaded !== undefined) kept += 1;
    if (loaded !== node) changed.push(node);
  }
  return kept === before.index.size ? changed : undefined;
}

/**
 * True when the store, holding `before` (with `baseCount` activations)
 * plus the records `written` since, replays to `now` once the records
 * `pending` are appended: every current record is `before`'s, the latest
 * written, or pending, and no activation of `before` is gone. Counts
 * `now`'s activations into `counts` on the way.
 */
export function replaysTo(
  now: NodeTable,
  before: NodeTable,
  baseCount: number,
  pending: ReadonlyMap<string, NodeRecord>,
  written: ReadonlyMap<string, NodeRecord>,
  counts: NodeTally,
): boolean {
  if (sharesPositions(now, before)) {
    // Each record pending or written must be the current one; `covered` counts those that differ from the base's.
    let covered = 0;
    for (const [id, node] of pending) {
      const p = now.index.get(id);
      if (p === undefined) continue;
      const current = recordAt(now, p);
      if (current !== node) return false;
      if (current !== recordAt(before, p)) covered += 1;
    }
    for (const [id, node] of written) {
      if (pending.has(id)) continue;
      const p = now.index.get(id);
      if (p === undefined) continue;
      const current = recordAt(now, p);
      if (current !== node) return false;
      if (current !== recordAt(before, p)) covered += 1;
    }
    // Every other record must be the base's: the records that differ from it are exactly the covered ones.
    let changed = 0;
    for (let s = 0; s < now.shards.length; s++) {
      const shard = now.shards[s]!;
      const loaded = before.shards[s]!;
      const same = shard === loaded;
      for (let i = 0; i < shard.length; i++) {
        const node = shard[i]!;
        countNode(counts, node);
        if (!same && node !== loaded[i]) changed += 1;
      }
    }
    return changed === covered;
  }
  let kept = 0;
  for (const node of nodeRecords(now)) {
    countNode(counts, node);
    const loaded = getNode(before, node.id);
    if (loaded !== undefined) kept += 1;
    if ((pending.get(node.id) ?? written.get(node.id) ?? loaded) !== node) return false;
  }
  return kept === baseCount;
}

/** One id index, one shard size, and every indexed activation in both tables (none added since `before`). */
function sharesPositions(now: NodeTable, before: NodeTable): boolean {
  const size = now.index.size;
  return now.index === before.index && now.shardSize === before.shardSize && nodeCount(now) === size && nodeCount(before) === size;
}

/** The record at position `p` of `table` (a position of its id index). */
function recordAt(table: NodeTable, p: number): NodeRecord | undefined {
  return table.shards[Math.floor(p / table.shardSize)]?.[p % table.shardSize];
}
