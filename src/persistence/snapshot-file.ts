/**
 * `snapshot.json`, a `LowdbStore` run's snapshot file: written in format
 * version 2, read in versions 1 and 2.
 *
 * - Version 1 (written until this format): the {@link SnapshotDocument}
 *   itself, `{ version: 1, seq, meta, nodes: NodeRecord[] }`, one object
 *   per node record.
 * - Version 2: `{ version: 2, seq, meta, nodes: NodeChunk[] }`, the node
 *   records as columns in chunks of up to `CHUNK_RECORDS` records
 *   (`node-columns.ts`): about a third of version 1's parse time and half
 *   its bytes for a 10,000-node run, which a cold resume reads whole.
 *
 * Both are superjson documents, serialized and parsed as every stored
 * document is (`serialization.ts`, `stored-document.ts`), so a value keeps
 * its type (`Date`, `Map`, `undefined`…) wherever it sits. A big run's
 * version 2 text is made a chunk at a time (`serializeInPieces`, one chunk
 * per piece), never as one string. Reading checks the whole document
 * before anything is built from it: a document of either version with a
 * wrong field, and a version this code does not know, are a shape problem
 * (`SnapshotCorruptError` naming the file, from the caller), never a
 * half-read run. What a read gives is the version 1 document (the records
 * made from the columns), which `Replay` takes.
 *
 * @module
 */
import { nodeRecords } from "../state/node-table.js";
import type { RunState } from "../state/run-state.js";
import type { NodeRecord, RunMeta } from "../state/records.js";
import { chunksProblem, fromChunks, toChunks, type NodeChunk } from "./node-columns.js";
import { storable, type SnapshotDocument } from "./replay.js";
import { serializeInPieces } from "./serialization.js";
import { checkSnapshotFields, checkSnapshotHead, type ShapeProblem } from "./snapshot-schema.js";

/** The format version {@link snapshotFilePieces} writes. */
export const SNAPSHOT_FILE_VERSION = 2;

/** A version 2 snapshot file's document. */
export interface SnapshotFileDocument {
  /** Format version. */
  readonly version: 2;
  /** The journal sequence number the snapshot includes. */
  readonly seq: number;
  /** The run meta. */
  readonly meta: RunMeta;
  /** Every node record, as column chunks, in table order. */
  readonly nodes: readonly NodeChunk[];
}

/** The version 2 document of `state` at journal sequence number `seq` (outputs flagged not durable left out, as `storable` says). */
export function toSnapshotFileDocument(state: RunState, seq: number): SnapshotFileDocument {
  const records: NodeRecord[] = [];
  for (const n of nodeRecords(state.nodes)) records.push(storable(n));
  return { version: 2, seq, meta: state.meta, nodes: toChunks(records) };
}

/** The text of `state`'s snapshot file (version 2), in pieces of a chunk each (their concatenation is the file). */
export function snapshotFilePieces(state: RunState, seq: number): Iterable<string> {
  return serializeInPieces(toSnapshotFileDocument(state, seq), "nodes", 1);
}

/**
 * Checks a parsed snapshot file of either version: the problem, or
 * undefined. Node ids are not checked for being unique (`Replay` does,
 * as `checkSnapshotFields` says).
 */
export function checkSnapshotFile(value: unknown): ShapeProblem {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "it is not a snapshot document";
  const { version } = value as { version?: unknown };
  if (version === 1) return checkSnapshotFields(value);
  if (version !== 2) return `it has snapshot format version ${String(version)}, expected 1 or 2`;
  const head = checkSnapshotHead(value);
  if (head !== undefined) return head;
  const nodes = chunksProblem((value as { nodes?: unknown }).nodes);
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
