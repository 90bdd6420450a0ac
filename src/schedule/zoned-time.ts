/**
 * Wall-clock time in an IANA time zone, with nothing but `Intl`: the
 * offset of a zone at an instant, and the instant of a wall-clock time in
 * a zone. chrono-node understands only fixed offsets and abbreviations,
 * so a phrase such as "tomorrow at 9am" is parsed into wall-clock fields
 * and placed in the zone here, where daylight saving time is known.
 *
 * Wall-clock times that do not exist (skipped by a spring-forward change)
 * move forward by the length of the gap; times that occur twice (fall
 * back) take the earlier occurrence. These are the rules of Temporal's
 * "compatible" disambiguation, and of most calendars.
 *
 * @module
 */

/**
 * Year, month (1-12), day, hour, minute, second and millisecond on a wall
 * clock: in a {@link WhenSpec}, the local time a `when` asked for that its
 * zone skips that day.
 *
 * @example
 * ```ts
 * const asked: WallTime = { year: 2026, month: 3, day: 29, hour: 2, minute: 30, second: 0, millisecond: 0 };
 * ```
 */
export interface WallTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millisecond: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone name this runtime knows (or "UTC"). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The time zone of this process (`TZ`, else the system's). */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The wall-clock fields of `instant` in `timeZone`. */
export function wallTimeOf(instant: number, timeZone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(instant))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
    millisecond: ((instant % 1000) + 1000) % 1000,
  };
}

/** The zone's offset from UTC at `instant`, in minutes (Paris in winter: 60). */
export function offsetMinutes(instant: number, timeZone: string): number {
  const w = wallTimeOf(instant, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.millisecond);
  return Math.round((asUtc - instant) / 60_000);
}

/**
 * How far from a wall time (read as UTC) the zone's offsets are probed:
 * the instant showing it is up to 14 hours before (UTC+14) or 12 after
 * (UTC-12), and a probe must fall beyond it on each side to see the
 * offset before and after a transition there. 12 hours was too close for
 * zones ahead of UTC+12: at Pacific/Chatham's autumn change (03:45 +13:45
 * to 02:45 +12:45) both probes saw +12:45 and 02:00 that day was placed
 * at 03:00. Real zones change offset months apart, so one transition at
 * most lies within this window.
 */
const PROBE_MS = 36 * 3_600_000;

/** The instant at which the wall clock in `timeZone` shows `wall` (see the module notes for gaps and overlaps). */
export function instantOf(wall: WallTime, timeZone: string): number {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second, wall.millisecond);
  // The offsets well before and after cover both sides of any transition near the instant.
  const before = offsetMinutes(asUtc - PROBE_MS, timeZone);
  const after = offsetMinutes(asUtc + PROBE_MS, timeZone);
  const candidates = [...new Set([before, after])]
    .map((off) => asUtc - off * 60_000)
    .filter((t) => offsetMinutes(t, timeZone) * 60_000 === asUtc - t)
    .sort((a, b) => a - b);
  const earliest = candidates[0];
  if (earliest !== undefined) return earliest;
  // A gap: the wall time does not exist; read it with the offset before the change, which lands after the gap.
  return asUtc - before * 60_000;
}

/**
 * The instant at which the wall clock in `timeZone` shows `wall`, or, when
 * that wall time does not exist (a spring-forward gap), the first instant
 * after the gap: 02:30 on the night Paris moves from 02:00 to 03:00 is
 * 03:00 local. A wall time that occurs twice is its first occurrence.
 * These are croner's rules for fixed-time cron jobs, so a daily schedule
 * and a daily cron pattern fire at the same instants.
 *
 * @example
 * ```ts
 * firstInstantAtOrAfter({ year: 2026, month: 3, day: 29, hour: 2, minute: 30, second: 0, millisecond: 0 }, "Europe/Paris");
 * // Date.UTC(2026, 2, 29, 1, 0): 03:00 CEST
 * ```
 */
export function firstInstantAtOrAfter(wall: WallTime, timeZone: string): number {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second, wall.millisecond);
  const before = offsetMinutes(asUtc - PROBE_MS, timeZone);
  const after = offsetMinutes(asUtc + PROBE_MS, timeZone);
  const exact = [...new Set([before, after])]
    .map((off) => asUtc - off * 60_000)
    .filter((t) => offsetMinutes(t, timeZone) * 60_000 === asUtc - t)
    .sort((a, b) => a - b)[0];
  if (exact !== undefined) return exact;
  // A gap: the wall clock jumps over `wall`. Search the instant it jumps, between a time before the gap and one after it.
  let lo = asUtc - Math.max(before, after) * 60_000; // shows a wall time before `wall`
  let hi = asUtc - Math.min(before, after) * 60_000; // shows a wall time after `wall`
  const shows = (t: number): number => t + offsetMinutes(t, timeZone) * 60_000;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (shows(mid) >= asUtc) hi = mid;
    else lo = mid;
  }
  return hi;
}
