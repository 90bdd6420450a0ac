/**
 * Helpers of the schedule tests: read a stored schedule again until a
 * condition holds (no timers, so it works on a `ManualClock`), and the run
 * rows of a history.
 */
import type { HistoryRow, RunRow, ScheduleRecord, ScheduledJob } from "../../src/index.js";
import { until } from "./async.js";

/** Re-reads the schedule until `condition` holds on it (no timers); gives up after `tries` reads and 10 s, as `until` does. */
export async function recordUntil(job: ScheduledJob, condition: (r: ScheduleRecord) => boolean, what: string, tries = 2_000): Promise<ScheduleRecord> {
  await until(
    async () => {
      await job.refresh();
      return condition(job.record);
    },
    what,
    tries,
  );
  return job.record;
}

/** The rows of fired slots in a history. */
export const runRows = (rows: readonly HistoryRow[]): RunRow[] => rows.filter((r): r is RunRow => r.kind === "run");
