/**
 * `snapshot.json`, a `LowdbStore` run's snapshot file: written in format
 * version 4, read in versions 1, 2, 3 and 4.
 *
 * - Version 1 (written until this format): the {@link SnapshotDocument}
 *   itself, `{ version: 1, seq, meta, nodes: NodeRecord[] }`, one object
 *   per node record.
 * - Version 2: `{ version: 2, seq, meta, nodes: NodeChunk[] }`, the node
 *   records as columns in chunks of up to `CHUNK_RECORDS` records
 *   (`node-columns.ts`): about a third of version 1's parse time and half
 *   its bytes for a 10,000-node run, which a cold resume reads whole.
 * - Version 3: version 2, except that a chunk's ids are one text, joined
 *   by a line feed, when none of them holds one (`node-columns.ts`): a
 *   resume compares that text with its graph's ids joined, once, instead
 *   of parsing, checking and comparing 10,000 strings. A chunk whose ids
 *   hold a line feed keeps the list, as in version 2.
 * - Version 4: version 3's document. The number says that the journal
 *   beside it may hold batch lines (`journal-batch.ts`), which a reader of
 *   version 3 does not know: it refuses the snapshot (an unknown version)
 *   instead of reading the journal short.
 *
 * Both are superjson documents, serialized and parsed as every stored
 * document is (`serialization.ts`, `stored-document.ts`), so a value keeps
 * its type (`Date`, `Map`, `undefined`…) wherever it sits. A big run's
 * version 2 or 3 text is made a chunk at a time (`serializeInPieces`, one chunk
 * per piece), never as one string. Reading checks the whole document
 * before anything is built from it: a document of either version with a
 * wrong field, and a version this code does not know, are a shape problem
 * (`SnapshotCorruptError` naming the file, from the caller), never a
 * half-read run. What a read gives is the version 1 document (the records
 * made from the columns), which `Replay` takes.
 *
 * @module
 */
import { valueText } from "../core/text.js";
import { nodeRecords } from "../state/node-table.js";
import { freshNodeIds, type RunState } from "../state/run-state.js";
import type { NodeRecord, RunMeta } from "../state/records.js";
import { chunksProblem, fromChunks, toChunks, type NodeChunk } from "./node-columns.js";
import { pendingChunks } from "./pending-chunks.js";
import { storable, type SnapshotDocument } from "./replay.js";
import { serializeInPieces } from "./serialization.js";
import type { ShapeProblem } from "./shape-check.js";
import { checkSnapshotFields, checkSnapshotHead } from "./snapshot-schema.js";

/** The format version {@link snapshotFilePieces} writes. */
export const SNAPSHOT_FILE_VERSION = 4;

/** A version 2, 3 or 4 snapshot file's document (version 2's chunks hold their ids as lists only). */
export interface SnapshotFileDocument {
  /** Format version. */
  readonly version: 2 | 3 | 4;
  /** The journal sequence number the snapshot includes. */
  readonly seq: number;
  /** The run meta. */
  readonly meta: RunMeta;
  /** Every node record, as column chunks, in table order. */
  readonly nodes: readonly NodeChunk[];
}

/** The version 4 document of `state` at journal sequence number `seq` (outputs flagged not durable left out, as `storable` says). */
export function toSnapshotFileDocument(state: RunState, seq: number): SnapshotFileDocument {
  // A new run's table, unchanged since it was made (its first snapshot): its chunks are known from its ids.
  const fresh = freshNodeIds(state.nodes);
  if (fresh !== undefined) return { version: SNAPSHOT_FILE_VERSION, seq, meta: state.meta, nodes: pendingChunks(fresh) };
  const records: NodeRecord[] = [];
  for (const n of nodeRecords(state.nodes)) records.push(storable(n));
  return { version: SNAPSHOT_FILE_VERSION, seq, meta: state.meta, nodes: toChunks(records) };
}

/** The text of `state`'s snapshot file (version 4), in pieces of a chunk each (their concatenation is the file). */
export function snapshotFilePieces(state: RunState, seq: number): Iterable<string> {
  return serializeInPieces(toSnapshotFileDocument(state, seq), "nodes", 1);
}

/**
 * Checks a parsed snapshot file of any version: the problem, or
 * undefined. Node ids are not checked for being unique (`Replay` does,
 * as `checkSnapshotFields` says).
 */
export function checkSnapshotFile(value: unknown): ShapeProblem {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "it is not a snapshot document";
  const { version } = value as { version?: unknown };
  if (version === 1) return checkSnapshotFields(value);
  if (version !== 2 && version !== 3 && version !== 4) return `it has snapshot format version ${valueText(version)}, expected 1, 2, 3 or 4`;
  const head = checkSnapshotHead(value);
  if (head !== undefined) return head;
  const nodes = chunksProblem((value as { nodes?: unknown }).nodes, version !== 2);
  return nodes === undefined ? undefined : `snapshot.${nodes}`;
}

/**
 * A snapshot file's document checked by {@link checkSnapshotFile}, as the
 * version 1 document `Replay` takes; `order`, the ids its records are
 * expected to hold by position (a load's layout), lends its strings to the
 * records that hold them (`fromChunks`).
 */
export function fromSnapshotFile(doc: SnapshotDocument | SnapshotFileDocument, order?: readonly string[]): SnapshotDocument {
  if (doc.version === 1) return doc;
  return { version: 1, seq: doc.seq, meta: doc.meta, nodes: fromChunks(doc.nodes, order) };
}
