/**
 * A batch journal line: many node records of one append in one line, as
 * the columns of a snapshot chunk (`node-columns.ts`), where each record
 * had a line of its own. A `LowdbStore` journal may hold them since
 * snapshot format version 4.
 *
 * Why: a fan-out's nodes finish together, and the persistence observer
 * appends their records in one group: 10,000 lines (one `journalLine`
 * each) added into one text of 10,000 pieces, which the write then
 * flattened. That append was about three quarters of what a 10,000-node
 * fan-out cost a `LowdbStore` over a `MemoryStore` (issue 16, target 3).
 * As columns, the ids are one text, the statuses one string, the times
 * small differences, and the line is one `serialize` (one
 * `JSON.stringify` for plain values): a flat string of a ninth of the
 * bytes (189 KB against 1.73 MB), made and written in about 3.4 ms of CPU
 * against 8.6 ms (`--single-threaded`, issue 16, tenth pass).
 *
 * The form: `{ kind: "node", seq, batch: NodeChunk }` stands for the
 * chunk's k records, of seqs `seq - k + 1` to `seq` (the i-th is the
 * chunk's i-th record), exactly as k lines of `{ kind: "node", seq, node }`
 * would, as a line of resets does (`journal-delta.ts`): replay applies
 * them one by one, each with its own seq (one at or below a snapshot's
 * seq is skipped), and they count as k records. A crash tears the line
 * whole or not at all (a torn last line is ignored, `journal-reading.ts`),
 * so a load sees none of its records or all of them; an append's records
 * were never relied on to land in part (a crash may tear it at any line).
 *
 * When: only for a run of at least {@link BATCH_MIN} whole node records
 * of consecutive seqs, so a chain step's single record (the flushed path)
 * and small groups are written as before; at most `CHUNK_RECORDS` records
 * a line, so a line is a megabyte or so however big the append (a
 * 1,000,000-node fan-out's appends are many such lines). A record goes
 * into a batch only when the chunk holds it exactly ({@link batchable}:
 * a plain record of the three keys, a plain node with text `id` and
 * `nodeId`, a known status, whole `attempts`); any other is written as its
 * own line. The property test in `test/journal-batch.test.ts` holds a
 * batch's read equal to the per-record lines' read, over records of every
 * shape, and a torn batch line to none of its records.
 *
 * @module
 */
// Imported, not the global: `Buffer` on `globalThis` is a getter.
import { Buffer } from "node:buffer";
import type { JournalRecord } from "../state/records.js";
import { ID_SEPARATOR } from "./joined-ids.js";
import { CHUNK_RECORDS, chunkProblem, fromChunks, sparseColumns, sparseParts, STATUS_LETTERS, type NodeChunk } from "./node-columns.js";
import { isFiniteTime } from "./sparse-column.js";
import type { ShapeProblem } from "./shape-check.js";
import { checkRecord } from "./snapshot-schema.js";

/** Consecutive node records as one chunk: those of seqs `seq - k + 1` to `seq`, k the chunk's record count. */
export interface BatchRecord {
  readonly kind: "node";
  /** The seq of the last of the records. */
  readonly seq: number;
  /** The records, as columns (`node-columns.ts`). */
  readonly batch: NodeChunk;
}

/** The fewest records a batch line holds: fewer are written one line each. */
export const BATCH_MIN = 64;

type NodeEntry = Extract<JournalRecord, { kind: "node" }>;

/**
 * `records` with each run of at least `min` batchable node records of
 * consecutive seqs as batch lines of up to `perLine` records
 * ({@link BatchRecord}); `records` itself when there is none. Other
 * records (a run meta, a compact record) keep their place.
 */
export function batchNodes<T extends { readonly kind: string; readonly seq: number }>(
  records: readonly T[],
  min = BATCH_MIN,
  perLine = CHUNK_RECORDS,
): readonly (T | BatchRecord)[] {
  if (records.length < min) return records;
  let out: (T | BatchRecord)[] | undefined;
  for (let i = 0; i < records.length;) {
    let end = i;
    while (end < records.length && end - i < perLine && batchable(records[end]!) && (end === i || records[end]!.seq === records[end - 1]!.seq + 1)) end += 1;
    const batch = end - i >= min ? batchOf(records as unknown as readonly NodeEntry[], i, end) : undefined;
    if (batch !== undefined) {
      (out ??= records.slice(0, i)).push(batch);
      i = end;
    } else {
      const stop = Math.max(end, i + 1);
      if (out !== undefined) for (let k = i; k < stop; k++) out.push(records[k]!);
      i = stop;
    }
  }
  return out ?? records;
}

/** The batch line of `records[start .. end)`, or undefined when one of them cannot be read as columns (a getter that throws, an inherited key). */
function batchOf(records: readonly NodeEntry[], start: number, end: number): BatchRecord | undefined {
  // A key made enumerable on Object.prototype would look like every record's own field to the walk below.
  for (const _ in EMPTY) return undefined;
  try {
    return { kind: "node", seq: records[end - 1]!.seq, batch: columnsOf(records, start, end) };
  } catch {
    // Written one line each: a value that cannot be read is `journalLine`'s to report (ValueNotStorableError).
    return undefined;
  }
}

const EMPTY = {};

/** The char code of each status's letter. */
const LETTER_CODES = new Map<string, number>(Object.entries(STATUS_LETTERS).map(([status, letter]) => [status, letter.charCodeAt(0)]));

/**
 * The nodes of `records[start .. end)` (each {@link batchable}) as one
 * chunk, as `toChunks` would make it up to the order of `more`'s keys and
 * the choice of `at` or `skip`, which every reader takes alike: the fields
 * JSON writes (own enumerable ones, in their order) and nothing else. One
 * walk of each record's keys with a switch, the statuses a byte each, the
 * columns pushed: `toChunks`' general walk (a set lookup and an own-key
 * test per field, a string added per status) cost about 12 ms for 10,000
 * records, more than the per-record lines it was to replace.
 */
function columnsOf(records: readonly NodeEntry[], start: number, end: number): NodeChunk {
  const count = end - start;
  const ids: string[] = [];
  let joinable = true;
  const letters = Buffer.allocUnsafe(count);
  const attempts: number[] = [];
  const parts = sparseParts();
  for (let p = 0; p < count; p++) {
    const n = records[start + p]!.node as unknown as Readonly<Record<string, unknown>>;
    const id = n.id as string;
    ids.push(id);
    if (joinable && id.includes(ID_SEPARATOR)) joinable = false;
    letters[p] = LETTER_CODES.get(n.status as string)!;
    attempts.push(n.attempts as number);
    let rest: Record<string, unknown> | undefined;
    for (const key in n) {
      const value = n[key];
      switch (key) {
        case "id":
        case "status":
        case "attempts":
          continue;
        case "nodeId":
          if (value === id) continue;
          break;
        case "output":
          parts.outputAt.push(p);
          parts.outputs.push(value);
          continue;
        case "endedAt":
          if (!isFiniteTime(value)) break;
          parts.endedAt.push(p);
          parts.ends.push(value);
          continue;
        case "startedAt":
          if (!isFiniteTime(value)) break;
          parts.startedAt.push(p);
          parts.starts.push(value);
          continue;
      }
      // defineProperty: an own "__proto__" key stays a key.
      Object.defineProperty((rest ??= {}), key, { value, enumerable: true, writable: true, configurable: true });
    }
    if (rest !== undefined) {
      parts.moreAt.push(p);
      parts.mores.push(rest);
    }
  }
  return {
    id: joinable ? ids.join(ID_SEPARATOR) : ids,
    status: letters.toString("latin1"),
    attempts,
    ...sparseColumns(parts, count),
  };
}

/**
 * Whether the chunk of a batch line holds `record` exactly: a node record
 * whose own keys are `kind`, `seq` and `node` (a seq that is a whole
 * number), whose node is a plain object with own text `id` and `nodeId`, a
 * known status and a whole, non-negative `attempts` (the columns that are
 * not sparse). Every other field of the node, whatever its value, is kept
 * by the chunk (`more`, `output`, the times).
 */
export function batchable(record: { readonly kind: string; readonly seq: number }): boolean {
  if (record.kind !== "node" || !Number.isSafeInteger(record.seq) || record.seq < 0 || Object.getPrototypeOf(record) !== Object.prototype) return false;
  let keys = 0;
  for (const key in record) {
    if ((key !== "kind" && key !== "seq" && key !== "node") || !Object.hasOwn(record, key)) return false;
    keys += 1;
  }
  if (keys !== 3) return false;
  const node = (record as unknown as NodeEntry).node as unknown;
  if (typeof node !== "object" || node === null || Object.getPrototypeOf(node) !== Object.prototype) return false;
  const { id, nodeId, status, attempts } = node as Record<string, unknown>;
  return (
    typeof id === "string" &&
    typeof nodeId === "string" &&
    Object.hasOwn(node, "id") &&
    Object.hasOwn(node, "nodeId") &&
    typeof status === "string" &&
    Object.hasOwn(node, "status") &&
    Object.hasOwn(STATUS_LETTERS, status) &&
    typeof attempts === "number" &&
    Object.hasOwn(node, "attempts") &&
    Number.isSafeInteger(attempts) &&
    attempts >= 0
  );
}

/**
 * The node records a batch line stands for, one at a time and in seq
 * order (see the module comment).
 */
export function eachBatched(r: BatchRecord, each: (record: NodeEntry) => void): void {
  const nodes = fromChunks([r.batch]);
  const first = r.seq - nodes.length + 1;
  for (let i = 0; i < nodes.length; i++) each({ kind: "node", seq: first + i, node: nodes[i]! });
}

/**
 * Checks one journal line's record: a batch line ({@link BatchRecord}: a
 * checked chunk of at least one record, whose first seq is a sequence
 * number too), or any other as `checkRecord` does.
 */
export function checkStoredRecord(value: unknown): ShapeProblem {
  if (typeof value !== "object" || value === null || !Object.hasOwn(value, "batch")) return checkRecord(value);
  const { kind, seq, batch } = value as { kind?: unknown; seq?: unknown; batch?: unknown };
  if (kind !== "node") return `record.kind is not "node" (a batch of node records)`;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) return "record.seq is not a whole number";
  const problem = chunkProblem(batch);
  if (problem !== undefined) return `record.batch${problem}`;
  const count = (batch as NodeChunk).status.length;
  if (count === 0) return "record.batch holds no records";
  if (seq < count - 1) return `record.batch holds ${count} records, which seq ${seq} cannot end`;
  return undefined;
}
