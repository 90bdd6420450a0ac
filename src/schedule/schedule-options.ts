/**
 * The options of `schedule()` and their validation at the boundary:
 * {@link buildRecord} checks every option and makes the record a new
 * schedule is stored as; `callbackUrlProblem` is the callback URL rule,
 * checked here and again before each delivery.
 *
 * Invariants: nothing is stored unless every option is valid; a `when`
 * that cannot be read, or in the past for a one-off run, throws
 * `InvalidScheduleError` quoting it; a schedule has a first slot (before
 * the year 10000, as run ids name it with four digits); inputs are
 * durable data; delays are Node timer delays (at most 2^31-1 ms); a
 * callback URL is http(s) without credentials.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import type { Clock } from "../core/clock.js";
import { clockOption } from "./clock-option.js";
import { parseDurationText } from "../core/duration.js";
import { assertKnownKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { InvalidScheduleError } from "./errors.js";
import { assertStore } from "../runner/run-options.js";
import { ACCEPTED_WHEN, assertFuture, parseTimeOption, parseWhen, resolveTimeZone, type WhenInput } from "./parse-when.js";
import { CATCH_UP_POLICIES, firstSlot, isRepeating, type CatchUp } from "./repeat.js";
import type { CallbackRetry, ScheduleRecord } from "./schedule-record.js";
import { assertRunIdPrefix, assertScheduleId } from "./schedule-id.js";
import { assertScheduleStore } from "./schedule-store.js";
import type { ScheduleStoreOption } from "./store-options.js";
import { valueText } from "../core/text.js";
import { isDurable } from "../core/value-codec.js";
import { checkMetadata } from "./schedule-metadata.js";
import { checkScheduleRunOptions, type ScheduleRunOptions } from "./schedule-run-options.js";

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
  /** JSON kept with the schedule and returned by `getSchedule`, `listSchedules`, `history()` rows and the callback body (at most 64 KiB). */
  readonly metadata?: unknown;
  /** Options for each of this schedule's runs (a deadline, an executor by name, limits); they override the scheduler's `runOptions`. */
  readonly runOptions?: ScheduleRunOptions;
}

/** The longest delay a Node timer keeps (ms). */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** The default callback retry policy. */
export const DEFAULT_CALLBACK_RETRY: CallbackRetry = { maxAttempts: 5, initialMs: 1_000, factor: 2, maxMs: 60_000, timeoutMs: 10_000 };

const KNOWN = new Set([
  "when",
  "repeat",
  "catchUp",
  "callbackUrl",
  "callbackSecret",
  "callbackRetry",
  "runIdPrefix",
  "timezone",
  "store",
  "schedules",
  "id",
  "modulePath",
  "exportName",
  "clock",
  "metadata",
  "runOptions",
]);

/** Validates the options and makes the record `schedule` stores. Exported for the command line. */
export function buildRecord(graphName: string, inputs: unknown, options: ScheduleOptions): ScheduleRecord {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("options", "must be an object with at least { when }");
  assertKnownKeys("schedule()", options, KNOWN);
  if (options.when === undefined) throw new InvalidScheduleError("when", "undefined", `is required. ${ACCEPTED_WHEN}`);
  const clock = clockOption(options.clock);
  const now = clock.now();
  const timezone = resolveTimeZone(options.timezone);
  const when = parseWhen(options.when, { now, timezone });
  const repeat = parseRepeat(options.repeat, when.kind === "cron", now, timezone);
  const catchUp = options.catchUp ?? "one";
  if (!(CATCH_UP_POLICIES as readonly string[]).includes(catchUp)) {
    throw new InvalidOptionError(
      "catchUp",
      `must be one of ${CATCH_UP_POLICIES.map((p) => `"${p}"`).join(", ")} (got ${typeof catchUp === "string" ? JSON.stringify(catchUp) : valueText(catchUp)})`,
    );
  }
  const rule = { when, everyMs: repeat.everyMs, until: repeat.until, timezone };
  if (!isRepeating(rule) && when.kind === "at") assertFuture(options.when, when.at, now);
  const nextRunAt = firstSlot({ ...rule, until: undefined }, when.kind === "at" && !isRepeating(rule) ? when.at : now);
  // No slot up to the year 9999 (firstSlot ends a series there): run ids name the slot with four digits. A `when`
  // past the last instant a Date holds ("100000000w") used to slip through here, its year being NaN.
  if (nextRunAt === undefined) {
    throw new InvalidScheduleError(
      "when",
      valueText(options.when),
      "is after the year 9999; run ids name the slot with a four-digit year. Use an earlier time.",
    );
  }
  if (repeat.until !== undefined && nextRunAt > repeat.until) {
    throw new InvalidScheduleError(
      "repeat.until",
      valueText(options.repeat?.until),
      "leaves no slot to run: it is before the first one. Move it later, or drop it.",
    );
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
    if (typeof options.callbackSecret !== "string" || options.callbackSecret.length === 0)
      throw new InvalidOptionError("callbackSecret", "must be a non-empty string");
    if (callbackUrl === undefined) throw new InvalidOptionError("callbackSecret", "is given without a callbackUrl to sign for");
  }
  const callbackRetry = parseCallbackRetry(options.callbackRetry);
  if (options.store !== undefined) assertStore(options.store);
  if (options.schedules !== undefined) assertScheduleStore(options.schedules);
  for (const key of ["modulePath", "exportName"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "string") throw new InvalidOptionError(key, "must be a string");
  }
  const metadata = options.metadata === undefined ? undefined : checkMetadata(options.metadata);
  const runOptions = options.runOptions === undefined ? undefined : checkScheduleRunOptions(options.runOptions);
  if (!isDurable(inputs)) {
    throw new InvalidOptionError("inputs", "cannot be stored (a function, a class instance or a cycle): a schedule keeps its inputs until each run");
  }
  const whenText =
    options.when instanceof Date
      ? options.when.toISOString()
      : typeof options.when === "string"
        ? options.when
        : `cron ${when.kind === "cron" ? when.cron : ""}`;
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
    ...(metadata !== undefined && { metadata }),
    ...(runOptions !== undefined && { runOptions }),
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
    if (isCron)
      throw new InvalidOptionError("repeat.every", "cannot be combined with a cron when, which repeats by its pattern; use repeat: { times, until } with cron");
    everyMs = typeof repeat.every === "number" ? repeat.every : parseDurationText(valueText(repeat.every));
    if (everyMs === undefined || !Number.isFinite(everyMs) || everyMs < 1) {
      throw new InvalidScheduleError(
        "repeat.every",
        valueText(repeat.every),
        'is not a duration. Use "90s", "5m", "1h", "1d", "1w" (or sums such as "1h30m"), or a number of ms of at least 1.',
      );
    }
  } else if (!isCron) {
    throw new InvalidOptionError("repeat.every", 'is required to repeat a one-off when (e.g. repeat: { every: "1h" }); a cron when repeats by itself');
  }
  const times = repeat.times;
  if (times !== undefined && !(Number.isSafeInteger(times) && times >= 1)) {
    throw new InvalidOptionError("repeat.times", `must be a whole number of at least 1 (got ${valueText(times)})`);
  }
  let until: number | undefined;
  if (repeat.until !== undefined) {
    const u = repeat.until;
    until = u instanceof Date ? u.getTime() : typeof u === "number" ? u : undefined;
    if (typeof u === "string") {
      const parsed = parseTimeOption("repeat.until", u, { now, timezone });
      until = parsed.kind === "at" ? parsed.at : undefined;
    }
    if (until === undefined || !Number.isFinite(until)) throw new InvalidScheduleError("repeat.until", valueText(u), `is not a time. ${ACCEPTED_WHEN}`);
  }
  return { everyMs, times, until };
}

function parseCallbackRetry(value: Partial<CallbackRetry> | undefined): CallbackRetry {
  if (value === undefined) return DEFAULT_CALLBACK_RETRY;
  if (value === null || typeof value !== "object") throw new InvalidOptionError("callbackRetry", "must be an object");
  assertKnownKeys("callbackRetry", value, Object.keys(DEFAULT_CALLBACK_RETRY));
  const out = { ...DEFAULT_CALLBACK_RETRY, ...value };
  if (!(Number.isSafeInteger(out.maxAttempts) && out.maxAttempts >= 1))
    throw new InvalidOptionError("callbackRetry.maxAttempts", "must be a whole number of at least 1");
  // Delays are Node timers, which fire at once past 2^31-1 ms.
  for (const key of ["initialMs", "maxMs"] as const) {
    if (!(Number.isFinite(out[key]) && out[key] >= 0 && out[key] <= MAX_DELAY_MS))
      throw new InvalidOptionError(`callbackRetry.${key}`, `must be a number of ms from 0 to ${MAX_DELAY_MS}`);
  }
  if (!(Number.isFinite(out.factor) && out.factor >= 1)) throw new InvalidOptionError("callbackRetry.factor", "must be a number of at least 1");
  if (!(Number.isFinite(out.timeoutMs) && out.timeoutMs >= 1 && out.timeoutMs <= MAX_DELAY_MS)) {
    throw new InvalidOptionError("callbackRetry.timeoutMs", `must be a number of ms from 1 to ${MAX_DELAY_MS}`);
  }
  return out;
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
