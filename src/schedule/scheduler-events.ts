/**
 * What a {@link Scheduler} tells: its typed events, and the live view of
 * the schedules it holds.
 *
 * Invariants: every event payload has `scheduleId` (but `warning` and
 * `error` may lack one) and `at`, epoch ms read from the scheduler's clock;
 * a listener's failure never stops the scheduler (it becomes an `error`
 * event).
 *
 * @module
 */
import type { ErrorRecord } from "../state/records.js";
import type { CatchUp } from "./repeat.js";
import type { CallbackAttempt, SlotRunStatus } from "./schedule-record.js";

/** Events of a {@link Scheduler}; every payload has `scheduleId` and `at` (epoch ms). */
export interface SchedulerEventMap {
  /** This scheduler took a schedule's lease: it fires its slots from now on. */
  "schedule:acquired": { readonly scheduleId: string; readonly at: number; readonly nextRunAt: number | undefined };
  /** A slot's run starts (or, `resumed`, continues after a scheduler died while it ran). */
  "slot:start": { readonly scheduleId: string; readonly at: number; readonly slot: number; readonly runId: string; readonly resumed: boolean };
  /** A slot's run ended and was recorded. */
  "slot:end": {
    readonly scheduleId: string;
    readonly at: number;
    readonly slot: number;
    readonly runId: string;
    readonly status: Exclude<SlotRunStatus, "running">;
    readonly durationMs: number;
    readonly outputs?: unknown;
    readonly error?: ErrorRecord;
  };
  /** Due slots were dropped by the catch-up policy. */
  "slot:missed": {
    readonly scheduleId: string;
    readonly at: number;
    readonly count: number;
    readonly first: number;
    readonly last: number;
    readonly policy: CatchUp;
  };
  /** A callback POST was made. */
  "callback:attempt": {
    readonly scheduleId: string;
    readonly at: number;
    readonly runId: string;
    readonly attempt: CallbackAttempt;
    readonly number: number;
    readonly delivered: boolean;
    readonly done: boolean;
  };
  /** The schedule has no slot left and is now `completed`. */
  "schedule:completed": { readonly scheduleId: string; readonly at: number };
  /** A due schedule's graph was not given to any live scheduler on this store (a history row says so). */
  "schedule:unresolved": {
    readonly scheduleId: string;
    readonly at: number;
    readonly graphName: string;
    readonly slot: number;
    /** Set when the graph is known but the schedule's executor (`runOptions.executor`) is not. */
    readonly executor?: string;
  };
  /**
   * A stored schedule cannot be read (an empty or corrupt file) and is
   * skipped; the others fire. Emitted once per bad content, not at every poll.
   */
  warning: { readonly scheduleId?: string; readonly at: number; readonly file?: string; readonly error: unknown };
  /** Something failed outside any run (the store could not be read or written); the scheduler goes on. */
  error: { readonly scheduleId?: string; readonly at: number; readonly error: unknown };
}

/** What a live view shows about one schedule this scheduler holds. */
export interface SchedulerJobView {
  readonly scheduleId: string;
  readonly graphName: string;
  readonly nextRunAt: number | undefined;
  /** The slot being run, with its run id and since when. */
  readonly running?: { readonly slot: number; readonly runId: string; readonly since: number };
}

/** Emits one of the scheduler's events (never throws). */
export type SchedulerEmit = <K extends keyof SchedulerEventMap>(name: K, payload: SchedulerEventMap[K]) => void;
