/**
 * Schedules against realistic bad input: a corrupt schedule file (empty,
 * or with a history row or lease of the wrong shape) is skipped and
 * reported while the other schedules are served; a duplicate id, a disk
 * that refuses the write, an id too long for its run ids, unknown option
 * keys and callback URLs with credentials are typed errors at schedule().
 */
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  FileScheduleStore,
  InvalidOptionError,
  InvalidScheduleError,
  ManualClock,
  MemoryStore,
  PersistenceError,
  ScheduleExistsError,
  Scheduler,
  SnapshotCorruptError,
  UnsafeStoreFileError,
  getSchedule,
  graph,
  listSchedules,
  removeSchedule,
  runAsync,
  schedule,
  type SchedulerEventMap,
} from "../src/index.js";
import { rejection, until } from "./support/async.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-schedule-hardening-");
const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);
const g = graph("hello")
  .node("greet", () => "hi")
  .build();

const schedulers: Scheduler[] = [];
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
});

/** Rewrites the superjson document of a schedule file through `change` on its `json` part. */
function editFile(file: string, change: (json: Record<string, unknown>) => void): void {
  const doc = JSON.parse(readFileSync(file, "utf8")) as { json: Record<string, unknown> };
  change(doc.json);
  writeFileSync(file, JSON.stringify(doc));
}

describe("one corrupt schedule file", () => {
  const corruptions: [string, (file: string) => void][] = [
    ["zero-length", (file) => writeFileSync(file, "")],
    ["a history row that is null", (file) => editFile(file, (j) => void (j.history = [null]))],
    ["a run row without a run id", (file) => editFile(file, (j) => void (j.history = [{ kind: "run", slot: 1, status: "running", startedAt: 1 }]))],
    ["a lease without an expiry", (file) => editFile(file, (j) => void (j.lease = { owner: "x", pid: 1, host: "h" }))],
    ["a status that is not one", (file) => editFile(file, (j) => void (j.status = "sleeping"))],
  ];

  it.each(corruptions)("%s: listSchedules skips it, reports it, and lists the others", async (_what, corrupt) => {
    const dir = tempDir();
    const store = lowdb(dir);
    const good = await schedule(g, {}, { when: "1h", store, id: "good" });
    await schedule(g, {}, { when: "1h", store, id: "bad" });
    const file = join(dir, "schedules", "bad.json");
    corrupt(file);
    const before = readFileSync(file);
    const problems: unknown[] = [];
    const jobs = await listSchedules({ store, onProblem: (p) => problems.push(p) });
    expect(jobs.map((j) => j.id)).toEqual([good.id]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ scheduleId: "bad", file });
    const error = (problems[0] as { error: unknown }).error;
    expect(error).toBeInstanceOf(SnapshotCorruptError);
    expect((error as SnapshotCorruptError).file).toBe(file);
    expect((error as Error).message).toMatch(/^the stored schedule file .*bad\.json cannot be read/);
    expect((error as Error).message).not.toContain("run file");
    // Without a callback it still serves the others.
    expect((await listSchedules({ store })).map((j) => j.id)).toEqual([good.id]);
    // getSchedule of the bad one is the typed error; rm removes it.
    expect(await rejection(getSchedule("bad", { store }))).toBeInstanceOf(SnapshotCorruptError);
    expect(readFileSync(file)).toEqual(before);
    expect(await removeSchedule("bad", { store })).toBe(true);
  });

  it("a schedule file that is a link is skipped and reported, and nothing is read or written through it", async () => {
    const dir = tempDir();
    const store = lowdb(dir);
    const good = await schedule(g, {}, { when: "1h", store, id: "good" });
    await schedule(g, {}, { when: "1h", store, id: "bad" });
    const file = join(dir, "schedules", "bad.json");
    const target = join(dir, "elsewhere.json");
    renameSync(file, target);
    symlinkSync(target, file);
    const before = readFileSync(target);
    const problems: unknown[] = [];
    expect((await listSchedules({ store, onProblem: (p) => problems.push(p) })).map((j) => j.id)).toEqual([good.id]);
    expect(problems).toHaveLength(1);
    const error = (problems[0] as { error: unknown }).error;
    expect(error).toBeInstanceOf(SnapshotCorruptError);
    expect((error as Error).cause).toBeInstanceOf(UnsafeStoreFileError);
    expect(await rejection(getSchedule("bad", { store }))).toBeInstanceOf(SnapshotCorruptError);
    expect(readFileSync(target)).toEqual(before);
  });

  it("the Scheduler fires the other schedules and warns once per bad content, not every poll", async () => {
    const dir = tempDir();
    const store = lowdb(dir);
    const clock = new ManualClock(NOW);
    const good = await schedule(g, {}, { when: "now", store, clock, id: "good" });
    await schedule(g, {}, { when: "now", store, clock, id: "bad" });
    const file = join(dir, "schedules", "bad.json");
    writeFileSync(file, "");
    const warnings: SchedulerEventMap["warning"][] = [];
    const errors: unknown[] = [];
    const s = new Scheduler({ store, graphs: [g], clock, pollMs: 1_000 });
    schedulers.push(s);
    s.events.on("warning", (w) => warnings.push(w));
    s.events.on("error", (e) => errors.push(e.error));
    await s.start();
    await until(async () => (await getSchedule(good.id, { store })).record.history[0]?.kind === "run", "the good schedule's run");
    for (let i = 0; i < 3; i++) await s.poll();
    expect(errors).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ scheduleId: "bad", file });
    expect(warnings[0]?.error).toBeInstanceOf(SnapshotCorruptError);
    expect(readFileSync(file, "utf8")).toBe("");
    // New bad content is a new warning.
    writeFileSync(file, "{");
    await s.poll();
    await s.poll();
    expect(warnings).toHaveLength(2);
  });

  it("a stray folder named like a schedule file is skipped and reported", async () => {
    const dir = tempDir();
    const store = lowdb(dir);
    await schedule(g, {}, { when: "1h", store, id: "good" });
    mkdirSync(join(dir, "schedules", "odd.json"));
    writeFileSync(join(dir, "schedules", "notes.txt"), "hello");
    const problems: { scheduleId?: string; error: unknown }[] = [];
    const jobs = await listSchedules({ store, onProblem: (p) => problems.push(p) });
    expect(jobs.map((j) => j.id)).toEqual(["good"]);
    expect(problems.map((p) => p.scheduleId)).toEqual(["odd"]);
    expect(problems[0]?.error).toBeInstanceOf(SnapshotCorruptError);
  });
});

describe("schedule() refusals", () => {
  it("a duplicate id is ScheduleExistsError (SCHEDULE_EXISTS), on every store", async () => {
    for (const store of [new MemoryStore(), lowdb(tempDir())]) {
      await schedule(g, {}, { when: "1h", store, id: "twice" });
      const err = await rejection(schedule(g, {}, { when: "1h", store, id: "twice" }));
      expect(err).toBeInstanceOf(ScheduleExistsError);
      expect((err as ScheduleExistsError).code).toBe("SCHEDULE_EXISTS");
      expect((err as ScheduleExistsError).scheduleId).toBe("twice");
    }
  });

  it("a folder that cannot be written is PersistenceError with the cause", async () => {
    const notADir = join(tempDir(), "file");
    writeFileSync(notADir, "");
    const err = await rejection(schedule(g, {}, { when: "1h", store: new MemoryStore(), schedules: new FileScheduleStore({ dir: notADir }) }));
    expect(err).toBeInstanceOf(PersistenceError);
    expect((err as PersistenceError).code).toBe("PERSISTENCE_FAILED");
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toMatch(/^(ENOTDIR|EEXIST)$/);
    expect((err as Error).message).toMatch(/^schedule "sch-[0-9a-f]+" could not be saved/);
  });

  it("a schedule id is at most 179 characters, so that every run id (id, dash, slot with ms) is valid", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(NOW + 123);
    const longest = "a".repeat(179);
    const job = await schedule(g, {}, { when: "now", store, clock, id: longest });
    const s = new Scheduler({ store, graphs: [g], clock });
    schedulers.push(s);
    await s.start();
    await until(async () => (await getSchedule(longest, { store })).record.history.some((r) => r.kind === "run" && r.endedAt !== undefined), "the run");
    const row = (await getSchedule(job.id, { store })).record.history[0];
    expect(row).toMatchObject({ kind: "run", status: "succeeded" });
    expect(row?.kind === "run" && row.runId.length).toBe(200);
    const err = await rejection(schedule(g, {}, { when: "now", store, clock, id: "a".repeat(180) }));
    expect(err).toBeInstanceOf(InvalidScheduleError);
    expect((err as Error).message).toMatch(/at most 179 characters/);
    // The same cap for runIdPrefix.
    await schedule(g, {}, { when: "1h", store, clock, runIdPrefix: "p".repeat(179) });
    expect(await rejection(schedule(g, {}, { when: "1h", store, clock, runIdPrefix: "p".repeat(180) }))).toBeInstanceOf(InvalidOptionError);
    // And the run id really is valid.
    await runAsync(g, undefined, { store, runId: `${"a".repeat(179)}-20261123T100000.123Z` });
  });

  it("a bad schedule id is named a schedule id, not a run id", async () => {
    const store = new MemoryStore();
    for (const call of [getSchedule("../etc", { store }), removeSchedule("../etc", { store }), schedule(g, {}, { when: "1h", store, id: "../etc" })]) {
      const err = await rejection(call);
      expect(err).toBeInstanceOf(InvalidScheduleError);
      expect((err as Error).message).toMatch(/schedule id/);
      expect((err as Error).message).not.toMatch(/run id/);
    }
  });

  it("a callback URL with credentials is refused (the password would stay in every history row)", async () => {
    const store = new MemoryStore();
    const err = await rejection(schedule(g, {}, { when: "1h", store, callbackUrl: "https://user:pa55@example.com/hook" }));
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).option).toBe("callbackUrl");
    expect((err as Error).message).not.toContain("pa55");
    expect((err as Error).message).toMatch(/credentials/);
    expect(await rejection(schedule(g, {}, { when: "1h", store, callbackUrl: "https://user@example.com/hook" }))).toBeInstanceOf(InvalidOptionError);
    expect(await listSchedules({ store })).toEqual([]);
  });

  it.each([
    ["schedule()", () => schedule(g, {}, { when: "1h", store: new MemoryStore(), callbackURL: "http://x" } as never), "callbackURL", "callbackUrl"],
    ["repeat", () => schedule(g, {}, { when: "1h", store: new MemoryStore(), repeat: { every: "1h", time: 2 } } as never), "time", "times"],
    [
      "callbackRetry",
      () => schedule(g, {}, { when: "1h", store: new MemoryStore(), callbackUrl: "http://x", callbackRetry: { maxAttempt: 2 } } as never),
      "maxAttempt",
      "maxAttempts",
    ],
    ["listSchedules", () => listSchedules({ store: new MemoryStore(), stauts: "active" } as never), "stauts", "status"],
    ["getSchedule", () => getSchedule("x", { stores: new MemoryStore() } as never), "stores", "store"],
    ["Scheduler", async () => new Scheduler({ store: new MemoryStore(), pollMS: 5 } as never), "pollMS", "pollMs"],
  ])("unknown keys of %s are refused with a did-you-mean hint", async (_what, call, key, hint) => {
    const err = await rejection(call());
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as Error).message).toContain(key);
    expect((err as Error).message).toContain(`did you mean "${hint}"?`);
  });
});

describe("a slot further ahead than a Node timer can wait", () => {
  it("the Scheduler never asks its clock for a timer over 2^31-1 ms (Node fires those after 1 ms, a busy loop)", async () => {
    class RecordingClock extends ManualClock {
      readonly delays: number[] = [];
      override setTimeout(fn: () => void, ms: number) {
        this.delays.push(ms);
        return super.setTimeout(fn, ms);
      }
    }
    const clock = new RecordingClock(NOW);
    const store = new MemoryStore();
    const job = await schedule(g, {}, { when: new Date(NOW + 40 * 86_400_000), store, clock });
    const s = new Scheduler({ store, graphs: [g], clock, pollMs: 1_000 });
    schedulers.push(s);
    const acquired = new Promise((resolve) => s.events.once("schedule:acquired", resolve));
    await s.start();
    await acquired;
    expect(Math.max(...clock.delays)).toBeLessThanOrEqual(2 ** 31 - 1);
    expect((await getSchedule(job.id, { store })).record.history).toEqual([]);
  });

  it("delays given as options are refused past 2^31-1 ms", async () => {
    const store = new MemoryStore();
    expect(() => new Scheduler({ store, pollMs: 2 ** 31 })).toThrow(InvalidOptionError);
    expect(() => new Scheduler({ store, leaseTtlMs: 2 ** 31 })).toThrow(InvalidOptionError);
    // and below the lease floor: a lease renewed every third of 5 ms expires between two renewals
    expect(() => new Scheduler({ store, leaseTtlMs: 5 })).toThrow(/leaseTtlMs must be at least 100 ms/);
    for (const callbackRetry of [{ maxMs: 2 ** 31 }, { initialMs: 2 ** 31 }, { timeoutMs: 2 ** 31 }]) {
      expect(await rejection(schedule(g, {}, { when: "1h", store, callbackUrl: "http://127.0.0.1:9/", callbackRetry }))).toBeInstanceOf(InvalidOptionError);
    }
  });
});
