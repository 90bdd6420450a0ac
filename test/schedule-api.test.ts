/**
 * `schedule()`, `getSchedule`, `listSchedules`, `removeSchedule` and the
 * `ScheduledJob` handle: validation at the boundary, what is stored, and
 * that schedules are data a new process (a new store instance) reads back.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  FileScheduleStore,
  InvalidOptionError,
  InvalidScheduleError,
  ManualClock,
  MemoryStore,
  ScheduleNotFoundError,
  ScheduleStateError,
  Scheduler,
  SnapshotCorruptError,
  getSchedule,
  graph,
  listSchedules,
  removeSchedule,
  schedule,
  scheduleStoreFor,
} from "../src/index.js";
import { rejection } from "./support/async.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-schedule-api-");
const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);
const g = graph("hello")
  .input<{ name: string }>()
  .node("greet", ({ inputs }) => `hello ${inputs.name}`)
  .build();

describe("schedule()", () => {
  it("stores a one-off schedule with its first slot, status and options", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(NOW);
    const job = await schedule(
      g,
      { name: "ada" },
      { when: "5m", store, clock, runIdPrefix: "greet", callbackUrl: "http://127.0.0.1:9/hook", callbackSecret: "s" },
    );
    expect(job.id).toMatch(/^sch-[0-9a-f]{12}$/);
    expect(job.status).toBe("active");
    expect(job.nextRunAt?.getTime()).toBe(NOW + 300_000);
    const record = (await getSchedule(job.id, { store })).record;
    expect(record).toMatchObject({ graphName: "hello", inputs: { name: "ada" }, catchUp: "one", runIdPrefix: "greet", fired: 0, history: [] });
    expect(record.callbackRetry).toEqual({ maxAttempts: 5, initialMs: 1_000, factor: 2, maxMs: 60_000, timeoutMs: 10_000 });
  });

  it("a repeating schedule anchored in the past starts at its first future slot", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(NOW);
    const job = await schedule(g, { name: "x" }, { when: new Date(NOW - 90 * 60_000), repeat: { every: "1h" }, store, clock });
    expect(job.nextRunAt?.getTime()).toBe(NOW + 30 * 60_000);
  });

  it("refuses a one-off time in the past, quoting it", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(NOW);
    const err = await rejection(schedule(g, { name: "x" }, { when: "2026-11-22T09:00:00Z", store, clock }));
    expect(err).toBeInstanceOf(InvalidScheduleError);
    expect((err as Error).message).toMatch(/^when "2026-11-22T09:00:00Z" is in the past/);
    expect(await listSchedules({ store })).toEqual([]);
  });

  it.each([
    [{ when: "1h", repeat: { every: "sometimes" } }, InvalidScheduleError, /repeat.every "sometimes" is not a duration/],
    [{ when: "1h", repeat: { times: 3 } }, InvalidOptionError, /repeat.every is required/],
    [{ when: { cron: "* * * * *" }, repeat: { every: "1h" } }, InvalidOptionError, /cannot be combined with a cron/],
    [{ when: "1h", repeat: { every: "1h", times: 0 } }, InvalidOptionError, /repeat.times must be a whole number/],
    [{ when: "1h", repeat: { every: "1h", until: "2026-11-23T10:30:00Z" } }, InvalidScheduleError, /leaves no slot/],
    [{ when: "1h", catchUp: "some" }, InvalidOptionError, /catchUp must be one of "skip", "one", "all"/],
    [{ when: "1h", timezone: "Mars/Olympus" }, InvalidScheduleError, /timezone "Mars\/Olympus" is not a time zone/],
    [{ when: "1h", callbackUrl: "ftp://x" }, InvalidOptionError, /callbackUrl must be an http or https URL/],
    [{ when: "1h", callbackSecret: "s" }, InvalidOptionError, /without a callbackUrl/],
    [{ when: "1h", runIdPrefix: "../x" }, Error, /run id "..\/x" is not valid/],
    [{ when: "1h", whenever: true }, InvalidOptionError, /option whenever of schedule\(\) is not known/],
    [{ when: "1h", callbackUrl: "http://x", callbackRetry: { maxAttempts: 0 } }, InvalidOptionError, /callbackRetry.maxAttempts/],
  ])("refuses bad options: %j", async (options, type, message) => {
    const store = new MemoryStore();
    const err = await rejection(schedule(g, { name: "x" }, { ...(options as object), store, clock: new ManualClock(NOW) } as never));
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(message);
    expect(await listSchedules({ store })).toEqual([]);
  });

  it("refuses inputs it cannot store, and a graph that is not a graph", async () => {
    const store = new MemoryStore();
    await expect(schedule(g, { name: "x", f: () => 1 }, { when: "1h", store })).rejects.toThrow(/inputs cannot be stored/);
    await expect(schedule({} as never, {}, { when: "1h", store })).rejects.toThrow(InvalidOptionError);
  });
});

describe("the ScheduledJob handle", () => {
  it("pause, resume and cancel change the stored status; a cancelled schedule cannot resume", async () => {
    const store = new MemoryStore();
    const job = await schedule(g, { name: "x" }, { when: "1h", repeat: { every: "1h" }, store });
    await job.pause();
    expect(job.status).toBe("paused");
    expect((await getSchedule(job.id, { store })).status).toBe("paused");
    expect((await listSchedules({ store, status: "paused" })).map((j) => j.id)).toEqual([job.id]);
    await job.resume();
    expect(job.status).toBe("active");
    await job.cancel();
    expect(job.status).toBe("cancelled");
    expect(job.nextRunAt).toBeUndefined();
    const err = await rejection(job.resume());
    expect(err).toBeInstanceOf(ScheduleStateError);
    expect((err as Error).message).toMatch(/is cancelled, so it cannot be resumed/);
    await expect(job.pause()).rejects.toThrow(ScheduleStateError);
  });

  it("lastResult is pending with the next fire time before the first slot fires (issue 18 item 8); history is empty", async () => {
    const store = new MemoryStore();
    const job = await schedule(g, { name: "x" }, { when: "1h", store });
    expect(await job.lastResult()).toEqual({ scheduleId: job.id, status: "pending", runId: undefined, slot: undefined, nextAt: job.nextRunAt });
    expect(job.nextRunAt).toBeInstanceOf(Date);
    await job.cancel();
    expect(await job.lastResult()).toEqual({ scheduleId: job.id, status: "pending", runId: undefined, slot: undefined, nextAt: undefined });
    expect(await job.history({ limit: 5 })).toEqual([]);
  });

  it("getSchedule and removeSchedule of an unknown id", async () => {
    const store = new MemoryStore();
    await expect(getSchedule("sch-nope", { store })).rejects.toThrow(ScheduleNotFoundError);
    expect(await removeSchedule("sch-nope", { store })).toBe(false);
    await expect(getSchedule("../etc", { store })).rejects.toThrow(InvalidScheduleError);
    await expect(getSchedule("../etc", { store })).rejects.toThrow(/schedule id/);
  });
});

describe("schedules are data", () => {
  it("a schedule stored through one LowdbStore is read back, with its Date inputs, through a new one on the same folder", async () => {
    const dir = tempDir();
    const first = lowdb(dir);
    const when = new Date(Date.now() + 3_600_000);
    const job = await schedule(g, { name: "x", at: when }, { when, repeat: { every: "1d", times: 2 }, store: first, timezone: "Europe/Paris" });
    const second = lowdb(dir);
    const again = await getSchedule(job.id, { store: second });
    expect(again.record.inputs).toEqual({ name: "x", at: when });
    expect(again.record).toMatchObject({ everyMs: 86_400_000, times: 2, timezone: "Europe/Paris", status: "active" });
    expect(scheduleStoreFor(second)).toBeInstanceOf(FileScheduleStore);
    expect(await removeSchedule(job.id, { store: second })).toBe(true);
    expect(await listSchedules({ store: first })).toEqual([]);
  });

  it("concurrent updates from two store instances never lose a change", async () => {
    const dir = tempDir();
    const job = await schedule(g, { name: "x" }, { when: "1h", store: lowdb(dir) });
    const a = new FileScheduleStore({ dir });
    const b = new FileScheduleStore({ dir });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).update(job.id, (r) => ({ ...r, history: [...r.history, { kind: "error", slot: i, at: i, error: { name: "E", message: String(i) } }] })),
      ),
    );
    const rows = (await a.get(job.id))?.history ?? [];
    expect(rows.map((r) => r.kind === "error" && r.slot).sort((x, y) => Number(x) - Number(y))).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

describe("bad input at the other entry points", () => {
  it("a schedule file that cannot be read is SnapshotCorruptError naming it, and is left as it is", async () => {
    const dir = tempDir();
    const store = lowdb(dir);
    const job = await schedule(g, { name: "x" }, { when: "1h", store });
    const file = join(dir, "schedules", `${job.id}.json`);
    writeFileSync(file, '{"json":{"version":1');
    const err = await rejection(getSchedule(job.id, { store }));
    expect(err).toBeInstanceOf(SnapshotCorruptError);
    expect((err as SnapshotCorruptError).file).toBe(file);
  });

  it("listSchedules refuses an unknown status; the Scheduler refuses unknown options and duplicate graph names", async () => {
    const store = new MemoryStore();
    await expect(listSchedules({ store, status: "sleeping" as never })).rejects.toThrow(/status must be one of active, paused, cancelled, completed/);
    expect(() => new Scheduler({ store, pollMs: 0 })).toThrow(/pollMs must be a number of ms of at least 1/);
    expect(() => new Scheduler({ store, every: 1 } as never)).toThrow(/option every of Scheduler is not known/);
    const twin = graph("hello")
      .node("other", () => 1)
      .build();
    expect(() => new Scheduler({ store, graphs: [g, twin] })).toThrow(/two graphs named "hello"/);
    expect(() => new Scheduler({ store, graphs: [{} as never] })).toThrow(/must hold TaskGraphs/);
    expect(() => new Scheduler({ store, runOptions: { runId: "x" } as never })).toThrow(/runOptions.runId is set by the scheduler/);
  });
});
