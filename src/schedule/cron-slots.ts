/**
 * The due slots of a cron schedule after a downtime, without visiting
 * each one: the latest due slot, the one before it, and how many are due.
 *
 * Why. The catch-up decision runs inside the schedule store's atomic
 * update, and croner takes about 0.1 ms per `nextRun` in a time zone. A
 * walk from slot to slot cost a minute-by-minute schedule down for a year
 * 525,600 calls (about a minute and a half with the event loop blocked
 * and the store's lock held, past the 5 s after which a file lock counts
 * as abandoned), and a second-by-second one hours.
 *
 * How. The latest slot at or before a limit is found by galloping back
 * from the limit and then bisecting (`nextRun` is monotone): about 2·log2
 * of the gap in calls. The count uses the shape of a cron pattern: its
 * matches are the selected days × hours × minutes × seconds, so every
 * selected wall-clock day (hour, minute) whose UTC offset does not change
 * within it holds the same number of slots. Counting walks from match to
 * match at the coarsest unit (a jump skips the unselected stretches), adds
 * that constant for each whole regular unit, and counts a partial unit or
 * one with an offset change (a DST day) one unit finer, down to single
 * slots within a minute. The constants are counted once per call, from the
 * first whole regular unit met. Cost: about one `nextRun` per selected
 * day, plus a few hundred for the ends of the range and the DST days.
 *
 * Invariant: the results equal those of a walk with `nextRun` (the
 * property test in `test/schedule-cron-catch-up.test.ts` checks it across
 * zones with 30- and 45-minute offsets and DST changes).
 *
 * @module
 */
import { nextCronSlot } from "./parse-when.js";
import { offsetMinutes, wallTimeOf } from "./zoned-time.js";

/** The wall-clock units counted by their shape, coarsest first; below a minute, slots are counted one by one. */
const UNIT_MS = [86_400_000, 3_600_000, 60_000] as const;

/** The due slots of a cron schedule: see {@link cronDue}. */
export interface CronDue {
  /** The latest due slot. */
  readonly latest: number;
  /** The due slot before it, if any. */
  readonly before: number | undefined;
  /** How many slots are due, `from` included. */
  readonly count: number;
}

/**
 * The due slots from `from` (itself due, a slot of the pattern or not)
 * to `limit`: `from` and every match of the pattern in `(from, limit]`.
 *
 * @example
 * ```ts
 * // every minute, down for a day: 1,441 slots due, decided in about a hundred nextRun calls
 * cronDue("* * * * *", "UTC", Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 2));
 * // { latest: Date.UTC(2026, 0, 2), before: Date.UTC(2026, 0, 1, 23, 59), count: 1441 }
 * ```
 */
export function cronDue(cron: string, timezone: string, from: number, limit: number): CronDue {
  const next = (after: number): number | undefined => nextCronSlot(cron, timezone, after);
  const first = next(from);
  if (first === undefined || first > limit) return { latest: from, before: undefined, count: 1 };
  const latest = lastAtOrBefore(next, first, limit);
  const before = latest === first ? from : lastAtOrBefore(next, first, latest - 1);
  return { latest, before, count: 1 + countMatches(next, timezone, first, latest) };
}

/** The last match in `[lo, limit]`, where `lo` is a match. */
function lastAtOrBefore(next: (after: number) => number | undefined, lo: number, limit: number): number {
  const hasMatchFrom = (x: number): boolean => {
    const m = next(x - 1);
    return m !== undefined && m <= limit;
  };
  // Gallop back from the limit to a point with a match at or after it.
  let width = 1_000;
  let yes = lo;
  while (limit - width > lo) {
    if (hasMatchFrom(limit - width)) {
      yes = limit - width;
      break;
    }
    width *= 2;
  }
  // Bisect: a match lies at or after `yes`, none after `no`.
  let no = limit + 1;
  while (no - yes > 1) {
    const mid = yes + Math.floor((no - yes) / 2);
    if (hasMatchFrom(mid)) yes = mid;
    else no = mid;
  }
  return next(yes - 1) ?? lo;
}

/** How many matches lie in `[lo, hi]`. */
function countMatches(next: (after: number) => number | undefined, timezone: string, lo: number, hi: number): number {
  /** The slots in one whole regular selected unit of each level, once known. */
  const per: (number | undefined)[] = UNIT_MS.map(() => undefined);

  /** The start of the wall-clock unit of `level` that `t` shows, read with `t`'s offset. */
  const unitStart = (t: number, level: number): number => {
    const w = wallTimeOf(t, timezone);
    const intoMinute = w.second * 1_000 + w.millisecond;
    const into = level === 0 ? (w.hour * 60 + w.minute) * 60_000 + intoMinute : level === 1 ? w.minute * 60_000 + intoMinute : intoMinute;
    return t - into;
  };
  const regular = (start: number, end: number, t: number): boolean => {
    const offset = offsetMinutes(start, timezone);
    return offsetMinutes(end - 1, timezone) === offset && offsetMinutes(t, timezone) === offset;
  };

  /** Matches in `[from, to)`, by units of `level`. */
  const count = (from: number, to: number, level: number): number => {
    let total = 0;
    let t = from;
    for (;;) {
      const m = next(t - 1);
      if (m === undefined || m >= to) return total;
      const size = UNIT_MS[level];
      if (size === undefined) {
        total += 1;
        t = m + 1;
        continue;
      }
      const start = unitStart(m, level);
      const end = start + size;
      if (start >= t && end <= to && regular(start, end, m)) {
        const known = per[level] ?? count(start, end, level + 1);
        per[level] = known;
        total += known;
      } else {
        total += count(Math.max(start, t), Math.min(end, to), level + 1);
      }
      t = Math.min(end, to);
    }
  };

  return count(lo, hi + 1, 0);
}
