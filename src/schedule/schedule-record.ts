/**
 * A schedule as data: what to run, when, what became of each slot. This
 * is what the schedule store keeps (one document per schedule) and what
 * `getSchedule`, `listSchedules` and the CLI read.
 *
 * Invariants. At most one history row of kind "run" is unfinished (no
 * `endedAt`): the slot a scheduler claimed and is running, or was running
 * when it died; the next scheduler resumes that run by its run id before
 * it considers any other slot. `fired` counts claimed slots, so `times`
 * holds across restarts. Only the holder of `lease` claims slots and
 * writes rows; anyone may change `status` (pause, resume, cancel).
 *
 * @module
 */
import type { Lease } from "../persistence/run-store.js";
import type { ErrorRecord } from "../state/records.js";
import type { CatchUp } from "./repeat.js";
import type { WhenSpec } from "./parse-when.js";
import type { ScheduleRunOptions } from "./schedule-run-options.js";

/** The statuses of a schedule, each listed once. */
export const SCHEDULE_STATUSES = ["active", "paused", "cancelled", "completed"] as const;
/** `active` fires its slots; `paused` keeps them for later; `cancelled` and `completed` are final. */
export type ScheduleStatus = (typeof SCHEDULE_STATUSES)[number];

/** The statuses of a scheduled run as the history records it. */
export type SlotRunStatus = "running" | "succeeded" | "failed" | "waiting" | "cancelled";

/** How a schedule retries its callback. */
export interface CallbackRetry {
  /** Attempts in all, the first included. @default 5 */
  readonly maxAttempts: number;
  /** Delay before the second attempt (ms). @default 1_000 */
  readonly initialMs: number;
  /** Each delay is the previous one times this. @default 2 */
  readonly factor: number;
  /** No delay is longer than this (ms). @default 60_000 */
  readonly maxMs: number;
  /** How long one attempt may take (ms). @default 10_000 */
  readonly timeoutMs: number;
}

/** One POST of a callback. */
export interface CallbackAttempt {
  /** When it was sent (epoch ms). */
  readonly at: number;
  /** The HTTP status, when a response came. */
  readonly status?: number;
  /** Why it failed, when no response came (refused, timed out). */
  readonly error?: string;
  readonly durationMs: number;
}

/** The delivery of a run's result to the schedule's callback URL. */
export interface CallbackState {
  readonly url: string;
  /** A 2xx response came. */
  readonly delivered: boolean;
  /** No attempt is left to make (delivered, or every attempt failed). */
  readonly done: boolean;
  readonly attempts: readonly CallbackAttempt[];
}

/** A slot that was fired: its run and how it ended. */
export interface RunRow {
  readonly kind: "run";
  /** The slot (epoch ms). */
  readonly slot: number;
  readonly runId: string;
  readonly status: SlotRunStatus;
  /** When the slot was claimed (epoch ms). */
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly durationMs?: number;
  readonly error?: ErrorRecord;
  readonly callback?: CallbackState;
}

/** Due slots that the catch-up policy dropped. */
export interface MissedRow {
  readonly kind: "missed";
  readonly count: number;
  /** The first and last dropped slot (epoch ms). */
  readonly first: number;
  readonly last: number;
  readonly policy: CatchUp;
  /** When the scheduler decided (epoch ms). */
  readonly at: number;
}

/** A slot that could not be fired, with why (e.g. no scheduler has the graph). */
export interface ErrorRow {
  readonly kind: "error";
  readonly slot: number;
  readonly at: number;
  readonly error: ErrorRecord;
}

/** One row of a schedule's history. */
export type HistoryRow = RunRow | MissedRow | ErrorRow;

/** A stored schedule. */
export interface ScheduleRecord {
  readonly version: 1;
  readonly id: string;
  readonly graphName: string;
  /** The graph's module, when the schedule was made from the command line. */
  readonly modulePath?: string;
  /** The module's export that holds the graph. */
  readonly exportName?: string;
  readonly inputs: unknown;
  /** The parsed `when`. */
  readonly when: WhenSpec;
  /** `when` as the user gave it, for display. */
  readonly whenText: string;
  /** Fixed rate (ms), when the schedule repeats on one. */
  readonly everyMs?: number;
  /** At most this many runs. */
  readonly times?: number;
  /** No slot after this (epoch ms). */
  readonly until?: number;
  readonly catchUp: CatchUp;
  readonly timezone: string;
  readonly callbackUrl?: string;
  readonly callbackSecret?: string;
  readonly callbackRetry: CallbackRetry;
  readonly runIdPrefix?: string;
  /** The caller's JSON, returned with the schedule, its history rows and in callbacks. */
  readonly metadata?: unknown;
  /** Options for each run (a deadline, an executor by name, limits), over the scheduler's. */
  readonly runOptions?: ScheduleRunOptions;
  readonly status: ScheduleStatus;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The next slot to fire (epoch ms); undefined when none is left. */
  readonly nextRunAt?: number;
  /** How many slots were claimed. */
  readonly fired: number;
  /** The scheduler that fires this schedule's slots. */
  readonly lease?: Lease;
  /** Oldest first, the newest {@link HISTORY_LIMIT} rows. */
  readonly history: readonly HistoryRow[];
}

/** History rows kept per schedule; older ones are dropped. */
export const HISTORY_LIMIT = 1_000;

/** The unfinished run row (the claimed slot), if any. */
export function openRun(record: ScheduleRecord): RunRow | undefined {
  for (let i = record.history.length - 1; i >= 0; i--) {
    const row = record.history[i];
    if (row?.kind === "run" && row.endedAt === undefined) return row;
  }
  return undefined;
}

/** The record with `row` appended (and the oldest rows dropped past the limit). */
export function withRow(record: ScheduleRecord, row: HistoryRow, now: number): ScheduleRecord {
  const history = [...record.history, row];
  return { ...record, history: history.length > HISTORY_LIMIT ? history.slice(history.length - HISTORY_LIMIT) : history, updatedAt: now };
}

/** The record with the run row of `runId` replaced by `change(row)`. */
export function withRunRow(record: ScheduleRecord, runId: string, change: (row: RunRow) => RunRow, now: number): ScheduleRecord {
  let found = false;
  const history = record.history.map((row) => {
    if (row.kind !== "run" || row.runId !== runId) return row;
    found = true;
    return change(row);
  });
  return found ? { ...record, history, updatedAt: now } : record;
}

/** The run id of a slot: `<prefix or schedule id>-<compact slot>`. */
export function slotRunId(record: Pick<ScheduleRecord, "id" | "runIdPrefix">, compact: string): string {
  return `${record.runIdPrefix ?? record.id}-${compact}`;
}
