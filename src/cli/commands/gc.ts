/**
 * `taskloom gc --older-than 30d`: deletes the stored runs not updated for
 * that long (optionally only some statuses). Runs a live process drives
 * are kept and named, by `--dry-run` too (which lists what would go). A run whose files
 * are corrupt or unsafe is never deleted by gc: it is named in a warning
 * line on stderr (and kept), and the other runs are collected. A run
 * that cannot be deleted for another reason (a file the system would not
 * remove) is its own error line and kept, the others are collected, and
 * the exit code is 1.
 *
 * Each run listed is deleted only if it still qualifies when read again
 * under its lease (`deleteRunIf`): a run resumed and ended since the
 * listing (its `updatedAt` is new) is kept and named, never deleted with
 * its fresh result. A store whose `delete` ignores the lease (written
 * before `RunStore.delete` took one) deletes nothing: each run is kept
 * and named, and the exit code is 1.
 *
 * @module
 */
import { listRuns, SnapshotCorruptError, UnsafeStoreFileError } from "../../index.js";
import { deleteRunIf } from "../../runner/delete-run-if.js";
import type { RunStatus } from "../../state/status.js";
import type { CommandContext } from "../context.js";
import { formatDuration, parseDuration } from "../../core/duration.js";
import { errorCode, errorLine } from "../errors.js";
import { formatTime, jsonText } from "../text.js";
import { parseStatuses, warningLine, warnOnProblem } from "./runs.js";

/** Options of `taskloom gc`. */
export interface GcCommandOptions {
  readonly olderThan: string;
  readonly status?: string | undefined;
  readonly dryRun?: boolean | undefined;
  readonly json?: boolean | undefined;
}

/** Runs the command; resolves to the exit code. */
export async function gcCommand(ctx: CommandContext, options: GcCommandOptions): Promise<number> {
  const age = parseDuration(options.olderThan, "--older-than");
  const status = parseStatuses(options.status);
  const cutoff = ctx.io.now() - age;
  const runs = await listRuns({ store: ctx.store(), onProblem: warnOnProblem(ctx), ...(status !== undefined && { status }) });
  // What gc deletes: asked of each run as listed, and again as read under its lease just before the delete.
  const qualifies = (run: { readonly status: RunStatus; readonly updatedAt: number }) =>
    run.updatedAt < cutoff && (status === undefined || status.includes(run.status));
  const old = runs.filter(qualifies);
  const removed: string[] = [];
  const kept: { runId: string; reason: string }[] = [];
  let failed = false;
  for (const r of old) {
    if (options.dryRun) {
      // What gc would do: deleteRun refuses a run whose lease a live process holds.
      if (r.liveness === "live") {
        kept.push({ runId: r.runId, reason: "a live process drives it" });
        continue;
      }
    } else {
      try {
        const { outcome, meta } = await deleteRunIf(r.runId, qualifies, { store: ctx.store(), by: "gc" });
        if (outcome === "gone") continue; // deleted by another process since the listing
        if (outcome === "kept") {
          kept.push({ runId: r.runId, reason: `it changed since it was listed (${meta!.status}, updated ${formatTime(meta!.updatedAt)})` });
          continue;
        }
        if (outcome === "unsupported") {
          kept.push({ runId: r.runId, reason: "its store cannot delete a run under a lease (its delete ignores RunStore.delete's lease)" });
          failed = true;
          continue;
        }
      } catch (err) {
        if (err instanceof SnapshotCorruptError || err instanceof UnsafeStoreFileError) {
          ctx.io.err.write(warningLine(err, `kept ${r.runId}`));
          kept.push({ runId: r.runId, reason: `its file ${err.file} cannot be used (${err.code})` });
          continue;
        }
        if (errorCode(err) === "RUN_LOCKED") {
          kept.push({ runId: r.runId, reason: "a live process drives it" });
          continue;
        }
        // Anything else (a file the system would not remove): its own error line, the run kept and named, and the
        // others still collected; the exit code says that something failed.
        ctx.io.err.write(`${errorLine(err, ctx.verbose)}\n`);
        kept.push({ runId: r.runId, reason: `it could not be deleted (${errorCode(err)})` });
        failed = true;
        continue;
      }
    }
    removed.push(r.runId);
    if (!options.json) ctx.io.out.write(`${options.dryRun ? "would remove" : "removed"} ${r.runId} (${r.status}, updated ${formatTime(r.updatedAt)})\n`);
  }
  for (const k of kept) ctx.io.err.write(`kept ${k.runId}: ${k.reason}\n`);
  if (options.json) ctx.io.out.write(`${jsonText({ dryRun: options.dryRun === true, removed, kept })}\n`);
  ctx.io.err.write(
    `${options.dryRun ? "would remove" : "removed"} ${removed.length} of ${runs.length} run${runs.length === 1 ? "" : "s"} not updated for ${formatDuration(age)}\n`,
  );
  return failed ? 1 : 0;
}
