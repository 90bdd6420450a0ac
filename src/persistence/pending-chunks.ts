/**
 * A new run's node chunks, made from its graph's ids without a look at its
 * records: a new run's first snapshot (`snapshot-file.ts`) holds every node
 * pending, so its columns are known from the ids alone. They must be the
 * very chunks `toChunks` makes of those records (the format is
 * `node-columns.ts`'): `test/snapshot-fresh-run.test.ts` holds the two
 * equal for any ids and chunk size.
 *
 * @module
 */
import { ID_SEPARATOR, joinedIds } from "./joined-ids.js";
import { CHUNK_RECORDS, STATUS_LETTERS, type NodeChunk } from "./node-columns.js";

/**
 * `toChunks` of a new run's records, which `freshNodeIds` (`state/run-state.ts`)
 * vouches for: record p is `{ id: ids[p], nodeId: ids[p], status:
 * "pending", attempts: 0 }`, nothing else. The same chunks, made without
 * looking at a record: the id text is `ids`' (kept for a frozen list, as a
 * graph's order is), the other columns are a letter and a zero per record
 * and empty sparse columns.
 */
export function pendingChunks(ids: readonly string[], perChunk = CHUNK_RECORDS): NodeChunk[] {
  const chunks: NodeChunk[] = [];
  const separated = separatorPositions(ids);
  let next = 0;
  for (let first = 0; first < ids.length; first += perChunk) {
    const count = Math.min(perChunk, ids.length - first);
    // As toChunk decides, chunk by chunk: the ids are one text unless one of this chunk's holds the separator.
    while (next < separated.length && separated[next]! < first) next += 1;
    const joinable = next === separated.length || separated[next]! >= first + count;
    // Pushed, not `new Array(count).fill(0)`: a list made with holes stays one, and serializing it takes a slower path.
    const attempts: number[] = [];
    for (let p = 0; p < count; p++) attempts.push(0);
    chunks.push({
      id: joinable ? joinedIds(ids, first, count)! : ids.slice(first, first + count),
      status: STATUS_LETTERS.pending.repeat(count),
      attempts,
      output: { at: [], v: [] },
      endedAt: { at: [], d: [] },
      startedAt: { at: [], d: [] },
      more: { at: [], v: [] },
    });
  }
  return chunks;
}

/** The positions of the ids of `ids` that hold {@link ID_SEPARATOR}, in order (kept for a frozen list). */
function separatorPositions(ids: readonly string[]): readonly number[] {
  const kept = SEPARATED.get(ids);
  if (kept !== undefined) return kept;
  const found: number[] = [];
  for (let p = 0; p < ids.length; p++) if (ids[p]!.includes(ID_SEPARATOR)) found.push(p);
  if (Object.isFrozen(ids)) SEPARATED.set(ids, found);
  return found;
}

/** {@link separatorPositions} of each frozen list asked about. */
const SEPARATED = new WeakMap<readonly string[], readonly number[]>();
