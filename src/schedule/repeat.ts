/**
 * Slot arithmetic, pure: which instants a schedule fires at, and what to
 * do with the slots that came due while no scheduler ran.
 *
 * A schedule's slots are its first instant and then either every
 * `everyMs` from it (fixed rate: slot k is `first + k * everyMs`, so a
 * late run never shifts the ones after it) or each instant its cron
 * pattern matches. A fixed rate of whole days in a schedule with a time
 * zone follows the calendar instead: the same wall-clock time each day
 * (`calendar-slots.ts`), so daylight saving never moves a daily run. `until` ends the slots (a slot at `until` still
 * counts), and so does the end of the year 9999 ({@link LAST_SLOT}); `times` bounds how many runs fire, counted by
 * the scheduler.
 *
 * Catch-up. When a scheduler looks at a schedule, every slot at or before
 * now is due. The latest due slot is on time when it is at most `graceMs`
 * old; every other due slot was missed. Then:
 * - `"all"` fires every due slot, oldest first, one after the other;
 * - `"one"` fires the latest due slot once and drops the rest;
 * - `"skip"` fires the latest due slot only if it is on time, and drops
 *   the rest (a scheduler that was down does not make up for it).
 *
 * The decision never visits each due slot: a fixed rate and a calendar
 * repeat find the latest by arithmetic, a cron pattern with about one
 * croner call per day of downtime (`cron-slots.ts`), not one per slot.
 *
 * @module
 */
import { calendarIndexAtOrBefore, calendarRepeat, calendarSlot, type CalendarRepeat } from "./calendar-slots.js";
import type { WhenSpec } from "./parse-when.js";
import { nextCronSlot } from "./parse-when.js";
import { cronDue } from "./cron-slots.js";

/** What to do with slots that came due while no scheduler ran. */
export const CATCH_UP_POLICIES = ["skip", "one", "all"] as const;
/** A catch-up policy; see {@link CATCH_UP_POLICIES}. */
export type CatchUp = (typeof CATCH_UP_POLICIES)[number];

/** The rule that makes a schedule's slots. */
export interface SlotRule {
  readonly when: WhenSpec;
  /** Fixed rate in ms, with a `when` of kind "at". */
  readonly everyMs?: number | undefined;
  /** No slot after this instant (epoch ms). */
  readonly until?: number | undefined;
  /** The IANA zone: with it, a fixed rate of whole days keeps the wall-clock time. */
  readonly timezone?: string | undefined;
}

/** The calendar repeat of a rule whose fixed rate is whole days, else undefined. */
function calendarOf(rule: SlotRule): CalendarRepeat | undefined {
  if (rule.when.kind !== "at" || rule.everyMs === undefined) return undefined;
  return calendarRepeat(rule.when.at, rule.everyMs, rule.timezone, rule.when.wall);
}

/** The catch-up decision for a schedule whose next slot is due. */
export interface CatchUpDecision {
  /** The slot to fire now, if any. */
  readonly fire: number | undefined;
  /** Due slots dropped by the policy: how many, the first and the last. */
  readonly missed: { readonly count: number; readonly first: number; readonly last: number } | undefined;
  /** The schedule's next slot once this decision is taken (undefined: none left). */
  readonly nextRunAt: number | undefined;
}

/** Whether the schedule makes more than one slot. */
export function isRepeating(rule: SlotRule): boolean {
  return rule.when.kind === "cron" || rule.everyMs !== undefined;
}

/**
 * The first slot at or after `from`: the `when` instant itself for a
 * one-off; for a fixed rate whose start has passed, the first slot of the
 * series that is not in the past.
 */
export function firstSlot(rule: SlotRule, from: number): number | undefined {
  const { when } = rule;
  let slot: number | undefined;
  const calendar = calendarOf(rule);
  if (when.kind === "cron") slot = nextCronSlot(when.cron, when.timezone, from - 1);
  else if (calendar !== undefined) slot = calendar.anchor < from ? calendarSlot(calendar, calendarIndexAtOrBefore(calendar, from - 1) + 1) : calendar.anchor;
  else if (rule.everyMs !== undefined && when.at < from) slot = when.at + Math.ceil((from - when.at) / rule.everyMs) * rule.everyMs;
  else slot = when.at;
  return withinUntil(rule, slot);
}

/** The slot after `slot`, or undefined when the series ends. */
export function slotAfter(rule: SlotRule, slot: number): number | undefined {
  const { when } = rule;
  if (when.kind === "cron") return withinUntil(rule, nextCronSlot(when.cron, when.timezone, slot));
  if (rule.everyMs === undefined) return undefined;
  const calendar = calendarOf(rule);
  if (calendar !== undefined) return withinUntil(rule, calendarSlot(calendar, calendarIndexAtOrBefore(calendar, slot) + 1));
  return withinUntil(rule, slot + rule.everyMs);
}

/**
 * Decides what to fire when the slot `nextRunAt` is due (`nextRunAt <= now`).
 *
 * @example
 * ```ts
 * // every hour from 00:00, the scheduler was down until 05:30: slots 00:00 to 05:00 are due
 * decideCatchUp({ when: { kind: "at", at: 0 }, everyMs: 3_600_000 }, "one", 0, 5.5 * 3_600_000, 60_000);
 * // { fire: 18_000_000, missed: { count: 5, first: 0, last: 14_400_000 }, nextRunAt: 21_600_000 }
 * ```
 */
export function decideCatchUp(rule: SlotRule, policy: CatchUp, nextRunAt: number, now: number, graceMs: number): CatchUpDecision {
  if (policy === "all") return { fire: nextRunAt, missed: undefined, nextRunAt: slotAfter(rule, nextRunAt) };
  const { latest, before, count } = latestDue(rule, nextRunAt, now);
  const onTime = now - latest <= graceMs;
  const fire = policy === "one" || onTime ? latest : undefined;
  const dropped = fire === undefined ? count : count - 1;
  const last = fire === undefined ? latest : before;
  return {
    fire,
    missed: dropped > 0 && last !== undefined ? { count: dropped, first: nextRunAt, last } : undefined,
    nextRunAt: slotAfter(rule, latest),
  };
}

/** The latest due slot from `from` (itself due), the one before it, and how many are due. */
function latestDue(rule: SlotRule, from: number, now: number): { latest: number; before: number | undefined; count: number } {
  const { when } = rule;
  const calendar = calendarOf(rule);
  if (calendar !== undefined) {
    const limit = rule.until !== undefined ? Math.min(now, rule.until) : now;
    const first = calendarIndexAtOrBefore(calendar, from);
    const last = Math.max(first, calendarIndexAtOrBefore(calendar, limit));
    return { latest: calendarSlot(calendar, last), before: last > first ? calendarSlot(calendar, last - 1) : undefined, count: last - first + 1 };
  }
  if (when.kind === "at" && rule.everyMs !== undefined) {
    const limit = rule.until !== undefined ? Math.min(now, rule.until) : now;
    const k = Math.max(0, Math.floor((limit - from) / rule.everyMs));
    return { latest: from + k * rule.everyMs, before: k > 0 ? from + (k - 1) * rule.everyMs : undefined, count: k + 1 };
  }
  if (when.kind === "cron") return cronDue(when.cron, when.timezone, from, rule.until !== undefined ? Math.min(now, rule.until) : now);
  return { latest: from, before: undefined, count: 1 };
}

/**
 * The last instant a slot may be: run ids name the slot with a four-digit
 * year, so a series ends with the year 9999 (a rate such as `1e15` ms
 * used to give a next slot that was no date at all).
 */
export const LAST_SLOT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function withinUntil(rule: SlotRule, slot: number | undefined): number | undefined {
  // `!(slot <= LAST_SLOT)` also ends a series whose arithmetic left the numbers (NaN).
  if (slot === undefined || !(slot <= LAST_SLOT)) return undefined;
  return rule.until !== undefined && slot > rule.until ? undefined : slot;
}

/**
 * The compact form of a slot used in run ids: `20261124T090000Z`, with
 * milliseconds (`20261124T090000.250Z`) only when there are some.
 *
 * @example
 * ```ts
 * compactSlot(Date.UTC(2026, 10, 24, 9)); // "20261124T090000Z"
 * ```
 */
export function compactSlot(slot: number): string {
  const iso = new Date(slot).toISOString(); // 2026-11-24T09:00:00.000Z
  const ms = iso.slice(20, 23);
  return `${iso.slice(0, 19).replace(/[-:]/g, "")}${ms === "000" ? "" : `.${ms}`}Z`;
}
