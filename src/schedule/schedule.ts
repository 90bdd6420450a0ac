/**
 * The public face of schedules: `schedule()` validates everything at the
 * boundary and stores a new schedule; `getSchedule`, `listSchedules` and
 * `removeSchedule` read and manage stored ones; a {@link ScheduledJob} is
 * the handle over one. A schedule is data in the schedule store: it fires
 * only while a {@link Scheduler} runs on the same store, in this process
 * or another.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { systemClock, type Clock } from "../core/clock.js";
import { parseDurationText } from "../core/duration.js";
import { assertKnownKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { RunNotFoundError } from "../runner/errors.js";
import { InvalidScheduleError, ScheduleNotFoundError, ScheduleStateError } from "./errors.js";
import { isDurable } from "../core/value-codec.js";
import type { RunStore } from "../persistence/run-store.js";
import { defaultStore } from "../runner/default-store.js";
import { getRun } from "../runner/manage-runs.js";
import { assertStore } from "../runner/run-options.js";
import type { ErrorRecord } from "../state/records.js";
import { ACCEPTED_WHEN, assertFuture, parseWhen, resolveTimeZone, type WhenInput } from "./parse-when.js";
import { CATCH_UP_POLICIES, firstSlot, isRepeating, type CatchUp } from "./repeat.js";
import {
  SCHEDULE_STATUSES,
  openRun,
  type CallbackRetry,
  type HistoryRow,
  type ScheduleRecord,
  type ScheduleStatus,
} from "./schedule-record.js";
import { assertRunIdPrefix, assertScheduleId } from "./schedule-id.js";
import { assertScheduleStore, scheduleStoreFor, type ScheduleProblem, type ScheduleStore } from "./schedule-store.js";
import { valueText } from "../core/text.js";

/** How a schedule repeats. */
export interface RepeatOptions {
  /**
   * The fixed rate: a duration (`"1h"`, `"90s"`, `"1d"`) or ms. Slot k is
   * the first slot plus k times this, however late a run was. Not with a
   * cron `when`, which repeats by its pattern.
   */
  readonly every?: string | number;
  /** At most this many runs. @default no limit */
  readonly times?: number;
  /** No slot after this time. @default no end */
  readonly until?: Date | string | number;
}

/** Where schedules (and their runs) are kept. */
export interface ScheduleStoreOption {
  /** The run store; schedules are kept next to it. @default the default `LowdbStore` */
  readonly store?: RunStore;
  /** Where schedules are kept, when not next to `store`. @default `scheduleStoreFor(store)` */
  readonly schedules?: ScheduleStore;
}

/**
 * Options of {@link schedule}.
 *
 * @example
 * ```ts
 * await schedule(digest, { city: "Lyon" }, { when: "tomorrow at 9am", timezone: "Europe/Paris", callbackUrl: "https://example.com/hook", callbackSecret: "s3cret" });
 * ```
 */
export interface ScheduleOptions extends ScheduleStoreOption {
  /** When the (first) run is due: a Date, an ISO timestamp, "now", a delay ("5m"), a phrase ("tomorrow at 9am"), or `{ cron }`. */
  readonly when: WhenInput;
  /** Repeat at a fixed rate, or bound a cron schedule with `times` / `until`. */
  readonly repeat?: RepeatOptions;
  /** What a scheduler does with slots that came due while none ran. @default "one" */
  readonly catchUp?: CatchUp;
  /** POSTed the result of every run: an http or https URL without credentials (`user:pass@` is refused). */
  readonly callbackUrl?: string;
  /** Signs each callback (HMAC-SHA256 of a timestamp and the body, header `X-Taskloom-Signature: t=…,v1=…`). Stored with the schedule (file mode 0600). */
  readonly callbackSecret?: string;
  /** How callbacks are retried. @default `{ maxAttempts: 5, initialMs: 1_000, factor: 2, maxMs: 60_000, timeoutMs: 10_000 }` */
  readonly callbackRetry?: Partial<CallbackRetry>;
  /** Run ids are `<runIdPrefix>-<slot>`; at most 179 characters. @default the schedule id */
  readonly runIdPrefix?: string;
  /** The IANA time zone phrases, wall-clock timestamps and cron patterns are read in. @default this process's */
  readonly timezone?: string;
  /** The schedule's id: 1 to 179 characters from `A-Z a-z 0-9 . _ - : @`. @default `sch-<random>` */
  readonly id?: string;
  /** The graph's module, recorded for the command line. */
  readonly modulePath?: string;
  /** The module's export that holds the graph, recorded for the command line. */
  readonly exportName?: string;
  /** The clock "now" is read from. @default the system clock */
  readonly clock?: Clock;
}

/** What a scheduled run came to, for polling. */
export interface ScheduledResult {
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

/** The longest delay a Node timer keeps (ms). */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** The default callback retry policy. */
export const DEFAULT_CALLBACK_RETRY: CallbackRetry = { maxAttempts: 5, initialMs: 1_000, factor: 2, maxMs: 60_000, timeoutMs: 10_000 };

const KNOWN = new Set([
  "when", "repeat", "catchUp", "callbackUrl", "callbackSecret", "callbackRetry", "runIdPrefix", "timezone", "store", "schedules",
  "id", "modulePath", "exportName", "clock",
]);

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

/** Validates the options and makes the record `schedule` stores. Exported for the command line. */
export function buildRecord(graphName: string, inputs: unknown, options: ScheduleOptions): ScheduleRecord {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("options", "must be an object with at least { when }");
  assertKnownKeys("schedule()", options, KNOWN);
  if (options.when === undefined) throw new InvalidScheduleError("when", "undefined", `is required. ${ACCEPTED_WHEN}`);
  const clock = options.clock ?? systemClock;
  const now = clock.now();
  const timezone = resolveTimeZone(options.timezone);
  const when = parseWhen(options.when, { now, timezone });
  const repeat = parseRepeat(options.repeat, when.kind === "cron", now, timezone);
  const catchUp = options.catchUp ?? "one";
  if (!(CATCH_UP_POLICIES as readonly string[]).includes(catchUp)) {
    throw new InvalidOptionError("catchUp", `must be one of ${CATCH_UP_POLICIES.map((p) => `"${p}"`).join(", ")} (got ${JSON.stringify(catchUp)})`);
  }
  const rule = { when, everyMs: repeat.everyMs, until: repeat.until };
  if (!isRepeating(rule) && when.kind === "at") assertFuture(options.when, when.at, now);
  const nextRunAt = firstSlot(rule, when.kind === "at" && !isRepeating(rule) ? when.at : now);
  if (nextRunAt === undefined) {
    throw new InvalidScheduleError("repeat.until", String(options.repeat?.until), "leaves no slot to run: it is before the first one. Move it later, or drop it.");
  }
  if (new Date(nextRunAt).getUTCFullYear() > 9999) {
    throw new InvalidScheduleError("when", valueText(options.when), "is after the year 9999; run ids name the slot with a four-digit year. Use an earlier time.");
  }
  const id = options.id ?? `sch-${randomUUID().replace(/-/g, "").slice(0, 12)}`;
  assertScheduleId(id, true);
  if (options.runIdPrefix !== undefined) assertRunIdPrefix(options.runIdPrefix);
  const callbackUrl = options.callbackUrl;
  if (callbackUrl !== undefined) {
    const refused = callbackUrlProblem(callbackUrl);
    if (refused !== undefined) throw new InvalidOptionError("callbackUrl", refused);
  }
  if (options.callbackSecret !== undefined) {
    if (typeof options.callbackSecret !== "string" || options.callbackSecret.length === 0) throw new InvalidOptionError("callbackSecret", "must be a non-empty string");
    if (callbackUrl === undefined) throw new InvalidOptionError("callbackSecret", "is given without a callbackUrl to sign for");
  }
  const callbackRetry = parseCallbackRetry(options.callbackRetry);
  if (options.store !== undefined) assertStore(options.store);
  if (options.schedules !== undefined) assertScheduleStore(options.schedules);
  for (const key of ["modulePath", "exportName"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "string") throw new InvalidOptionError(key, "must be a string");
  }
  if (!isDurable(inputs)) {
    throw new InvalidOptionError("inputs", "cannot be stored (a function, a class instance or a cycle): a schedule keeps its inputs until each run");
  }
  const whenText = options.when instanceof Date ? options.when.toISOString() : typeof options.when === "string" ? options.when : `cron ${when.kind === "cron" ? when.cron : ""}`;
  return {
    version: 1,
    id,
    graphName,
    ...(options.modulePath !== undefined && { modulePath: options.modulePath }),
    ...(options.exportName !== undefined && { exportName: options.exportName }),
    inputs,
    when,
    whenText,
    ...(repeat.everyMs !== undefined && { everyMs: repeat.everyMs }),
    ...(repeat.times !== undefined && { times: repeat.times }),
    ...(repeat.until !== undefined && { until: repeat.until }),
    catchUp,
    timezone,
    ...(callbackUrl !== undefined && { callbackUrl }),
    ...(options.callbackSecret !== undefined && { callbackSecret: options.callbackSecret }),
    callbackRetry,
    ...(options.runIdPrefix !== undefined && { runIdPrefix: options.runIdPrefix }),
    status: "active",
    createdAt: now,
    updatedAt: now,
    nextRunAt,
    fired: 0,
    history: [],
  };
}

function parseRepeat(
  repeat: RepeatOptions | undefined,
  isCron: boolean,
  now: number,
  timezone: string,
): { everyMs: number | undefined; times: number | undefined; until: number | undefined } {
  if (repeat === undefined) return { everyMs: undefined, times: undefined, until: undefined };
  if (repeat === null || typeof repeat !== "object") throw new InvalidOptionError("repeat", 'must be an object such as { every: "1h", times: 3 }');
  assertKnownKeys("repeat", repeat, ["every", "times", "until"]);
  let everyMs: number | undefined;
  if (repeat.every !== undefined) {
    if (isCron) throw new InvalidOptionError("repeat.every", "cannot be combined with a cron when, which repeats by its pattern; use repeat: { times, until } with cron");
    everyMs = typeof repeat.every === "number" ? repeat.every : parseDurationText(String(repeat.every));
    if (everyMs === undefined || !Number.isFinite(everyMs) || everyMs < 1) {
      throw new InvalidScheduleError("repeat.every", String(repeat.every), 'is not a duration. Use "90s", "5m", "1h", "1d", "1w" (or sums such as "1h30m"), or a number of ms of at least 1.');
    }
  } else if (!isCron) {
    throw new InvalidOptionError("repeat.every", 'is required to repeat a one-off when (e.g. repeat: { every: "1h" }); a cron when repeats by itself');
  }
  const times = repeat.times;
  if (times !== undefined && !(Number.isSafeInteger(times) && times >= 1)) {
    throw new InvalidOptionError("repeat.times", `must be a whole number of at least 1 (got ${String(times)})`);
  }
  let until: number | undefined;
  if (repeat.until !== undefined) {
    const u = repeat.until;
    until = u instanceof Date ? u.getTime() : typeof u === "number" ? u : undefined;
    if (typeof u === "string") {
      const parsed = parseWhen(u, { now, timezone });
      until = parsed.kind === "at" ? parsed.at : undefined;
    }
    if (until === undefined || !Number.isFinite(until)) throw new InvalidScheduleError("repeat.until", String(u), `is not a time. ${ACCEPTED_WHEN}`);
  }
  return { everyMs, times, until };
}

function parseCallbackRetry(value: Partial<CallbackRetry> | undefined): CallbackRetry {
  if (value === undefined) return DEFAULT_CALLBACK_RETRY;
  if (value === null || typeof value !== "object") throw new InvalidOptionError("callbackRetry", "must be an object");
  assertKnownKeys("callbackRetry", value, Object.keys(DEFAULT_CALLBACK_RETRY));
  const out = { ...DEFAULT_CALLBACK_RETRY, ...value };
  if (!(Number.isSafeInteger(out.maxAttempts) && out.maxAttempts >= 1)) throw new InvalidOptionError("callbackRetry.maxAttempts", "must be a whole number of at least 1");
  // Delays are Node timers, which fire at once past 2^31-1 ms.
  for (const key of ["initialMs", "maxMs"] as const) {
    if (!(Number.isFinite(out[key]) && out[key] >= 0 && out[key] <= MAX_DELAY_MS)) throw new InvalidOptionError(`callbackRetry.${key}`, `must be a number of ms from 0 to ${MAX_DELAY_MS}`);
  }
  if (!(Number.isFinite(out.factor) && out.factor >= 1)) throw new InvalidOptionError("callbackRetry.factor", "must be a number of at least 1");
  if (!(Number.isFinite(out.timeoutMs) && out.timeoutMs >= 1 && out.timeoutMs <= MAX_DELAY_MS)) {
    throw new InvalidOptionError("callbackRetry.timeoutMs", `must be a number of ms from 1 to ${MAX_DELAY_MS}`);
  }
  return out;
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

/** The two stores an operation uses. */
export interface ResolvedStores {
  readonly runs: RunStore;
  readonly schedules: ScheduleStore;
}

/**
 * Why `url` cannot be a callback URL, or undefined when it can: it must be
 * an absolute http or https URL without credentials (a password would be
 * kept in the schedule and in every history row). Checked at `schedule()`
 * and again before each delivery (the stored file may have been edited).
 */
export function callbackUrlProblem(url: unknown): string | undefined {
  if (typeof url !== "string") return "must be a string";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `must be an absolute http(s) URL (got ${JSON.stringify(url.slice(0, 200))})`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return `must be an http or https URL (got a ${JSON.stringify(parsed.protocol)} URL)`;
  if (parsed.username !== "" || parsed.password !== "") {
    return "must not hold credentials (user:password@): they would be stored with the schedule and in its history. Sign callbacks with callbackSecret instead, or put a token in a header your receiver checks";
  }
  return undefined;
}

const STORE_KEYS = ["store", "schedules"];

/** The run store and schedule store `options` name. */
export function storesOf(options: ScheduleStoreOption = {}): ResolvedStores {
  if (options.store !== undefined) assertStore(options.store);
  if (options.schedules !== undefined) assertScheduleStore(options.schedules);
  const runs = options.store ?? defaultStore();
  return { runs, schedules: options.schedules ?? scheduleStoreFor(runs) };
}

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
  async history(options: { readonly limit?: number } = {}): Promise<HistoryRow[]> {
    assertOptionsObject("history", options, ["limit"]);
    const limit = options.limit;
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1)) throw new InvalidOptionError("limit", "must be a whole number of at least 1");
    await this.refresh();
    const rows = [...this.#record.history].reverse();
    return limit === undefined ? rows : rows.slice(0, limit);
  }

  /** The latest fired slot's run: pending (claimed, not started), running, waiting, succeeded or failed, with outputs or error. */
  async lastResult(): Promise<ScheduledResult | undefined> {
    await this.refresh();
    const open = openRun(this.#record);
    const row = open ?? [...this.#record.history].reverse().find((r) => r.kind === "run");
    if (!row || row.kind !== "run") return undefined;
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
  const wanted = options.status === undefined ? undefined : typeof options.status === "string" ? [options.status] : options.status;
  for (const s of wanted ?? []) {
    if (!(SCHEDULE_STATUSES as readonly string[]).includes(s)) throw new InvalidOptionError("status", `must be one of ${SCHEDULE_STATUSES.join(", ")} (got ${JSON.stringify(s)})`);
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

function assertOptionsObject(what: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("options", `of ${what} must be an object`);
  assertKnownKeys(what, options, known);
}
