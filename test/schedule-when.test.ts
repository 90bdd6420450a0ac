/**
 * `when` parsing and slot arithmetic, against a fixed "now" and time zone:
 * delays, phrases, ISO timestamps, cron across DST changes, the catch-up
 * policies, and the documented error for every bad `when`.
 */
import { describe, expect, it } from "vitest";
import { InvalidOptionError, InvalidScheduleError, parseWhen, type WhenSpec } from "../src/index.js";
import { compactSlot, decideCatchUp, firstSlot, slotAfter } from "../src/schedule/repeat.js";
import { instantOf, offsetMinutes } from "../src/schedule/zoned-time.js";

/** Monday 2026-11-23, 10:00 UTC (11:00 in Paris, 05:00 in New York). */
const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);
const PARIS = { now: NOW, timezone: "Europe/Paris" };
const at = (spec: WhenSpec): string => {
  if (spec.kind !== "at") throw new Error(`expected an instant, got ${JSON.stringify(spec)}`);
  return new Date(spec.at).toISOString();
};

describe("delays and now", () => {
  it.each([
    ["90s", 90_000],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["1w", 604_800_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
  ])("%s is now plus %d ms", (text, ms) => {
    expect(parseWhen(text, PARIS)).toEqual({ kind: "at", at: NOW + ms });
  });

  it('"now" is the clock\'s now', () => {
    expect(parseWhen("now", PARIS)).toEqual({ kind: "at", at: NOW });
    expect(parseWhen(" NOW ", PARIS)).toEqual({ kind: "at", at: NOW });
  });

  it("a Date is taken as it is", () => {
    expect(parseWhen(new Date(NOW + 1234), PARIS)).toEqual({ kind: "at", at: NOW + 1234 });
  });
});

describe("natural phrases against a fixed now and time zone", () => {
  it.each([
    ["in 5 minutes", "2026-11-23T10:05:00.000Z"],
    ["tomorrow at 9am", "2026-11-24T08:00:00.000Z"],
    ["next monday at 9:30", "2026-11-30T08:30:00.000Z"],
    ["today at 7:45pm", "2026-11-23T18:45:00.000Z"],
  ])("%s in Europe/Paris is %s", (text, iso) => {
    expect(at(parseWhen(text, PARIS))).toBe(iso);
  });

  it("the same phrase in another zone is another instant", () => {
    expect(at(parseWhen("tomorrow at 9am", { now: NOW, timezone: "America/New_York" }))).toBe("2026-11-24T14:00:00.000Z");
    expect(at(parseWhen("tomorrow at 9am", { now: NOW, timezone: "UTC" }))).toBe("2026-11-24T09:00:00.000Z");
  });

  it("a phrase that crosses a DST change uses the offset of the day it names", () => {
    // Saturday 2026-03-28 noon in Paris (UTC+1); Paris moves to UTC+2 on Sunday at 02:00.
    const saturday = Date.UTC(2026, 2, 28, 11, 0, 0);
    expect(at(parseWhen("tomorrow at 9am", { now: saturday, timezone: "Europe/Paris" }))).toBe("2026-03-29T07:00:00.000Z");
  });
});

describe("ISO timestamps", () => {
  it("with Z or an offset is that instant; without, a wall-clock time in the zone", () => {
    expect(at(parseWhen("2026-11-24T09:00:00Z", PARIS))).toBe("2026-11-24T09:00:00.000Z");
    expect(at(parseWhen("2026-11-24T09:00:00+02:00", PARIS))).toBe("2026-11-24T07:00:00.000Z");
    expect(at(parseWhen("2026-11-24T09:00", PARIS))).toBe("2026-11-24T08:00:00.000Z");
    expect(at(parseWhen("2026-07-24T09:00", PARIS))).toBe("2026-07-24T07:00:00.000Z");
  });
});

describe("wall-clock times across DST", () => {
  it("a time skipped by spring-forward moves past the gap; a repeated one takes the first occurrence", () => {
    expect(offsetMinutes(Date.UTC(2026, 0, 1), "Europe/Paris")).toBe(60);
    expect(offsetMinutes(Date.UTC(2026, 6, 1), "Europe/Paris")).toBe(120);
    const wall = { year: 2026, month: 3, day: 29, hour: 2, minute: 30, second: 0, millisecond: 0 };
    expect(new Date(instantOf(wall, "Europe/Paris")).toISOString()).toBe("2026-03-29T01:30:00.000Z"); // 03:30 CEST
    const twice = { year: 2026, month: 10, day: 25, hour: 2, minute: 30, second: 0, millisecond: 0 };
    expect(new Date(instantOf(twice, "Europe/Paris")).toISOString()).toBe("2026-10-25T00:30:00.000Z"); // 02:30 CEST, the first
  });
});

describe("cron", () => {
  const slots = (spec: WhenSpec, from: number, n: number): string[] => {
    const rule = { when: spec };
    const out: string[] = [];
    let s = firstSlot(rule, from);
    while (s !== undefined && out.length < n) {
      out.push(new Date(s).toISOString());
      s = slotAfter(rule, s);
    }
    return out;
  };

  it("a daily 02:30 in Paris across spring-forward runs once a day, at 03:00 on the day 02:30 does not exist", () => {
    const spec = parseWhen({ cron: "30 2 * * *" }, { now: Date.UTC(2026, 2, 27, 12), timezone: "Europe/Paris" });
    expect(spec).toEqual({ kind: "cron", cron: "30 2 * * *", timezone: "Europe/Paris" });
    expect(slots(spec, Date.UTC(2026, 2, 27, 12), 4)).toEqual([
      "2026-03-28T01:30:00.000Z",
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T00:30:00.000Z",
      "2026-03-31T00:30:00.000Z",
    ]);
  });

  it("a daily 02:30 in Paris across fall-back runs once, at the first 02:30", () => {
    const spec = parseWhen({ cron: "30 2 * * *" }, { now: Date.UTC(2026, 9, 23, 12), timezone: "Europe/Paris" });
    expect(slots(spec, Date.UTC(2026, 9, 23, 12), 3)).toEqual(["2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]);
  });

  it("weekdays at 9am in New York keep 9am local across fall-back (13:00Z, then 14:00Z)", () => {
    const spec = parseWhen({ cron: "0 9 * * 1-5" }, { now: Date.UTC(2026, 9, 30, 12), timezone: "America/New_York" });
    expect(slots(spec, Date.UTC(2026, 9, 29, 12), 3)).toEqual(["2026-10-29T13:00:00.000Z", "2026-10-30T13:00:00.000Z", "2026-11-02T14:00:00.000Z"]);
  });

  it("accepts 6 fields, seconds first", () => {
    const spec = parseWhen({ cron: "15 0 9 * * *" }, { now: NOW, timezone: "UTC" });
    expect(slots(spec, NOW, 1)).toEqual(["2026-11-24T09:00:15.000Z"]);
  });
});

describe("every bad when gives the documented error", () => {
  const cases: [string, unknown, RegExp][] = [
    ["an unknown phrase", "someday soon-ish", /cannot be read as a time/],
    ["a phrase with words left over", "tomorrow at 9am please", /only "tomorrow at 9am" was understood/],
    ["an empty string", "   ", /is empty/],
    ["a number", 42, /is a number, not a time/],
    ["null", null, /is a null, not a time/],
    ["an invalid Date", new Date(Number.NaN), /is not a valid date/],
    ["an impossible ISO date", "2026-02-30T10:00:00Z", /is not a valid ISO timestamp/],
    ["a malformed ISO timestamp", "2026-11-24Tnine", /is not a valid ISO timestamp/],
    ["a cron object with extra keys", { cron: "* * * * *", tz: "UTC" }, /is not a cron object/],
    ["a cron pattern of 4 fields", { cron: "0 9 * *" }, /has 4 fields; a cron pattern has 5/],
    ["a cron pattern of 7 fields", { cron: "0 0 9 * * * 2026" }, /has 7 fields/],
    ["a cron pattern out of range", { cron: "61 * * * *" }, /is not a valid cron pattern/],
    ["a cron pattern that never matches", { cron: "0 0 31 2 *" }, /never matches/],
  ];
  it.each(cases)("%s", (_what, input, problem) => {
    let error: unknown;
    try {
      parseWhen(input, PARIS);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidScheduleError);
    const e = error as InvalidScheduleError;
    expect(e.code).toBe("INVALID_SCHEDULE");
    expect(e.message).toMatch(problem);
    // The input is quoted.
    const cron = (input as { cron?: unknown } | null)?.cron;
    const shown =
      typeof input === "string"
        ? input
        : input instanceof Date
          ? "Invalid Date"
          : e.option === "when.cron" && typeof cron === "string"
            ? cron
            : JSON.stringify(input);
    expect(e.message).toContain(JSON.stringify(shown));
    if (!/never matches|not a valid cron/.test(e.message)) expect(e.message).toContain("Accepted forms:");
  });
});

describe("catch-up after downtime", () => {
  const H = 3_600_000;
  const rule = { when: { kind: "at" as const, at: 0 }, everyMs: H };

  it("all: fires the oldest due slot, one at a time", () => {
    expect(decideCatchUp(rule, "all", 0, 5.5 * H, 60_000)).toEqual({ fire: 0, missed: undefined, nextRunAt: H });
  });

  it("one: fires the latest due slot and drops the others", () => {
    expect(decideCatchUp(rule, "one", 0, 5.5 * H, 60_000)).toEqual({ fire: 5 * H, missed: { count: 5, first: 0, last: 4 * H }, nextRunAt: 6 * H });
  });

  it("skip: drops every due slot when the latest is late; fires it when on time", () => {
    expect(decideCatchUp(rule, "skip", 0, 5.5 * H, 60_000)).toEqual({ fire: undefined, missed: { count: 6, first: 0, last: 5 * H }, nextRunAt: 6 * H });
    expect(decideCatchUp(rule, "skip", 0, 5 * H + 30_000, 60_000)).toEqual({ fire: 5 * H, missed: { count: 5, first: 0, last: 4 * H }, nextRunAt: 6 * H });
    expect(decideCatchUp(rule, "skip", 0, 0, 60_000)).toEqual({ fire: 0, missed: undefined, nextRunAt: H });
  });

  it("until ends the series; a fixed rate anchored in the past starts at its first future slot", () => {
    const bounded = { ...rule, until: 2 * H };
    expect(decideCatchUp(bounded, "one", 0, 5.5 * H, 60_000)).toEqual({ fire: 2 * H, missed: { count: 2, first: 0, last: H }, nextRunAt: undefined });
    expect(firstSlot(rule, 2.5 * H)).toBe(3 * H);
  });

  it("run ids carry the slot in compact form", () => {
    expect(compactSlot(Date.UTC(2026, 10, 24, 9))).toBe("20261124T090000Z");
    expect(compactSlot(Date.UTC(2026, 10, 24, 9, 0, 0, 250))).toBe("20261124T090000.250Z");
  });
});

describe("parseWhen's context", () => {
  it("defaults to the current time in this process's zone (before, a call without it threw a raw TypeError)", () => {
    const before = Date.now();
    const spec = parseWhen("5m");
    const after = Date.now();
    expect(spec.kind).toBe("at");
    if (spec.kind !== "at") return;
    expect(spec.at).toBeGreaterThanOrEqual(before + 300_000);
    expect(spec.at).toBeLessThanOrEqual(after + 300_000);
    expect(parseWhen("now", { now: NOW })).toEqual({ kind: "at", at: NOW });
  });
  it.each([null, "Europe/Paris", 5, [NOW]])("refuses a context of %j with InvalidOptionError", (context) => {
    const call = () => parseWhen("5m", context as never);
    expect(call).toThrow(InvalidOptionError);
    expect(call).toThrow(/option context of parseWhen must be an object/);
  });
  it.each([Number.NaN, Number.POSITIVE_INFINITY, "2026-11-23", null])("refuses a now of %s with InvalidOptionError", (now) => {
    const call = () => parseWhen("5m", { now: now as never });
    expect(call).toThrow(InvalidOptionError);
    expect(call).toThrow(/option now of parseWhen must be a finite number/);
  });
  it("refuses a time zone this runtime does not know with InvalidScheduleError", () => {
    expect(() => parseWhen("5m", { now: NOW, timezone: "Mars/Olympus" })).toThrow(InvalidScheduleError);
  });
});
