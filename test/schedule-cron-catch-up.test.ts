/**
 * Catch-up of a cron schedule after a long downtime. The catch-up decision
 * runs inside the schedule store's atomic update (under a file store's
 * lock, which another process breaks after 5 s), and it used to walk every
 * due slot with croner, about 0.1 ms each: a minute-by-minute schedule
 * down for a year blocked the event loop about a minute and a half. It
 * must decide in a few dozen `nextRun` calls, with the exact count of
 * missed slots: checked against a slot-by-slot walk on random patterns,
 * zones (30- and 45-minute offsets, DST changes both ways) and windows.
 */
import { createRequire } from "node:module";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ManualClock, Scheduler, getSchedule, graph, schedule, type MissedRow } from "../src/index.js";
import { cronDue } from "../src/schedule/cron-slots.js";
import { nextCronSlot } from "../src/schedule/parse-when.js";
import { decideCatchUp } from "../src/schedule/repeat.js";
import { recordUntil, runRows } from "./support/schedules.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-schedule-cron-catch-up-");
const MIN = 60_000;
const H = 60 * MIN;
const DAY = 24 * H;
const START = Date.UTC(2026, 0, 1, 0, 0, 0);
/**
 * At most this many croner `nextRun` calls for a year of downtime: a count of work, not a time (steady on a loaded
 * machine). The walk made one per slot, 525,600 for a minute-by-minute year; the count takes about one per selected
 * day and a few hundred for the ends and the DST days.
 */
const MAX_CALLS_PER_YEAR = 5_000;

/** croner as taskloom loads it (`lazyModule`: through `require`, so its CommonJS build, not the one `import` gives). */
const { Cron } = createRequire(import.meta.url)("croner") as typeof import("croner");

/** Counts croner's `nextRun` calls made while `work` runs. */
async function nextRunCalls<T>(work: () => T | Promise<T>): Promise<{ value: T; calls: number }> {
  const spy = vi.spyOn(Cron.prototype, "nextRun");
  try {
    const value = await work();
    return { value, calls: spy.mock.calls.length };
  } finally {
    spy.mockRestore();
  }
}

const schedulers: Scheduler[] = [];
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
});

describe("a cron schedule whose scheduler was down for a year", () => {
  it.each(["one" as const, "skip" as const])(
    'every minute, catchUp "%s": decided in a few hundred croner calls (a walk made one per slot), with the exact count of missed slots',
    async (catchUp) => {
      const store = lowdb(tempDir());
      const calls: string[] = [];
      const g = graph("minutely")
        .node("work", ({ runId }) => calls.push(runId))
        .build();
      const job = await schedule(g, {}, { when: { cron: "* * * * *" }, timezone: "Europe/Paris", catchUp, store, clock: new ManualClock(START) });
      const first = START;
      expect(job.record.nextRunAt).toBe(first);
      // The scheduler comes back a year and 30 s later: 525,601 minutes are due, the latest 30 s old (on time for "skip").
      const back = START + 365 * DAY + 30_000;
      const latest = START + 365 * DAY;
      const s = new Scheduler({ store, graphs: [g], clock: new ManualClock(back) });
      schedulers.push(s);
      const missedEvents: number[] = [];
      s.events.on("slot:missed", (e) => missedEvents.push(e.count));
      const { value: record, calls: cronCalls } = await nextRunCalls(async () => {
        await s.start();
        return recordUntil(job, (r) => runRows(r.history)[0]?.endedAt !== undefined, "the latest slot's run recorded");
      });
      expect(cronCalls).toBeGreaterThan(0); // the spy sees the scheduler's croner
      expect(cronCalls).toBeLessThan(MAX_CALLS_PER_YEAR);
      const missed = record.history.find((r): r is MissedRow => r.kind === "missed");
      expect(missed).toMatchObject({ count: 365 * 24 * 60, first, last: latest - MIN, policy: catchUp });
      expect(missedEvents).toEqual([365 * 24 * 60]);
      expect(runRows(record.history).map((r) => r.slot)).toEqual([latest]);
      expect(record.nextRunAt).toBe(latest + MIN);
      expect(calls).toHaveLength(1);
      expect((await getSchedule(job.id, { store })).record.fired).toBe(1);
    },
    20_000,
  );

  it("every second, in a zone with DST: the decision is exact and still quick (a walk took hours)", async () => {
    const rule = { when: { kind: "cron" as const, cron: "* * * * * *", timezone: "America/New_York" } };
    const from = START;
    const now = Date.UTC(2027, 0, 1, 0, 0, 0, 500);
    const { value: decision, calls } = await nextRunCalls(() => decideCatchUp(rule, "one", from, now, 60_000));
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThan(MAX_CALLS_PER_YEAR);
    // Every real second of 2026 is a slot: 365 days of 86,400, the due one at midnight fired, the rest missed.
    expect(decision).toEqual({
      fire: Date.UTC(2027, 0, 1),
      missed: { count: 365 * 86_400, first: from, last: Date.UTC(2027, 0, 1) - 1_000 },
      nextRunAt: Date.UTC(2027, 0, 1, 0, 0, 1),
    });
  });

  it("every 30 minutes in New York across a year counts each real half hour once: the skipped hour not at all, the repeated one twice", () => {
    const due = cronDue("*/30 * * * *", "America/New_York", START, START + 365 * DAY);
    // 8,760 real hours in 2026 in New York (23-hour March day, 25-hour November day): two slots each, plus the first.
    expect(due).toEqual({ latest: START + 365 * DAY, before: START + 365 * DAY - 30 * MIN, count: 365 * 24 * 2 + 1 });
  });

  it("a one-off weekday 09:00 in Paris over a year counts the weekdays", () => {
    const due = cronDue("0 9 * * 1-5", "Europe/Paris", START, Date.UTC(2027, 0, 1));
    // 2026 has 261 weekdays; 1 January 2026 is a Thursday, so `from` (midnight) is followed by 261 matches.
    expect(due.count).toBe(1 + 261);
    expect(due.latest).toBe(Date.UTC(2026, 11, 31, 8));
    expect(due.before).toBe(Date.UTC(2026, 11, 30, 8));
  });
});

/** DST changes (and their eves) in zones with whole, half-hour and 45-minute offsets. */
const CHANGES: readonly (readonly [string, number])[] = [
  ["America/New_York", Date.UTC(2026, 2, 8, 7)],
  ["America/New_York", Date.UTC(2026, 10, 1, 6)],
  ["Europe/Paris", Date.UTC(2026, 2, 29, 1)],
  ["Europe/Paris", Date.UTC(2026, 9, 25, 1)],
  ["Australia/Lord_Howe", Date.UTC(2026, 3, 4, 15)],
  ["Australia/Lord_Howe", Date.UTC(2026, 9, 3, 15, 30)],
  ["Pacific/Chatham", Date.UTC(2026, 3, 4, 14)],
  ["Pacific/Chatham", Date.UTC(2026, 8, 26, 14)],
  ["Asia/Kathmandu", Date.UTC(2026, 5, 1)],
  ["America/Santiago", Date.UTC(2026, 3, 5, 3)],
  ["America/Santiago", Date.UTC(2026, 8, 6, 4)],
  ["UTC", Date.UTC(2026, 1, 28, 12)],
];

const field = (values: readonly string[]) => fc.constantFrom(...values);
const pattern = fc
  .tuple(
    fc.option(field(["0", "30", "*/20", "15,45", "*"]), { nil: undefined }),
    field(["0", "30", "*/15", "0,30", "5-7", "*", "45"]),
    field(["*", "2", "1-3", "*/6", "0,12", "3", "23"]),
    field(["*", "1", "15", "L", "28-31"]),
    field(["*", "*", "3,4,9,10", "2-4"]),
    field(["*", "*", "1-5", "0", "6"]),
  )
  .map(([second, ...rest]) => [...(second === undefined ? [] : [second]), ...rest].join(" "));

/** The due slots by walking from slot to slot, as the scheduler used to; undefined past `cap` slots. */
function walk(
  cron: string,
  timezone: string,
  from: number,
  limit: number,
  cap: number,
): { latest: number; before: number | undefined; count: number } | undefined {
  let latest = from;
  let before: number | undefined;
  let count = 1;
  for (;;) {
    const next = nextCronSlot(cron, timezone, latest);
    if (next === undefined || next > limit) return { latest, before, count };
    before = latest;
    latest = next;
    count += 1;
    if (count > cap) return undefined;
  }
}

describe("the due slots of a cron schedule (property)", () => {
  it("equal a slot-by-slot walk, across DST changes, month ends and zones with 30- and 45-minute offsets", () => {
    let compared = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...CHANGES),
        pattern,
        fc.integer({ min: -2 * DAY, max: 2 * DAY }),
        fc.integer({ min: 0, max: 3 * DAY }),
        fc.boolean(),
        ([timezone, change], cron, offset, span, onSlot) => {
          let from = change + offset;
          // `from` is the due nextRunAt: a slot of the pattern, or (after a hand edit or a change of pattern) any instant.
          if (onSlot) from = nextCronSlot(cron, timezone, from) ?? from;
          const limit = from + span;
          const expected = walk(cron, timezone, from, limit, 2_000);
          if (expected === undefined) return;
          compared += 1;
          expect(cronDue(cron, timezone, from, limit)).toEqual(expected);
        },
      ),
      { numRuns: 200, seed: 20260308 },
    );
    expect(compared).toBeGreaterThan(120);
  }, 120_000);
});
