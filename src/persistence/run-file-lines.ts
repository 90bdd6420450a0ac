/**
 * The lines of a run file (`RunFileStore`, `<dir>/<runId>.run`): one
 * superjson document per line, as a journal's (`journal-reading.ts`, whose
 * reading rules apply: a line counts only when it ends in "\n" and passes
 * {@link checkRunFileLine}; a torn last line is ignored and cut off before
 * the next write; a zero byte ends a preallocated file's lines). Besides
 * the journal records of `journal-line.ts` (node and run records, batch
 * lines), a run file holds five kinds of its own, each named by its
 * `kind` as the first key, so that a reader can tell them by a line's
 * first bytes ({@link lineKind}) without parsing the line:
 *
 * - `lease`: the lease its writer holds, as it took or renewed it;
 * - `release`: the writer gave the lease with `token` back;
 * - `snapshot`: the run's state at a journal sequence number (snapshot
 *   format 4, `snapshot-file.ts`): the records before it no longer count;
 * - `summary`: the run's `RunSummary` as of the snapshot just before it, so
 *   `list` reads it from the file's end without parsing the snapshot;
 * - `counts`: the node counts that an append of a run record gave (the
 *   `RunStore.append` contract), written after that record.
 *
 * @module
 */
import { checkStoredRecord } from "./journal-batch.js";
import type { StoredRecord } from "./journal-delta.js";
import type { Lease } from "./run-store.js";
import { serialize, serializeInPieces } from "./serialization.js";
import { checkSnapshotFile, toSnapshotFileDocument, type SnapshotFileDocument } from "./snapshot-file.js";
import { checkLease, checkSummary } from "./snapshot-schema.js";
import type { ShapeProblem } from "./shape-check.js";
import type { RunState } from "../state/run-state.js";
import type { NodeCounts } from "../state/run-summary.js";
import type { RunSummary } from "../state/records.js";

/** A lease taken or renewed by the file's writer. */
export interface LeaseLine {
  readonly kind: "lease";
  readonly lease: Lease;
}

/** The writer gave back the lease `owner` held with `token`. */
export interface ReleaseLine {
  readonly kind: "release";
  readonly owner: string;
  readonly token: number;
}

/** The run's snapshot (format 4), with its kind. */
export type SnapshotLine = { readonly kind: "snapshot" } & SnapshotFileDocument;

/** The run's summary as of the snapshot line before it. */
export interface SummaryLine {
  readonly kind: "summary";
  readonly summary: RunSummary;
}

/** The node counts an append of a run record gave. */
export interface CountsLine {
  readonly kind: "counts";
  readonly counts: NodeCounts;
}

/** Any line of a run file. */
export type RunFileLine = LeaseLine | ReleaseLine | SnapshotLine | SummaryLine | CountsLine | StoredRecord;

/** The kinds of line this module adds to a journal's. */
export type OwnKind = "lease" | "release" | "snapshot" | "summary" | "counts";

/** The text of a lease line. */
export function leaseLine(lease: Lease): string {
  return serialize({ kind: "lease", lease }) + "\n";
}

/** The text of a release line. */
export function releaseLine(lease: Pick<Lease, "owner" | "token">): string {
  return serialize({ kind: "release", owner: lease.owner, token: lease.token }) + "\n";
}

/** The text of a counts line. */
export function countsLine(counts: NodeCounts): string {
  return serialize({ kind: "counts", counts }) + "\n";
}

/** The text of a summary line. */
export function summaryLine(summary: RunSummary): string {
  return serialize({ kind: "summary", summary }) + "\n";
}

/**
 * The text of `state`'s snapshot line at `seq`, in pieces of a column chunk
 * each (their concatenation is the line, "\n" included), so a big run's
 * snapshot is never one string (`serialization.ts`, `serializeInPieces`).
 */
export function* snapshotLinePieces(state: RunState, seq: number): Generator<string, void, undefined> {
  yield* serializeInPieces({ kind: "snapshot" as const, ...toSnapshotFileDocument(state, seq) }, "nodes", 1);
  yield "\n";
}

/** The snapshot document of a snapshot line (the line without its kind). */
export function snapshotOf(line: SnapshotLine): SnapshotFileDocument {
  const { kind: _kind, ...doc } = line;
  return doc;
}

const isCount = (v: unknown): boolean => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Checks one parsed run-file line: the problem, or undefined. */
export function checkRunFileLine(value: unknown): ShapeProblem {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "it is not a run file line";
  const kind = (value as { kind?: unknown }).kind;
  switch (kind) {
    case "lease": {
      const problem = checkLease((value as { lease?: unknown }).lease);
      return problem === undefined ? undefined : `lease line: ${problem}`;
    }
    case "release": {
      const { owner, token } = value as { owner?: unknown; token?: unknown };
      return typeof owner === "string" && isCount(token) ? undefined : "a release line needs an owner (text) and a token (a whole number)";
    }
    case "snapshot": {
      const problem = checkSnapshotFile(snapshotOf(value as SnapshotLine));
      return problem === undefined ? undefined : `snapshot line: ${problem}`;
    }
    case "summary": {
      const problem = checkSummary((value as { summary?: unknown }).summary);
      return problem === undefined ? undefined : `summary line: ${problem}`;
    }
    case "counts": {
      const counts = (value as { counts?: unknown }).counts;
      if (typeof counts !== "object" || counts === null) return "a counts line needs counts";
      const { nodeCount, settledCount, succeededCount, failedCount } = counts as Record<string, unknown>;
      if (!isCount(nodeCount) || !isCount(settledCount)) return "a counts line needs nodeCount and settledCount (whole numbers)";
      if ((succeededCount !== undefined && !isCount(succeededCount)) || (failedCount !== undefined && !isCount(failedCount))) {
        return "a counts line's succeededCount and failedCount must be whole numbers";
      }
      return undefined;
    }
    default:
      return checkStoredRecord(value);
  }
}

/** The kind of a line this module adds, told from the line's first bytes (`{"json":{"kind":"…"`), or undefined for a journal record. */
export function lineKind(bytes: Uint8Array): OwnKind | undefined {
  // `{"json":{"kind":"` is 17 bytes; the kinds differ in their first letter after it.
  if (bytes.length < 20 || bytes[0] !== 0x7b || bytes[9] !== 0x22 || bytes[10] !== 0x6b) return undefined;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 28)).toString("latin1");
  if (!text.startsWith('{"json":{"kind":"')) return undefined;
  const rest = text.slice(17);
  for (const kind of OWN_KINDS) if (rest.startsWith(`${kind}"`)) return kind;
  return undefined;
}

const OWN_KINDS: readonly OwnKind[] = ["lease", "release", "snapshot", "summary", "counts"];

/** Whether a line's first bytes say it is a run record (`{"json":{"kind":"run"`): what `list` reads the meta from. */
export function isRunRecordLine(bytes: Uint8Array): boolean {
  if (bytes.length < 22) return false;
  return Buffer.from(bytes.buffer, bytes.byteOffset, 22).toString("latin1") === '{"json":{"kind":"run",';
}
