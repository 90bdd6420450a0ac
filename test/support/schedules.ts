/**
 * Helpers of the schedule tests: read a stored schedule again until a
 * condition holds (no timers, so it works on a `ManualClock`), and the run
 * rows of a history.
 */
import type { HistoryRow, RunRow, ScheduleRecord, ScheduledJob } from "../../src/index.js";

/** Re-reads the schedule until `condition` holds on it (no timers); gives up after `tries` reads. */
export async function recordUntil(job: ScheduledJob, condition: (r: ScheduleRecord) => boolean, what: string, tries = 2_000): Promise<ScheduleRecord> {
  for (let i = 0; i < tries; i++) {
    await job.refresh();
    if (condition(job.record)) return job.record;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** The rows of fired slots in a history. */
export const runRows = (rows: readonly HistoryRow[]): RunRow[] => rows.filter((r): r is RunRow => r.kind === "run");
