/**
 * `when` → the first slot of a schedule. A `when` is one of:
 *
 * - a `Date`, or an ISO timestamp (`2026-11-24T09:00:00Z`; without an
 *   offset it is read on the schedule's time zone's wall clock);
 * - `"now"`;
 * - a delay from now: `90s`, `5m`, `2h`, `1d`, `1w` (or sums: `1h30m`);
 * - an English phrase, parsed by chrono-node against "now" in the
 *   schedule's time zone: `in 5 minutes`, `tomorrow at 9am`,
 *   `next monday at 9:30`, `today at 7:45pm`;
 * - `{ cron: "0 9 * * 1-5" }`: a 5-field (minutes) or 6-field (seconds
 *   first) pattern, evaluated by croner in the time zone, across DST.
 *
 * A phrase must be understood whole: "tomorrow at 9am please" is refused
 * rather than half-read. Errors are {@link InvalidScheduleError}s that
 * quote the input and list these forms.
 *
 * chrono-node and croner are loaded on first use (`core/lazy-module.ts`):
 * importing taskloom does not pay for them.
 *
 * @module
 */
import type { Component } from "chrono-node";
import type { Cron } from "croner";
import { parseDurationText } from "../core/duration.js";
import { lazyModule } from "../core/lazy-module.js";
import { instantOf, isTimeZone, localTimeZone, offsetMinutes, wallTimeOf, type WallTime } from "./zoned-time.js";
import { InvalidScheduleError } from "./errors.js";
import { InvalidOptionError } from "../errors.js";
import { valueText } from "../core/text.js";

const chrono = lazyModule<typeof import("chrono-node")>("chrono-node");
const croner = lazyModule<typeof import("croner")>("croner");

/** What `when` accepts. */
export type WhenInput = Date | string | { readonly cron: string };

/**
 * A parsed `when`: one instant, or a cron pattern in a time zone. An
 * instant read from a wall-clock time that the zone skips that day (02:30
 * on a spring-forward night) keeps that time as `wall`: `at` is where it
 * was placed (moved forward by the gap), and a repeat of whole days fires
 * at the asked time again on the days that have it (`calendar-slots.ts`).
 */
export type WhenSpec =
  { readonly kind: "at"; readonly at: number; readonly wall?: WallTime } | { readonly kind: "cron"; readonly cron: string; readonly timezone: string };

/** An instant read from a `when`, with the wall-clock time asked for when the zone skips it. */
type At = { readonly at: number; readonly wall?: WallTime };

/** The forms `when` accepts, quoted in every error. */
export const ACCEPTED_WHEN =
  'Accepted forms: a Date; an ISO timestamp ("2026-11-24T09:00:00Z"); "now"; a delay ("90s", "5m", "2h", "1d", "1w"); ' +
  'a phrase ("in 5 minutes", "tomorrow at 9am", "next monday at 9:30", "today at 7:45pm"); ' +
  'or { cron: "0 9 * * 1-5" } (5 fields, or 6 with seconds first).';

/** A one-off time this far in the past still counts as "now" (the caller computed it a moment ago). */
export const PAST_TOLERANCE_MS = 1_000;

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/** Throws {@link InvalidScheduleError} unless `timezone` is an IANA zone; returns it (or this process's zone). */
export function resolveTimeZone(timezone: unknown): string {
  if (timezone === undefined) return localTimeZone();
  if (typeof timezone !== "string" || !isTimeZone(timezone)) {
    throw new InvalidScheduleError(
      "timezone",
      valueText(timezone),
      'is not a time zone this runtime knows. Use an IANA name such as "Europe/Paris", "America/New_York" or "UTC".',
    );
  }
  return timezone;
}

/**
 * Parses `when` against `now` (epoch ms; default: the current time) in
 * `timezone` (an IANA name; default: this process's zone).
 *
 * @throws InvalidScheduleError for a `when` it cannot read, or a `timezone` this runtime does not know
 * @throws InvalidOptionError for a `context` that is not an object, or a `now` that is not a finite number
 *
 * @example
 * ```ts
 * parseWhen("tomorrow at 9am", { now: Date.UTC(2026, 10, 23, 10), timezone: "Europe/Paris" });
 * // { kind: "at", at: Date.UTC(2026, 10, 24, 8) }
 * parseWhen("in 5 minutes"); // { kind: "at", at: Date.now() + 300_000 }
 * ```
 */
export function parseWhen(input: unknown, context: { readonly now?: number; readonly timezone?: string } = {}): WhenSpec {
  if (typeof context !== "object" || context === null || Array.isArray(context)) {
    throw new InvalidOptionError("context", `of parseWhen must be an object such as { now, timezone } (got ${valueText(context)})`);
  }
  const { now = Date.now(), timezone } = context;
  if (typeof now !== "number" || !Number.isFinite(now)) {
    throw new InvalidOptionError("now", `of parseWhen must be a finite number of epoch milliseconds (got ${valueText(now)})`);
  }
  return readWhen("when", input, { now, timezone: resolveTimeZone(timezone) });
}

/**
 * Parses another option that takes a time as `when` does (`repeat.until`):
 * its errors name that option, not `when`.
 */
export function parseTimeOption(option: string, input: string, context: { readonly now: number; readonly timezone: string }): WhenSpec {
  return readWhen(option, input, context);
}

function readWhen(option: string, input: unknown, context: { readonly now: number; readonly timezone: string }): WhenSpec {
  const { now, timezone } = context;
  if (input instanceof Date) {
    const at = input.getTime();
    if (Number.isNaN(at)) throw new InvalidScheduleError(option, "Invalid Date", `is not a valid date. ${ACCEPTED_WHEN}`);
    return { kind: "at", at };
  }
  if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    const keys = Object.keys(input);
    const cron = (input as { cron?: unknown }).cron;
    if (keys.length !== 1 || typeof cron !== "string") {
      throw new InvalidScheduleError(option, safeText(input), `is not a cron object: pass exactly { cron: "<pattern>" }. ${ACCEPTED_WHEN}`);
    }
    return parseCron(cron, timezone, now);
  }
  if (typeof input !== "string") {
    throw new InvalidScheduleError(option, safeText(input), `is a ${input === null ? "null" : typeof input}, not a time. ${ACCEPTED_WHEN}`);
  }
  const text = input.trim();
  if (text.length === 0) throw new InvalidScheduleError(option, input, `is empty. ${ACCEPTED_WHEN}`);
  if (text.toLowerCase() === "now") return { kind: "at", at: now };
  const delay = parseDurationText(text);
  if (delay !== undefined) return { kind: "at", at: now + delay };
  return { kind: "at", ...(/^\d{4}-\d{2}-\d{2}/.test(text) ? parseIso(option, input, text, timezone) : parsePhrase(option, input, text, now, timezone)) };
}

/** Throws unless a one-off `at` lies in the future (within {@link PAST_TOLERANCE_MS}). */
export function assertFuture(input: unknown, at: number, now: number): void {
  if (at >= now - PAST_TOLERANCE_MS) return;
  throw new InvalidScheduleError(
    "when",
    input instanceof Date ? input.toISOString() : safeText(input),
    `is in the past (${new Date(at).toISOString()}, now is ${new Date(now).toISOString()}). ` +
      `A one-off run needs a future time: use "now", a delay such as "5m", or a later date.`,
  );
}

/** The first instant strictly after `after` that the cron pattern matches, or undefined when there is none. */
export function nextCronSlot(cron: string, timezone: string, after: number): number | undefined {
  const next = cronOf(cron, timezone).nextRun(new Date(after));
  return next ? next.getTime() : undefined;
}

/**
 * Why a stored cron pattern cannot make slots (croner refuses it, or its
 * zone is unknown), or undefined when it can: the check of a schedule read
 * back from a store (`schedule-shape.ts`).
 */
export function cronPatternProblem(pattern: string, timezone: string): string | undefined {
  try {
    cronOf(pattern, timezone).nextRun(new Date(0));
    return undefined;
  } catch (err) {
    return `is not a cron pattern croner reads (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** The most patterns whose croner objects are kept. */
const CRON_CACHE_SIZE = 256;
const crons = new Map<string, Cron>();

/**
 * The croner object of a pattern in a zone, parsed once and kept: catch-up
 * asks one pattern for dozens of slots (`cron-slots.ts`), and a croner
 * object holds no state between `nextRun` calls.
 */
function cronOf(pattern: string, timezone: string): Cron {
  const key = `${timezone}\u0000${pattern}`;
  let cron = crons.get(key);
  if (cron === undefined) {
    // No callback: croner only computes, it starts no timer.
    cron = new (croner().Cron)(pattern, { timezone, mode: "5-or-6-parts" });
    if (crons.size >= CRON_CACHE_SIZE) crons.delete(crons.keys().next().value ?? key);
    crons.set(key, cron);
  }
  return cron;
}

function parseCron(pattern: string, timezone: string, now: number): WhenSpec {
  const fields = pattern.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5 && fields.length !== 6) {
    throw new InvalidScheduleError(
      "when.cron",
      pattern,
      `has ${fields.length} field${fields.length === 1 ? "" : "s"}; a cron pattern has 5 (minute hour day-of-month month day-of-week, ` +
        `e.g. "0 9 * * 1-5") or 6 (seconds first, e.g. "30 0 9 * * 1-5"). ${ACCEPTED_WHEN}`,
    );
  }
  const normalized = fields.join(" ");
  let next: number | undefined;
  try {
    next = nextCronSlot(normalized, timezone, now);
  } catch (err) {
    throw new InvalidScheduleError(
      "when.cron",
      pattern,
      `is not a valid cron pattern (${err instanceof Error ? err.message : String(err)}). Fields: minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5".`,
      { cause: err },
    );
  }
  if (next === undefined) {
    throw new InvalidScheduleError("when.cron", pattern, "never matches a future time. Check the day and month fields (e.g. 31 in a 30-day month).");
  }
  return { kind: "cron", cron: normalized, timezone };
}

/** The instant of a wall-clock time in `timezone`, with the wall time kept when the zone skips it (see {@link WhenSpec}). */
function placed(wall: WallTime, timezone: string): At {
  const at = instantOf(wall, timezone);
  const shown = wallTimeOf(at, timezone);
  const same = (["year", "month", "day", "hour", "minute", "second", "millisecond"] as const).every((k) => shown[k] === wall[k]);
  return same ? { at } : { at, wall };
}

function parseIso(option: string, input: string, text: string, timezone: string): At {
  const m = ISO.exec(text);
  const bad = (): never => {
    throw new InvalidScheduleError(
      option,
      input,
      `is not a valid ISO timestamp (e.g. "2026-11-24T09:00:00Z", or "2026-11-24T09:00" on the schedule's time zone). ${ACCEPTED_WHEN}`,
    );
  };
  if (!m) return bad();
  const [, y, mo, d, h, mi, s, ms, zone] = m;
  const wall = {
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h ?? 0),
    minute: Number(mi ?? 0),
    second: Number(s ?? 0),
    millisecond: Number((ms ?? "0").padEnd(3, "0")),
  };
  // Reject fields out of range (Date.UTC would roll 2026-02-30 over to March).
  const probe = new Date(Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second));
  if (
    probe.getUTCFullYear() !== wall.year ||
    probe.getUTCMonth() !== wall.month - 1 ||
    probe.getUTCDate() !== wall.day ||
    probe.getUTCHours() !== wall.hour ||
    probe.getUTCMinutes() !== wall.minute ||
    probe.getUTCSeconds() !== wall.second
  ) {
    return bad();
  }
  if (zone === undefined) return placed(wall, timezone);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second, wall.millisecond);
  if (zone.toUpperCase() === "Z") return { at: asUtc };
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2));
  // An offset is at most 23:59 (real ones at most 14:00); "+99:99" is a typo, not four days off.
  if (hours > 23 || minutes > 59) return bad();
  return { at: asUtc - sign * (hours * 60 + minutes) * 60_000 };
}

function parsePhrase(option: string, input: string, text: string, now: number, timezone: string): At {
  const results = chrono().parse(text, { instant: new Date(now), timezone: offsetMinutes(now, timezone) }, { forwardDate: true });
  const first = results[0];
  if (results.length !== 1 || !first || first.index !== 0 || first.text.length !== text.length || first.end != null) {
    const understood = first ? ` (only ${JSON.stringify(first.text)} was understood)` : "";
    throw new InvalidScheduleError(option, input, `cannot be read as a time${understood}. ${ACCEPTED_WHEN}`);
  }
  const start = first.start;
  // A phrase relative to now ("in 5 minutes") or with its own zone ("9am CET") is an exact instant.
  if (start.isCertain("timezoneOffset")) return { at: start.date().getTime() };
  const field = (name: Component): number => start.get(name) ?? 0;
  return placed(
    {
      year: field("year"),
      month: field("month"),
      day: field("day"),
      hour: field("hour"),
      minute: field("minute"),
      second: field("second"),
      millisecond: field("millisecond"),
    },
    timezone,
  );
}

function safeText(value: unknown): string {
  try {
    return typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return valueText(value);
  }
}
