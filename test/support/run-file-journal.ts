/**
 * What a run file (`<dir>/<runId>.run`, the default layout of `LowdbStore`)
 * holds in place of a run folder's `journal.ndjson` and `snapshot.json`,
 * for tests that check a behaviour on both layouts: the journal records
 * after the file's last snapshot line (what a load replays over it), and
 * that snapshot. Lines are told apart as the store tells them
 * (`run-file-lines.ts`, `lineKind`); only whole lines count.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SnapshotDocument } from "../../src/persistence/replay.js";
import { lineKind, snapshotOf, type SnapshotLine } from "../../src/persistence/run-file-lines.js";
import { deserialize } from "../../src/persistence/serialization.js";
import { fromSnapshotFile } from "../../src/persistence/snapshot-file.js";

/** The run file of run `runId` in the store folder `dir`. */
export function runFile(dir: string, runId: string): string {
  return join(dir, `${runId}.run`);
}

/** The whole lines of run `runId`'s file, "\n" left off, each with its kind (undefined for a journal record). */
function lines(dir: string, runId: string): { text: string; kind: ReturnType<typeof lineKind> }[] {
  const text = readFileSync(runFile(dir, runId), "utf8");
  const whole = text.slice(0, text.lastIndexOf("\n") + 1);
  return whole
    .split("\n")
    .slice(0, -1)
    .map((line) => ({ text: line, kind: lineKind(Buffer.from(line)) }));
}

/** The index of the last snapshot line of `all`; throws when there is none. */
function lastSnapshot(all: readonly { kind: ReturnType<typeof lineKind> }[], file: string): number {
  const at = all.findLastIndex((l) => l.kind === "snapshot");
  if (at < 0) throw new Error(`${file} holds no snapshot line`);
  return at;
}

/**
 * The journal records after the last snapshot line of run `runId`'s file,
 * as a run folder's `journal.ndjson` would hold them (one line each, "\n"
 * after each; "" when there are none).
 */
export function runFileJournal(dir: string, runId: string): string {
  const all = lines(dir, runId);
  return all
    .slice(lastSnapshot(all, runFile(dir, runId)) + 1)
    .filter((l) => l.kind === undefined)
    .map((l) => l.text + "\n")
    .join("");
}

/** The text of the last snapshot line of run `runId`'s file ("\n" left off). */
export function runFileSnapshotLine(dir: string, runId: string): string {
  const all = lines(dir, runId);
  return all[lastSnapshot(all, runFile(dir, runId))]!.text;
}

/** The last snapshot of run `runId`'s file, as `readSnapshotDocument` (test/support/snapshot-file.ts) gives a run folder's. */
export function runFileSnapshot(dir: string, runId: string): SnapshotDocument {
  return fromSnapshotFile(snapshotOf(deserialize<SnapshotLine>(runFileSnapshotLine(dir, runId))));
}
