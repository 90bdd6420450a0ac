/**
 * One stored superjson document per file (a run's snapshot, summary or
 * lease), read and written through lowdb's adapter interface. Writes
 * replace the file atomically with mode 0600 (`atomic-file.ts`). Reads
 * open the file without following links (`store-files.ts`), then parse it
 * and check its whole shape (`snapshot-schema.ts`): content that is not a
 * whole, valid document of the expected shape is `SnapshotCorruptError`
 * naming the file, and the file is never touched by a read.
 *
 * @module
 */
import { dirname } from "node:path";
import type { Adapter } from "lowdb";
import { describe } from "../errors.js";
import { SnapshotCorruptError } from "./errors.js";
import { writeFileAtomicSync } from "./atomic-file.js";
import type { ShapeProblem } from "./shape-check.js";
import { deserialize, serialize } from "./serialization.js";
import { readStoreTextSync, verifyPathSync } from "./store-files.js";

/** A document's shape check (from `snapshot-schema.ts`). */
export type ShapeCheck = (value: unknown) => ShapeProblem;

/** What {@link parseDocument} found. */
export type Parsed = { ok: true; value: unknown } | { ok: false; problem: string; cause?: unknown };

/** Parses superjson text and checks its shape, saying what is wrong instead of throwing. */
export function parseDocument(text: string, check: ShapeCheck): Parsed {
  if (text.length === 0) return { ok: false, problem: "the file is empty" };
  let value: unknown;
  try {
    value = deserialize(text);
  } catch (err) {
    try {
      JSON.parse(text);
    } catch (jsonErr) {
      return { ok: false, problem: `it is not valid JSON, perhaps truncated: ${describe(jsonErr)}`, cause: jsonErr };
    }
    return { ok: false, problem: `its superjson type annotations are not valid: ${describe(err)}`, cause: err };
  }
  const problem = check(value);
  return problem === undefined ? { ok: true, value } : { ok: false, problem };
}

/**
 * Reads and checks one document file (its folder too, as `store-files.ts`
 * says); null when the file does not exist.
 * Throws `SnapshotCorruptError` or `UnsafeStoreFileError` naming it.
 */
export async function readDocument<T>(file: string, check: ShapeCheck): Promise<T | null> {
  return readDocumentSync<T>(file, check);
}

/**
 * {@link readDocument} with synchronous calls; with `folderChecked`, the
 * caller has just checked the file's folder and it is not checked again.
 */
export function readDocumentSync<T>(file: string, check: ShapeCheck, folderChecked = false): T | null {
  if (!folderChecked && !verifyPathSync(dirname(file))) return null;
  const text = readStoreTextSync(file);
  if (text === undefined) return null;
  return parsedOrThrow<T>(file, text, check);
}

/** What {@link readDocumentOrBlankSync} gives for a file that holds nothing but zero bytes, or nothing at all. */
export const BLANK = Symbol("blank");

/**
 * {@link readDocumentSync} for a file whose content is not flushed before
 * its name is made (a `lease.json` or `summary.json` of a store with
 * `fsync`, or any of them without): {@link BLANK} when the file is empty or
 * holds only zero bytes, which is what a power loss leaves of a file
 * whose name reached the disk before its content did (ext4 and XFS keep
 * the size a file had on disk, 0, or its new size over blocks never
 * written, which read as zeros). A store never writes such a file itself:
 * every document is written whole before it gets its name, and one
 * written in place only grows. Any other damage is `SnapshotCorruptError`,
 * as with {@link readDocumentSync}.
 */
export function readDocumentOrBlankSync<T>(file: string, check: ShapeCheck, folderChecked = false): T | null | typeof BLANK {
  if (!folderChecked && !verifyPathSync(dirname(file))) return null;
  const text = readStoreTextSync(file);
  if (text === undefined) return null;
  if (isBlank(text)) return BLANK;
  return parsedOrThrow<T>(file, text, check);
}

/**
 * {@link readDocumentOrBlankSync} for a file that is also written in
 * place (a lease marked released, a summary overwritten within its page:
 * `small-file.ts`): a read racing such a write may see a mix of the two
 * versions, so a file that does not parse is read once more before it
 * counts as corrupt.
 */
export function readRewrittenDocumentSync<T>(file: string, check: ShapeCheck, folderChecked = false): T | null | typeof BLANK {
  try {
    return readDocumentOrBlankSync<T>(file, check, folderChecked);
  } catch (err) {
    if (!(err instanceof SnapshotCorruptError)) throw err;
    return readDocumentOrBlankSync<T>(file, check, folderChecked);
  }
}

/** True when `text` is empty or only NUL characters (see {@link readDocumentOrBlankSync}). */
export function isBlank(text: string): boolean {
  return ZEROS_ONLY.test(text);
}

const ZEROS_ONLY = /^\0*$/;

function parsedOrThrow<T>(file: string, text: string, check: ShapeCheck): T {
  const parsed = parseDocument(text, check);
  if (!parsed.ok) throw new SnapshotCorruptError(file, parsed.problem, { cause: parsed.cause });
  return parsed.value as T;
}

/** lowdb's adapter for one superjson document file. */
export class DocumentFileAdapter<T> implements Adapter<T> {
  readonly file: string;
  readonly #check: ShapeCheck;
  readonly #fsync: boolean;

  constructor(file: string, check: ShapeCheck, fsync: boolean) {
    this.file = file;
    this.#check = check;
    this.#fsync = fsync;
  }

  read(): Promise<T | null> {
    return readDocument<T>(this.file, this.#check);
  }

  async write(data: T): Promise<void> {
    writeFileAtomicSync(this.file, serialize(data), this.#fsync);
  }
}
