/**
 * The `summary.json` of each run a {@link LowdbStore} drives, as the
 * store writes it: at every snapshot, and at every append that holds the
 * run meta (a run-level change). Without `fsync`, a running run's summary
 * is kept open from the snapshot that wrote it to the run's next change,
 * which overwrites it in place through that descriptor (`small-file.ts`,
 * `KeptFile`) and closes it when the change stops the run (or the store
 * closes the run's journal). How each write is made is `summary-file.ts`;
 * why a summary may lag behind its run after a power loss, and how `list`
 * catches it up, is `summary-lag.ts`.
 *
 * Invariants: at most one descriptor per run; a run's descriptor is closed
 * before its summary is written by any other path (a snapshot's write
 * replaces the file), so an in-place write never lands in a file that a
 * rename has replaced.
 *
 * @module
 */
import { closeSync } from "node:fs";
import type { RunMeta } from "../state/records.js";
import { summaryOf, type NodeCounts } from "../state/run-summary.js";
import { serialize } from "./serialization.js";
import type { FolderChecked } from "./atomic-file.js";
import { overwriteKeptSync, type KeptFile } from "./small-file.js";
import { readSummaryFile, writeSummaryFile, writeSummaryKept, type SummaryWrite } from "./summary-file.js";
import { stillGoing } from "./summary-lag.js";

/** The summaries of a store's runs, and the descriptors kept open for running runs. */
export class RunSummaries {
  readonly #fsync: boolean;
  /** The kept descriptor of each running run's summary (a store without `fsync`). */
  readonly #kept = new Map<string, KeptFile>();

  constructor(fsync: boolean) {
    this.#fsync = fsync;
  }

  /**
   * Writes the summary `text` of run `runId` at a snapshot (`how`, as
   * `summary-file.ts` takes it); with `keep`, the run goes on, and without
   * `fsync` the new file is kept open for the run's next change.
   */
  snapshotWritten(runId: string, file: string, text: string, how: Omit<SummaryWrite, "fsync">, keep: boolean): void {
    this.close(runId);
    if (keep && !this.#fsync) this.#kept.set(runId, writeSummaryKept(file, text, how));
    // `fsync` first: a literal that starts with a spread and adds a key gets a hidden class of its own each time in V8 11
    // (docs/architecture.md, "Hidden classes").
    else writeSummaryFile(file, text, { fsync: this.#fsync, ...how });
  }

  /**
   * Rewrites the summary after a run-level change to `meta`; node counts
   * are `counts`, else as the file holds them.
   */
  changed(runId: string, file: string, meta: RunMeta, counts: NodeCounts | undefined, folderChecked: FolderChecked): void {
    // The run appends more after this change (it did not stop).
    const going = stillGoing(meta.status);
    const known = counts ?? readSummaryFile(file) ?? { nodeCount: 0, settledCount: 0 };
    const text = serialize(summaryOf(meta, known));
    const kept = this.#kept.get(runId);
    if (kept !== undefined) {
      let written = false;
      try {
        written = overwriteKeptSync(kept, text);
      } finally {
        // A run that stopped changes no more until it is resumed (and loaded anew).
        if (!written || !going) this.close(runId);
      }
      if (written) return;
    }
    // With fsync, while the run goes on (a run resumed, say), the summary is replaced by rename and its
    // folder flushed after (not its content: a blank summary reads as missing, summary-file.ts). A stop
    // is not flushed: the journal line just flushed holds it, and `list` reads a summary that lags
    // behind it from the run's files (summary-lag.ts), so a power loss never makes a stopped run read
    // as running. The summary is then written in place over the one-sector file a summary with fsync
    // is (summary-file.ts): no flush, no file made and no rename at a run's end.
    writeSummaryFile(file, text, { fsync: this.#fsync, folderChecked, syncFolder: going, mayLag: !going });
  }

  /** Closes the run's kept descriptor, if any. */
  close(runId: string): void {
    const kept = this.#kept.get(runId);
    if (kept === undefined) return;
    this.#kept.delete(runId);
    closeSync(kept.fd);
  }
}
