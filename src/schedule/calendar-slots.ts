/**
 * Calendar repeats: a schedule whose fixed rate is a whole number of days
 * (`"1d"`, `"7d"`, `"1w"`, `"48h"`) fires at the same wall-clock time in
 * its time zone each time, not every 86,400,000 ms. Across a daylight
 * saving change a daily 09:00 schedule stays at 09:00 local (the UTC
 * instant moves by the change), where a pure fixed rate would drift to
 * 10:00 or 08:00.
 *
 * Slot k is the anchor's wall-clock time (the first slot's, in the
 * schedule's zone) on the anchor's date plus `k * days` days, placed in
 * the zone by {@link firstInstantAtOrAfter}: a wall time that does not
 * exist that day fires at the first instant after the gap, one that exists
 * twice fires once, at its first occurrence. Every other fixed rate
 * (`"1h"`, `"90m"`, `"36h"`) stays a fixed rate in absolute time.
 *
 * The anchor's wall time is the one asked for. Read back from the first
 * instant it is the same, except when the asked time did not exist on the
 * first day (`when: "2026-03-29T02:30"` in Paris): the instant then shows
 * 03:30, and every later day fired at 03:30 instead of 02:30. Such a
 * `when` keeps the asked time (`WhenSpec.wall`); slot 0 is then the first
 * instant after that day's gap (03:00), as a daily cron pattern fires.
 *
 * Invariants: slots are strictly increasing in k; slot 0 is the anchor;
 * slot k is within a few hours of `anchor + k * days * 86_400_000` (the
 * zone's offset change), so the index of a slot near an instant is found
 * by rounding and a step either way.
 *
 * @module
 */
import { firstInstantAtOrAfter, wallTimeOf, type WallTime } from "./zoned-time.js";

const DAY_MS = 86_400_000;

/** The rule of a calendar repeat. */
export interface CalendarRepeat {
  /** The first slot (epoch ms). */
  readonly anchor: number;
  /** Whole days between slots. */
  readonly days: number;
  /** The IANA zone whose wall clock the slots keep. */
  readonly timezone: string;
  /** The wall-clock date and time of slot 0, as asked. */
  readonly wall: WallTime;
}

/**
 * The calendar repeat of a fixed rate, or undefined when the rate is not
 * a whole number of days (it then stays a fixed rate).
 *
 * @example
 * ```ts
 * calendarRepeat(at, 86_400_000, "Europe/Paris"); // { anchor: at, days: 1, timezone: "Europe/Paris", wall: (at's wall time in Paris) }
 * calendarRepeat(at, 3_600_000, "Europe/Paris"); // undefined
 * ```
 */
export function calendarRepeat(at: number, everyMs: number, timezone: string | undefined, asked?: WallTime): CalendarRepeat | undefined {
  if (timezone === undefined || everyMs < DAY_MS || everyMs % DAY_MS !== 0) return undefined;
  const days = everyMs / DAY_MS;
  if (asked === undefined) return { anchor: at, days, timezone, wall: wallTimeOf(at, timezone) };
  return { anchor: firstInstantAtOrAfter(asked, timezone), days, timezone, wall: asked };
}

/** A day past every slot: `repeat.ts` ends a series with the year 9999, as run ids name a slot with four digits. */
const PAST_LAST_DAY = Date.UTC(10000, 0, 2);

/** Slot `k` of the repeat (k ≥ 0); `Infinity` when its day is past the year 9999 (or past the days a Date holds). */
export function calendarSlot(repeat: CalendarRepeat, k: number): number {
  if (k === 0) return repeat.anchor;
  const wall = repeat.wall;
  const date = new Date(Date.UTC(wall.year, wall.month - 1, wall.day + k * repeat.days));
  if (!(date.getTime() < PAST_LAST_DAY)) return Number.POSITIVE_INFINITY;
  return firstInstantAtOrAfter({ ...wall, year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() }, repeat.timezone);
}

/** The index of the last slot at or before `t` (-1 when `t` is before the anchor). */
export function calendarIndexAtOrBefore(repeat: CalendarRepeat, t: number): number {
  if (t < repeat.anchor) return -1;
  const period = repeat.days * DAY_MS;
  let k = Math.max(0, Math.floor((t - repeat.anchor) / period));
  while (k > 0 && calendarSlot(repeat, k) > t) k -= 1;
  while (calendarSlot(repeat, k + 1) <= t) k += 1;
  return k;
}
