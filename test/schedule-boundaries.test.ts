/**
 * schedule() at the edges of its inputs: an error names the option at
 * fault (`repeat.until`, not `when`); a `when` past the last instant a
 * Date holds is refused like one past the year 9999, not stored as an
 * invalid date; a series whose next slot would pass the year 9999 ends
 * (completed) instead of storing a slot run ids cannot name; an ISO offset
 * out of range is refused, not read as days off.
 */
import { afterEach, describe, expect, it } from "vitest";
import { InvalidScheduleError, ManualClock, MemoryStore, Scheduler, graph, parseWhen, schedule } from "../src/index.js";
import { rejection } from "./support/async.js";
import { recordUntil, runRows } from "./support/schedules.js";

const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);
const g = graph("edge")
  .node("work", () => 1)
  .build();

const schedulers: Scheduler[] = [];
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
});

describe("repeat.until that cannot be read", () => {
  it.each(["garbage", "next friday please", "2026-02-30T09:00"])("%s: the error names repeat.until, not when", async (until) => {
    const error = await rejection(schedule(g, {}, { when: "now", repeat: { every: "1h", until }, store: new MemoryStore(), clock: new ManualClock(NOW) }));
    expect(error).toBeInstanceOf(InvalidScheduleError);
    expect((error as InvalidScheduleError).option).toBe("repeat.until");
    expect((error as InvalidScheduleError).input).toBe(until);
    expect((error as Error).message).toMatch(new RegExp(`^repeat\\.until ${JSON.stringify(until)} `));
  });

  it("the detail of the phrase error is kept (what was understood)", async () => {
    const error = await rejection(
      schedule(g, {}, { when: "now", repeat: { every: "1h", until: "next friday please" }, store: new MemoryStore(), clock: new ManualClock(NOW) }),
    );
    expect((error as Error).message).toContain('(only "next friday" was understood)');
  });
});

describe("the year 9999", () => {
  it.each(["100000000w", "1000000000d"])("a delay past the last instant a Date holds (%s) is refused, not stored as an invalid date", async (when) => {
    const store = new MemoryStore();
    const error = await rejection(schedule(g, {}, { when, store, clock: new ManualClock(NOW) }));
    expect(error).toBeInstanceOf(InvalidScheduleError);
    expect((error as InvalidScheduleError).option).toBe("when");
    expect((error as Error).message).toContain("after the year 9999");
  });

  it.each([
    ["a rate past the last instant a Date holds", "100000000w"],
    ["a rate past the year 9999", 1e15],
  ])("%s: the first slot runs, then the series ends (completed), with no next slot", async (_what, every) => {
    const store = new MemoryStore();
    const clock = new ManualClock(NOW);
    const job = await schedule(g, {}, { when: "now", repeat: { every }, store, clock });
    const s = new Scheduler({ store, graphs: [g], clock });
    schedulers.push(s);
    await s.start();
    const record = await recordUntil(job, (r) => r.status === "completed", "the schedule completed");
    expect(record.nextRunAt).toBeUndefined();
    expect(runRows(record.history).map((r) => r.slot)).toEqual([NOW]);
    await job.refresh();
    expect(job.nextRunAt).toBeUndefined();
  });
});

describe("ISO timestamps with an offset", () => {
  it.each(["2027-11-07T01:30:00+99:99", "2027-11-07T01:30:00+24:00", "2027-11-07T01:30:00-0960"])("%s is refused, not read as days off", (when) => {
    const error = (() => {
      try {
        return parseWhen(when, { now: NOW, timezone: "UTC" });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidScheduleError);
    expect((error as InvalidScheduleError).option).toBe("when");
  });

  it("real offsets, the extremes included, are read", () => {
    expect(parseWhen("2027-11-07T01:30:00+14:00", { now: NOW, timezone: "UTC" })).toEqual({ kind: "at", at: Date.UTC(2027, 10, 6, 11, 30) });
    expect(parseWhen("2027-11-07T01:30:00-12:00", { now: NOW, timezone: "UTC" })).toEqual({ kind: "at", at: Date.UTC(2027, 10, 7, 13, 30) });
    expect(parseWhen("2027-11-07T01:30:00+0545", { now: NOW, timezone: "UTC" })).toEqual({ kind: "at", at: Date.UTC(2027, 10, 6, 19, 45) });
  });
});
