/**
 * Hand-edited schedule files whose fields have the right types but values
 * no scheduler can fire by: a rate of 0 or below, an unknown time zone, a
 * cron pattern croner refuses, a callback retry policy schedule() refuses.
 * Such a file used to pass the shape check; a negative rate then fired
 * slots backwards without end, a zero rate claimed the same slot again and
 * again, an unknown zone or a bad pattern made the Scheduler emit an
 * untyped RangeError every poll, a callback tried 0 times was never done
 * (its schedule never let go). Each must be refused
 * as a damaged file is (a `ScheduleCorruptError` naming the file and the
 * field, one warning, the file left as it is), and any hand edit the store
 * accepts must fire sanely: slots strictly increasing, none in the future,
 * none twice, no error event.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  ManualClock,
  ScheduleCorruptError,
  Scheduler,
  getSchedule,
  graph,
  schedule,
  scheduleStoreFor,
  type LowdbStore,
  type ScheduleRecord,
} from "../src/index.js";
import { rejection } from "./support/async.js";
import { runRows } from "./support/schedules.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-schedule-hand-edits-");
const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);
const H = 3_600_000;
/** The scheduler looks 2.5 hours after the schedule was made: two hourly slots are due. */
const LATER = NOW + 2.5 * H;

const schedulers: Scheduler[] = [];
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
});

const calls: string[] = [];
const g = graph("edited")
  .node("work", ({ runId }) => {
    calls.push(runId);
    return runId;
  })
  .build();

/** A store holding schedule "x" (hourly from an hour after NOW, UTC) changed by `edit`, and its file. */
async function edited(edit: (r: ScheduleRecord) => ScheduleRecord, catchUp: "one" | "all" | "skip" = "one"): Promise<{ store: LowdbStore; file: string }> {
  const dir = tempDir();
  const store = lowdb(dir);
  await schedule(g, {}, { when: "1h", repeat: { every: "1h" }, store, clock: new ManualClock(NOW), id: "x", timezone: "UTC", catchUp });
  await scheduleStoreFor(store).update("x", edit);
  return { store, file: join(dir, "schedules", "x.json") };
}

/** Runs a Scheduler at LATER for a while; what it did. */
async function fire(store: LowdbStore): Promise<{ errors: unknown[]; warnings: unknown[]; ran: string[] }> {
  calls.length = 0;
  const s = new Scheduler({ store, graphs: [g], clock: new ManualClock(LATER) });
  schedulers.push(s);
  const errors: unknown[] = [];
  const warnings: unknown[] = [];
  s.events.on("error", (e) => errors.push(e.error));
  s.events.on("warning", (w) => warnings.push(w.error));
  await s.start();
  for (let i = 0; i < 300; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  await s.poll();
  await s.poll();
  await s.stop();
  return { errors, warnings, ran: [...calls] };
}

describe("a hand-edited schedule no scheduler can fire by is refused as a damaged file", () => {
  it.each<[string, (r: ScheduleRecord) => ScheduleRecord, string]>([
    ["a rate of 0 ms", (r) => ({ ...r, everyMs: 0 }), "everyMs"],
    ["a negative rate", (r) => ({ ...r, everyMs: -H }), "everyMs"],
    ["a rate below 1 ms", (r) => ({ ...r, everyMs: 0.5 }), "everyMs"],
    ["an unknown time zone", (r) => ({ ...r, everyMs: 24 * H, timezone: "Mars/Olympus" }), "timezone"],
    ["a cron pattern croner refuses", (r) => ({ ...r, when: { kind: "cron", cron: "99 * * * *", timezone: "UTC" } }), "when.cron"],
    ["a cron in an unknown time zone", (r) => ({ ...r, when: { kind: "cron", cron: "0 * * * *", timezone: "Mars/Olympus" } }), "when.timezone"],
    [
      "a callback tried 0 times (never done, so never let go)",
      (r) => ({ ...r, callbackRetry: { ...r.callbackRetry, maxAttempts: 0 } }),
      "callbackRetry.maxAttempts",
    ],
    ["a callback delay past a Node timer (fires at once)", (r) => ({ ...r, callbackRetry: { ...r.callbackRetry, maxMs: 2 ** 31 } }), "callbackRetry.maxMs"],
  ])(
    "%s: getSchedule throws ScheduleCorruptError naming the file and the field; a Scheduler runs nothing, warns once, errs never",
    async (_what, edit, field) => {
      const { store, file } = await edited(edit);
      const bytes = readFileSync(file);
      const error = await rejection(getSchedule("x", { store }));
      expect(error).toBeInstanceOf(ScheduleCorruptError);
      expect((error as ScheduleCorruptError).file).toBe(file);
      expect((error as Error).message).toContain(`${field} `);
      const { errors, warnings, ran } = await fire(store);
      expect(errors).toEqual([]);
      expect(ran).toEqual([]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toBeInstanceOf(ScheduleCorruptError);
      expect(readFileSync(file)).toEqual(bytes);
    },
  );

  it("a negative rate under catch-up all is refused too (it fired one slot an hour earlier after another, without end)", async () => {
    const { store } = await edited((r) => ({ ...r, everyMs: -H }), "all");
    const { errors, ran } = await fire(store);
    expect(errors).toEqual([]);
    expect(ran).toEqual([]);
  });
});

const ZONES = ["UTC", "Europe/Paris", "America/New_York", "Pacific/Chatham", "Mars/Olympus", "", "Europe/Pari", "utc", "+05:00"];
const CRON_FIELDS = ["*", "0", "30", "*/15", "1-5", "0,30", "99", "60", "L", "?", "x", "*/0", "-1"];

const handEdit = fc.record({
  everyMs: fc.option(
    fc.oneof(
      fc.constantFrom(0, -1, -H, 0.5, 1, 60_000, H, 24 * H, 7 * 24 * H),
      fc.integer({ min: -1e8, max: 1e8 }),
      fc.double({ min: -1e9, max: 1e9, noNaN: true }),
    ),
    { nil: undefined },
  ),
  timezone: fc.constantFrom(...ZONES),
  when: fc.oneof(
    fc.record({ kind: fc.constant("at" as const), at: fc.integer({ min: NOW - 48 * H, max: NOW + 48 * H }) }),
    fc.record({
      kind: fc.constant("cron" as const),
      cron: fc.array(fc.constantFrom(...CRON_FIELDS), { minLength: 4, maxLength: 7 }).map((f) => f.join(" ")),
      timezone: fc.constantFrom(...ZONES),
    }),
  ),
  times: fc.option(fc.constantFrom(-1, 0, 1, 2, 3, 1.5, 100), { nil: undefined }),
  catchUp: fc.constantFrom("one" as const, "all" as const, "skip" as const),
  nextRunAt: fc.option(fc.integer({ min: NOW - 48 * H, max: NOW + 48 * H }), { nil: undefined }),
});

describe("hand edits of the fields that make the slots (property)", () => {
  it("are refused with a typed error naming the file, or fire sanely: slots strictly increasing, none ahead of now, none twice, no error event", async () => {
    let refused = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(handEdit, async (e) => {
        const { store, file } = await edited((r) => {
          const { everyMs: _e, times: _t, nextRunAt: _n, ...rest } = r;
          return {
            ...rest,
            ...(e.everyMs !== undefined && { everyMs: e.everyMs }),
            ...(e.times !== undefined && { times: e.times }),
            ...(e.nextRunAt !== undefined && { nextRunAt: e.nextRunAt }),
            timezone: e.timezone,
            when: e.when,
            catchUp: e.catchUp,
          };
        });
        const bytes = readFileSync(file);
        let readable = true;
        try {
          await getSchedule("x", { store });
        } catch (error) {
          readable = false;
          expect(error).toBeInstanceOf(ScheduleCorruptError);
          expect((error as ScheduleCorruptError).file).toBe(file);
        }
        const { errors, warnings, ran } = await fire(store);
        expect(errors).toEqual([]);
        if (!readable) {
          refused += 1;
          expect(ran).toEqual([]);
          expect(warnings).toHaveLength(1);
          expect(readFileSync(file)).toEqual(bytes);
          return;
        }
        accepted += 1;
        expect(warnings).toEqual([]);
        const rows = runRows((await getSchedule("x", { store })).record.history);
        const slots = rows.map((r) => r.slot);
        for (let i = 1; i < slots.length; i++) expect(slots[i]).toBeGreaterThan(slots[i - 1] ?? -Infinity);
        for (const slot of slots) expect(slot).toBeLessThanOrEqual(LATER);
        expect(new Set(rows.map((r) => r.runId)).size).toBe(rows.length);
        expect(new Set(ran).size).toBe(ran.length);
      }),
      { numRuns: 150, seed: 20261123 },
    );
    // Both outcomes occur: the test is not vacuous either way.
    expect(refused).toBeGreaterThan(10);
    expect(accepted).toBeGreaterThan(10);
  }, 120_000);
});
