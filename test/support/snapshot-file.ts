/**
 * A `LowdbStore` snapshot file's document as tests read it: the version 1
 * form (`{ version: 1, seq, meta, nodes: NodeRecord[] }`) whichever
 * version the file is in (a version 2 file's column chunks made records,
 * as a load makes them: src/persistence/snapshot-file.ts).
 */
import { readFileSync } from "node:fs";
import type { SnapshotDocument } from "../../src/persistence/replay.js";
import { deserialize } from "../../src/persistence/serialization.js";
import { checkSnapshotFile, fromSnapshotFile, type SnapshotFileDocument } from "../../src/persistence/snapshot-file.js";

/** The version 1 document of a snapshot file's text; throws when the text is not a valid snapshot file. */
export function snapshotDocumentOf(text: string): SnapshotDocument {
  const doc = deserialize<SnapshotDocument | SnapshotFileDocument>(text);
  const problem = checkSnapshotFile(doc);
  if (problem !== undefined) throw new Error(`not a valid snapshot file: ${problem}`);
  return fromSnapshotFile(doc);
}

/** {@link snapshotDocumentOf} of the file `file`. */
export function readSnapshotDocument(file: string): SnapshotDocument {
  return snapshotDocumentOf(readFileSync(file, "utf8"));
}
