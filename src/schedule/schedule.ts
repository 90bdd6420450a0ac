/**
 * The public face of schedules: `schedule()` validates everything at the
 * boundary and stores a new schedule; `getSchedule`, `listSchedules` and
 * `removeSchedule` read and manage stored ones; a {@link ScheduledJob} is
 * the handle over one. A schedule is data in the schedule store: it fires
 * only while a {@link Scheduler} runs on the same store, in this process
 * or another.
 *
 * This module holds the operations; the option checks of `schedule()` are
 * in `schedule-options.ts`, the handle in `scheduled-job.ts`, and the
 * store options every operation takes in `store-options.ts`.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";
import { ScheduleNotFoundError } from "./errors.js";
import { SCHEDULE_STATUSES, type ScheduleStatus } from "./schedule-record.js";
import { assertScheduleId } from "./schedule-id.js";
import type { ScheduleProblem } from "./schedule-store.js";
import { buildRecord, type ScheduleOptions } from "./schedule-options.js";
import { assertOptionsObject, STORE_KEYS, storesOf, type ScheduleStoreOption } from "./store-options.js";
import { ScheduledJob } from "./scheduled-job.js";
import { valueText } from "../core/text.js";

export { buildRecord, callbackUrlProblem, DEFAULT_CALLBACK_RETRY, type RepeatOptions, type ScheduleOptions } from "./schedule-options.js";
export { storesOf, type ResolvedStores, type ScheduleStoreOption } from "./store-options.js";
export { ScheduledJob, type NotYetRunResult, type ScheduleHistoryRow, type ScheduledResult, type ScheduledRunResult } from "./scheduled-job.js";
export type { ScheduleRunOptions } from "./schedule-run-options.js";

/** A graph as `schedule` needs it: its name. */
export type SchedulableGraph = { readonly name: string } | { readonly graph: { readonly name: string } };

/**
 * Stores a new schedule and returns its handle. Every option is checked
 * first: a `when` that cannot be read, or in the past for a one-off run,
 * throws `InvalidScheduleError` quoting it, and nothing is stored. The
 * runs fire while a `Scheduler` runs on the same store.
 *
 * @example
 * ```ts
 * const job = await schedule(relabel, { batch: 100 }, { when: "now", repeat: { every: "1h" } });
 * console.log(job.id, job.nextRunAt);
 * ```
 */
export async function schedule(graph: SchedulableGraph, inputs: unknown, options: ScheduleOptions): Promise<ScheduledJob> {
  const graphName = graphNameOf(graph);
  const record = buildRecord(graphName, inputs, options);
  const stores = storesOf(options);
  await stores.schedules.create(record);
  return new ScheduledJob(record, stores);
}

function graphNameOf(graph: SchedulableGraph): string {
  const g = graph as { name?: unknown; graph?: { name?: unknown } } | null;
  // A graphFn is a function whose own `name` is the JavaScript function name: read its graph first.
  const name = typeof g?.graph?.name === "string" ? g.graph.name : typeof g === "object" && g !== null ? g.name : undefined;
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidOptionError("graph", "must be a TaskGraph (build one with graph(name)...build()) or a graphFn");
  }
  return name;
}

/**
 * The handle of a stored schedule. Throws `ScheduleNotFoundError`.
 *
 * @example
 * ```ts
 * const job = await getSchedule("sch-1a2b3c4d5e6f", { store });
 * console.log(job.status, job.nextRunAt);
 * ```
 */
export async function getSchedule(id: string, options: ScheduleStoreOption = {}): Promise<ScheduledJob> {
  assertScheduleId(id);
  assertOptionsObject("getSchedule", options, STORE_KEYS);
  const stores = storesOf(options);
  const record = await stores.schedules.get(id);
  if (!record) throw new ScheduleNotFoundError(id);
  return new ScheduledJob(record, stores);
}

/** Options of {@link listSchedules}. */
export interface ListSchedulesOptions extends ScheduleStoreOption {
  /** Only schedules with this status (or any of these). */
  readonly status?: ScheduleStatus | readonly ScheduleStatus[];
  /**
   * Called for each stored schedule that cannot be read (an empty or
   * corrupt file): it is skipped, the others are listed.
   * @default skipped without a report
   */
  readonly onProblem?: (problem: ScheduleProblem) => void;
}

/**
 * The stored schedules, oldest first, optionally only those with a status.
 * A schedule whose file cannot be read is skipped and given to
 * `onProblem`; it never hides the others.
 *
 * @example
 * ```ts
 * const jobs = await listSchedules({ status: "active", onProblem: (p) => console.warn(p.error.message) });
 * for (const job of jobs) console.log(job.id, job.nextRunAt);
 * ```
 */
export async function listSchedules(options: ListSchedulesOptions = {}): Promise<ScheduledJob[]> {
  assertOptionsObject("listSchedules", options, [...STORE_KEYS, "status", "onProblem"]);
  if (options.onProblem !== undefined && typeof options.onProblem !== "function") throw new InvalidOptionError("onProblem", "must be a function");
  const status: unknown = options.status;
  if (status !== undefined && typeof status !== "string" && !Array.isArray(status)) {
    throw new InvalidOptionError("status", `must be a status or an array of them, among ${SCHEDULE_STATUSES.join(", ")} (got ${valueText(status)})`);
  }
  const wanted = options.status === undefined ? undefined : typeof options.status === "string" ? [options.status] : options.status;
  for (const s of wanted ?? []) {
    if (!(SCHEDULE_STATUSES as readonly string[]).includes(s))
      throw new InvalidOptionError(
        "status",
        `must be one of ${SCHEDULE_STATUSES.join(", ")} (got ${typeof s === "string" ? JSON.stringify(s) : valueText(s)})`,
      );
  }
  const stores = storesOf(options);
  const records = await stores.schedules.list(options.onProblem === undefined ? {} : { onProblem: options.onProblem });
  return records.filter((r) => wanted === undefined || wanted.includes(r.status)).map((r) => new ScheduledJob(r, stores));
}

/**
 * Deletes a schedule and its history (its runs stay in the run store).
 * Resolves to false when there was none.
 *
 * @example
 * ```ts
 * await removeSchedule("sch-1a2b3c4d5e6f", { store });
 * ```
 */
export async function removeSchedule(id: string, options: ScheduleStoreOption = {}): Promise<boolean> {
  assertScheduleId(id);
  assertOptionsObject("removeSchedule", options, STORE_KEYS);
  return storesOf(options).schedules.delete(id);
}
