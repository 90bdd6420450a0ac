/**
 * Listing the runs of a {@link LowdbStore} folder (`LowdbStore.list`):
 * one small file per run, `summary.json`, caught up from the run's own
 * files where it lags behind them or is missing (`summary-lag.ts`). A run
 * whose folder or summary is corrupt or unsafe is skipped and reported,
 * never read through and never changed: the listing writes nothing.
 *
 * @module
 */
import { readdirSync } from "node:fs";
import type { RunSummary } from "../state/records.js";
import { SnapshotCorruptError, UnsafeStoreFileError } from "./errors.js";
import { isRunFolderName, type RunFolders } from "./run-folder.js";
import { matchesQuery } from "./run-query.js";
import type { RunQuery, StoreProblem } from "./run-store.js";
import { verifyPathSync } from "./store-files.js";
import { readSummaryFile } from "./summary-file.js";
import { caughtUp } from "./summary-lag.js";

/**
 * The summaries of the runs under `folders` that pass `query`, newest
 * change first; a run whose folder or summary is corrupt or unsafe is
 * skipped and reported through `query.onProblem` (a process warning
 * without one).
 *
 * @example
 * ```ts
 * const failed = listRunFolders(folders, { status: "failed", onProblem: (p) => console.warn(p.message) });
 * ```
 */
export function listRunFolders(folders: RunFolders, query: RunQuery = {}): RunSummary[] {
  if (!verifyPathSync(folders.runsDir)) return [];
  const entries = readdirSync(folders.runsDir, { withFileTypes: true });
  const report = query.onProblem ?? ((problem: StoreProblem) => process.emitWarning(problem));
  const out: RunSummary[] = [];
  for (const entry of entries) {
    // Skips stray files, hidden ones, and the trash of deletes that a crash interrupted.
    if (!isRunFolderName(entry.name) || !(entry.isDirectory() || entry.isSymbolicLink())) continue;
    const files = folders.files(entry.name);
    try {
      if (!verifyPathSync(files.dir)) continue;
      const read = readSummaryFile(files.summary, true);
      if (read && read.runId !== entry.name) {
        throw new SnapshotCorruptError(files.summary, `it holds run "${read.runId}", not "${entry.name}"`);
      }
      // A summary that says the run is still going may lag behind a stop its journal holds, and a
      // summary may be missing (or blank) beside a snapshot, after a power loss (summary-lag.ts).
      const summary = caughtUp(entry.name, files, read);
      if (summary && matchesQuery(summary, query)) out.push(summary);
    } catch (err) {
      if (!(err instanceof SnapshotCorruptError || err instanceof UnsafeStoreFileError)) throw err;
      report(err);
    }
  }
  return out.sort((a, b) => b.updatedAt - a.updatedAt);
}
