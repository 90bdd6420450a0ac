/**
 * {@link ScheduledJob}: the handle over one stored schedule, with its
 * state as last read, and what can be done with it (pause, resume,
 * cancel, history, the last run's result).
 *
 * Invariants: every change goes through the schedule store's atomic
 * `update`, so it never loses a scheduler's concurrent write; `status` and
 * `nextRunAt` are refreshed by every method (and by `refresh()`); pausing
 * or cancelling never stops a run in progress; only an active schedule
 * can be paused, and only a paused one resumed.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";
import { RunNotFoundError } from "../runner/errors.js";
import { ScheduleNotFoundError, ScheduleStateError } from "./errors.js";
import { getRun } from "../runner/manage-runs.js";
import type { ErrorRecord } from "../state/records.js";
import { openRun, type HistoryRow, type ScheduleRecord, type ScheduleStatus } from "./schedule-record.js";
import type { ScheduleRunOptions } from "./schedule-run-options.js";
import { assertOptionsObject, type ResolvedStores } from "./store-options.js";

/** What a scheduled run came to, for polling. */
export interface ScheduledRunResult {
  readonly scheduleId: string;
  readonly runId: string;
  /** The slot the run was for. */
  readonly slot: Date;
  readonly status: "pending" | "running" | "waiting" | "succeeded" | "failed";
  /** The graph outputs, when it succeeded. */
  readonly outputs?: unknown;
  /** Why it failed (or was cancelled). */
  readonly error?: ErrorRecord;
}

/** What `lastResult()` says before the first slot fired: no run yet, and when the first one is due. */
export interface NotYetRunResult {
  readonly scheduleId: string;
  readonly status: "pending";
  /** No run yet. */
  readonly runId: undefined;
  readonly slot: undefined;
  readonly outputs?: undefined;
  readonly error?: undefined;
  /** When the first slot is due; undefined when none will fire (the schedule was cancelled first). */
  readonly nextAt: Date | undefined;
}

/**
 * What {@link ScheduledJob.lastResult} returns: the latest fired slot's
 * run, or, before the first slot, `{ status: "pending", nextAt }`.
 */
export type ScheduledResult = ScheduledRunResult | NotYetRunResult;

/** A history row as `history()` returns it: the stored row, with the schedule's metadata when it has some. */
export type ScheduleHistoryRow = HistoryRow & { readonly metadata?: unknown };

/**
 * The handle of a stored schedule: its state as last read, and what can
 * be done with it. `status` and `nextRunAt` are refreshed by every method
 * (and by `refresh()`).
 *
 * @example
 * ```ts
 * const job = await getSchedule("sch-1a2b3c4d5e6f");
 * await job.pause();
 * console.log(job.status, await job.history({ limit: 5 }));
 * ```
 */
export class ScheduledJob {
  /** The schedule id. */
  readonly id: string;
  #record: ScheduleRecord;
  readonly #stores: ResolvedStores;

  /** @internal Use {@link schedule} or {@link getSchedule}. */
  constructor(record: ScheduleRecord, stores: ResolvedStores) {
    this.id = record.id;
    this.#record = record;
    this.#stores = stores;
  }

  /** The stored schedule, as last read. */
  get record(): ScheduleRecord {
    return this.#record;
  }

  /** The schedule's status, as last read. */
  get status(): ScheduleStatus {
    return this.#record.status;
  }

  /** The caller's JSON given as `metadata` to `schedule()`, if any. */
  get metadata(): unknown {
    return this.#record.metadata;
  }

  /** The run options stored with the schedule (a deadline, an executor name, limits), if any. */
  get runOptions(): ScheduleRunOptions | undefined {
    return this.#record.runOptions;
  }

  /** The next slot, as last read; undefined when none is left. */
  get nextRunAt(): Date | undefined {
    return this.#record.nextRunAt === undefined ? undefined : new Date(this.#record.nextRunAt);
  }

  /** Reads the schedule again. */
  async refresh(): Promise<this> {
    const record = await this.#stores.schedules.get(this.id);
    if (!record) throw new ScheduleNotFoundError(this.id);
    this.#record = record;
    return this;
  }

  /** Stops firing slots until `resume()`; a run in progress finishes. */
  async pause(): Promise<void> {
    this.#record = await this.#stores.schedules.update(this.id, (r) => {
      if (r.status === "paused") return r;
      if (r.status !== "active") throw new ScheduleStateError(r.id, r.status, "be paused", "Only an active schedule can be paused.");
      return { ...r, status: "paused", updatedAt: Date.now() };
    });
  }

  /** Fires slots again; those that came due while paused follow the `catchUp` policy. */
  async resume(): Promise<void> {
    this.#record = await this.#stores.schedules.update(this.id, (r) => {
      if (r.status === "active") return r;
      if (r.status !== "paused") throw new ScheduleStateError(r.id, r.status, "be resumed", "Create a new schedule instead.");
      return { ...r, status: "active", updatedAt: Date.now() };
    });
  }

  /** Ends the schedule: no slot fires after this (a run in progress finishes). Its history is kept. */
  async cancel(): Promise<void> {
    this.#record = await this.#stores.schedules.update(this.id, (r) => {
      if (r.status === "cancelled") return r;
      const { nextRunAt: _dropped, ...rest } = r;
      return { ...rest, status: "cancelled", updatedAt: Date.now() };
    });
  }

  /** The history, newest first: one row per fired slot (with its callback attempts), dropped slots and errors. */
  async history(options: { readonly limit?: number } = {}): Promise<ScheduleHistoryRow[]> {
    assertOptionsObject("history", options, ["limit"]);
    const limit = options.limit;
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1)) throw new InvalidOptionError("limit", "must be a whole number of at least 1");
    await this.refresh();
    const metadata = this.#record.metadata;
    const rows: ScheduleHistoryRow[] = [...this.#record.history].reverse().map((row) => (metadata === undefined ? row : { ...row, metadata }));
    return limit === undefined ? rows : rows.slice(0, limit);
  }

  /**
   * The latest fired slot's run: pending (claimed, not started), running,
   * waiting, succeeded or failed, with outputs or error. Before the first
   * slot fired: `{ status: "pending", runId: undefined, nextAt }`.
   *
   * @example
   * ```ts
   * const r = await job.lastResult();
   * if (r.runId === undefined) console.log("first run due at", r.nextAt);
   * else if (r.status === "succeeded") console.log(r.outputs);
   * ```
   */
  async lastResult(): Promise<ScheduledResult> {
    await this.refresh();
    const open = openRun(this.#record);
    const row = open ?? [...this.#record.history].reverse().find((r) => r.kind === "run");
    if (!row || row.kind !== "run") {
      const next = this.#record.nextRunAt;
      return { scheduleId: this.id, status: "pending", runId: undefined, slot: undefined, nextAt: next === undefined ? undefined : new Date(next) };
    }
    const base = { scheduleId: this.id, runId: row.runId, slot: new Date(row.slot) };
    let details;
    try {
      details = await getRun(row.runId, { store: this.#stores.runs });
    } catch (err) {
      if (!(err instanceof RunNotFoundError)) throw err;
      if (row.endedAt === undefined) return { ...base, status: "pending" };
      return { ...base, status: "failed", ...(row.error !== undefined && { error: row.error }) };
    }
    switch (details.status) {
      case "succeeded":
        return { ...base, status: "succeeded", outputs: details.outputs };
      case "failed":
      case "cancelled":
        return { ...base, status: "failed", error: details.error ?? { name: "Error", message: `run ${row.runId} ${details.status}` } };
      case "waiting":
        return { ...base, status: "waiting" };
      case "pending":
        return { ...base, status: "pending" };
      case "running":
        return { ...base, status: "running" };
    }
  }
}
