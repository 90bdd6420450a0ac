/**
 * The Scheduler on a ManualClock and a MemoryStore: slots fire exactly
 * when due (never before), repeat with `times`, pause/resume/cancel,
 * catch-up after a simulated downtime under each policy, cron across a DST
 * change, two schedulers on one store, a claimed slot resumed (never
 * started anew), an unregistered graph reported, failures recorded.
 */
import { recordUntil, runRows } from "./support/schedules.js";
import { afterEach, describe, expect, it } from "vitest";
import {
  ManualClock,
  MemoryStore,
  Scheduler,
  getSchedule,
  graph,
  removeSchedule,
  runAsync,
  schedule,
  scheduleStoreFor,
  type SchedulerOptions,
} from "../src/index.js";
import { deferred, turns, until } from "./support/async.js";

const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);
const MIN = 60_000;
const H = 3_600_000;

const schedulers: Scheduler[] = [];
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
});

/** A graph that records the run id of every body call. */
function counting(name = "tick", fail?: (runId: string) => boolean) {
  const calls: string[] = [];
  const g = graph(name)
    .node(
      "work",
      ({ runId }) => {
        calls.push(runId);
        if (fail?.(runId)) throw new Error(`boom in ${runId}`);
        return { ran: runId };
      },
      { retry: { maxAttempts: 1 } },
    )
    .build();
  return { g, calls };
}

async function started(options: SchedulerOptions): Promise<Scheduler> {
  const s = new Scheduler(options);
  schedulers.push(s);
  await s.start();
  return s;
}

const iso = (t: number): string => new Date(t).toISOString().replace(/[-:]/g, "").replace(".000", "");

describe("slots fire when due", () => {
  it("a delay fires at its slot, not a millisecond before, with a run id from the schedule and the slot", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const { g, calls } = counting();
    const job = await schedule(g, {}, { when: "5m", store, clock });
    await started({ store, graphs: [g], clock });
    await clock.advance(5 * MIN - 1);
    expect(calls).toEqual([]);
    await clock.advance(1);
    await until(() => calls.length === 1, "the run");
    expect(calls).toEqual([`${job.id}-20261123T100500Z`]);
    await recordUntil(job, (r) => runRows(r.history)[0]?.status === "succeeded", "the row closed");
    const result = await job.lastResult();
    expect(result).toMatchObject({ status: "succeeded", runId: `${job.id}-20261123T100500Z`, outputs: { work: { ran: calls[0] } } });
    expect(result.slot?.getTime()).toBe(NOW + 5 * MIN);
    await job.refresh();
    expect(job.status).toBe("completed");
    expect(job.nextRunAt).toBeUndefined();
  });

  it("repeat every hour, 3 times: three runs at the exact slots, then completed", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const { g, calls } = counting();
    const job = await schedule(g, {}, { when: "now", repeat: { every: "1h", times: 3 }, store, clock, runIdPrefix: "hourly" });
    await started({ store, graphs: [g], clock, pollMs: H, leaseTtlMs: 3 * H });
    await clock.advance(5 * H);
    await until(() => calls.length === 3, "three runs");
    expect(calls).toEqual([`hourly-${iso(NOW)}`, `hourly-${iso(NOW + H)}`, `hourly-${iso(NOW + 2 * H)}`]);
    await job.refresh();
    expect(job.status).toBe("completed");
    const rows = runRows(await job.history());
    expect(rows.map((r) => [r.slot, r.status])).toEqual([
      [NOW + 2 * H, "succeeded"],
      [NOW + H, "succeeded"],
      [NOW, "succeeded"],
    ]);
    expect(rows.every((r) => r.durationMs !== undefined && r.endedAt !== undefined)).toBe(true);
  });

  it("cron across a DST change: 02:30 Paris fires on the day 02:30 does not exist, at 03:00", async () => {
    const start = Date.UTC(2026, 2, 27, 12);
    const clock = new ManualClock(start);
    const store = new MemoryStore();
    const { g, calls } = counting();
    const job = await schedule(g, {}, { when: { cron: "30 2 * * *" }, timezone: "Europe/Paris", store, clock });
    await started({ store, graphs: [g], clock, pollMs: 6 * H, leaseTtlMs: 18 * H });
    await clock.advance(3 * 24 * H);
    await until(() => calls.length === 3, "three runs");
    expect(calls).toEqual([`${job.id}-20260328T013000Z`, `${job.id}-20260329T010000Z`, `${job.id}-20260330T003000Z`]);
  });
});

describe("pause, resume, cancel", () => {
  it("a paused schedule fires nothing; resumed, it catches up once; cancelled, nothing more", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const { g, calls } = counting();
    const job = await schedule(g, {}, { when: "now", repeat: { every: "1h" }, store, clock });
    await started({ store, graphs: [g], clock, pollMs: MIN });
    await until(() => calls.length === 1, "the first run");
    await job.pause();
    await clock.advance(3.5 * H);
    expect(calls).toHaveLength(1);
    await job.resume();
    await clock.advance(MIN);
    await until(() => calls.length === 2, "the catch-up run");
    expect(calls[1]).toBe(`${job.id}-${iso(NOW + 3 * H)}`);
    const missed = (await job.history()).find((r) => r.kind === "missed");
    expect(missed).toMatchObject({ kind: "missed", count: 2, first: NOW + H, last: NOW + 2 * H, policy: "one" });
    await job.cancel();
    await clock.advance(5 * H);
    expect(calls).toHaveLength(2);
    expect((await getSchedule(job.id, { store })).status).toBe("cancelled");
  });
});

describe("catch-up after a simulated downtime", () => {
  /** A schedule every hour from NOW, and no scheduler until NOW + 5.5 h. */
  async function downtime(catchUp: "skip" | "one" | "all") {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const { g, calls } = counting();
    const job = await schedule(g, {}, { when: "now", repeat: { every: "1h" }, catchUp, store, clock });
    await clock.advance(5.5 * H);
    await started({ store, graphs: [g], clock, pollMs: 10 * MIN, leaseTtlMs: 3 * H });
    return { job, calls, clock };
  }

  it("all: every missed slot runs, oldest first, then the schedule waits for 6 h", async () => {
    const { job, calls } = await downtime("all");
    await until(() => calls.length === 6, "six runs");
    expect(calls).toEqual([0, 1, 2, 3, 4, 5].map((k) => `${job.id}-${iso(NOW + k * H)}`));
    await recordUntil(job, (r) => r.nextRunAt === NOW + 6 * H, "next slot");
  });

  it("one: only the latest missed slot runs; the others are recorded as missed", async () => {
    const { job, calls, clock } = await downtime("one");
    await until(() => calls.length === 1, "one run");
    expect(calls).toEqual([`${job.id}-${iso(NOW + 5 * H)}`]);
    const rows = await job.history();
    expect(rows.find((r) => r.kind === "missed")).toMatchObject({ count: 5, first: NOW, last: NOW + 4 * H, policy: "one" });
    await clock.advance(H);
    await until(() => calls.length === 2, "the next slot, on time");
    expect(calls[1]).toBe(`${job.id}-${iso(NOW + 6 * H)}`);
  });

  it("skip: nothing runs for the downtime; the next slot runs on time", async () => {
    const { job, calls, clock } = await downtime("skip");
    await recordUntil(job, (r) => r.history.length > 0, "the missed row");
    expect(calls).toEqual([]);
    expect(job.record.history).toEqual([expect.objectContaining({ kind: "missed", count: 6, first: NOW, last: NOW + 5 * H })]);
    await clock.advance(0.5 * H);
    await until(() => calls.length === 1, "the next slot");
    expect(calls).toEqual([`${job.id}-${iso(NOW + 6 * H)}`]);
  });
});

describe("one firing per slot", () => {
  it("two schedulers on one store fire each slot once; when one stops, the other takes over", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const { g, calls } = counting();
    const job = await schedule(g, {}, { when: "now", repeat: { every: "1m", times: 6 }, store, clock });
    const a = await started({ store, graphs: [g], clock, pollMs: 10_000 });
    const b = await started({ store, graphs: [g], clock, pollMs: 10_000 });
    await clock.advance(2 * MIN);
    await until(() => calls.length === 3, "three runs");
    const holder = (await getSchedule(job.id, { store })).record.lease?.owner;
    expect([a.owner, b.owner]).toContain(holder);
    await (holder === a.owner ? a : b).stop();
    await clock.advance(5 * MIN);
    await until(() => calls.length === 6, "six runs");
    expect(new Set(calls).size).toBe(6);
    expect(calls).toEqual([0, 1, 2, 3, 4, 5].map((k) => `${job.id}-${iso(NOW + k * MIN)}`));
  });

  it("a run longer than the lease TTL keeps its schedule: the lease is renewed while it runs, and no other scheduler starts the slot", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const gate = deferred();
    let bodies = 0;
    const g = graph("long")
      .node("work", async () => {
        bodies += 1;
        await gate.promise;
        return "done";
      })
      .build();
    const job = await schedule(g, {}, { when: "now", store, clock });
    const a = await started({ store, graphs: [g], clock, pollMs: H, leaseTtlMs: 30_000 });
    await until(() => bodies === 1, "the body");
    const b = await started({ store, graphs: [g], clock, pollMs: 10_000, leaseTtlMs: 30_000 });
    const bStarts: string[] = [];
    b.events.on("slot:start", (e) => bStarts.push(e.runId));
    await clock.advance(2 * MIN);
    expect((await getSchedule(job.id, { store })).record.lease?.owner).toBe(a.owner);
    gate.resolve();
    await recordUntil(job, (r) => runRows(r.history)[0]?.status === "succeeded", "the row closed by the first scheduler");
    expect(bodies).toBe(1);
    expect(bStarts).toEqual([]);
  });

  it("a claimed slot whose scheduler died is resumed by its run id, not started as a new slot", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const { g, calls } = counting();
    const job = await schedule(g, {}, { when: "now", repeat: { every: "1h" }, store, clock });
    const claimedId = `${job.id}-${iso(NOW)}`;
    // What a scheduler leaves when it dies right after claiming the first slot.
    await scheduleStoreFor(store).update(job.id, (r) => ({
      ...r,
      fired: 1,
      nextRunAt: NOW + H,
      lease: { runId: r.id, owner: "dead", pid: 1, host: "elsewhere", expiresAt: NOW - 1, token: 1 },
      history: [{ kind: "run", slot: NOW, runId: claimedId, status: "running", startedAt: NOW }],
    }));
    await clock.advance(10 * MIN);
    const s = await started({ store, graphs: [g], clock });
    const resumed: boolean[] = [];
    s.events.on("slot:start", (e) => resumed.push(e.resumed));
    await s.poll();
    await until(() => calls.length === 1, "the resumed run");
    expect(calls).toEqual([claimedId]);
    await recordUntil(job, (r) => runRows(r.history)[0]?.status === "succeeded", "the row closed");
    expect(runRows(job.record.history)).toHaveLength(1);
    await clock.advance(H);
    await until(() => calls.length === 2, "the next slot");
    expect(calls[1]).toBe(`${job.id}-${iso(NOW + H)}`);
  });

  it("a claimed slot whose run had already ended is recorded, not run again", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const { g, calls } = counting("tick", (id) => id.endsWith("B"));
    const job = await schedule(g, {}, { when: "1h", store, clock, runIdPrefix: "pre" });
    const ok = "pre-20261123T110000Z";
    await runAsync(g, undefined, { runId: ok, store, clock });
    expect(calls).toEqual([ok]);
    await scheduleStoreFor(store).update(job.id, (r) => ({
      ...r,
      fired: 1,
      history: [{ kind: "run", slot: NOW + H, runId: ok, status: "running", startedAt: NOW + H }],
    }));
    const { nextRunAt: _n, ...withoutNext } = (await getSchedule(job.id, { store })).record;
    await scheduleStoreFor(store).update(job.id, () => withoutNext);
    await started({ store, graphs: [g], clock });
    await recordUntil(job, (r) => runRows(r.history)[0]?.status === "succeeded", "the row closed");
    expect(calls).toEqual([ok]);
    expect(job.record.status).toBe("completed");
    expect((await job.lastResult())?.outputs).toEqual({ work: { ran: ok } });
  });
});

describe("failures", () => {
  it("a failed run is recorded with its error; the schedule goes on", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    let n = 0;
    const { g, calls } = counting("tick", () => ++n === 1);
    const job = await schedule(g, {}, { when: "now", repeat: { every: "1h", times: 2 }, store, clock });
    await started({ store, graphs: [g], clock, pollMs: H });
    await recordUntil(job, (r) => runRows(r.history)[0]?.status === "failed", "the failed row");
    const failed = runRows(job.record.history)[0];
    expect(failed?.error).toMatchObject({ name: "NodeFailedError", code: "NODE_FAILED" });
    expect(failed?.error?.message).toContain("boom in");
    expect(await job.lastResult()).toMatchObject({ status: "failed", error: { code: "NODE_FAILED" } });
    await clock.advance(H);
    await until(() => calls.length === 2, "the second slot");
    await recordUntil(job, (r) => r.status === "completed", "completed");
    expect(runRows(job.record.history).map((r) => r.status)).toEqual(["failed", "succeeded"]);
  });

  it("a schedule whose graph is not registered is reported in its history, not crashed on; a scheduler that has it fires the slot", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const { g, calls } = counting("missing-graph");
    const other = counting("other").g;
    const job = await schedule(g, {}, { when: "now", store, clock });
    const s = await started({ store, graphs: [other], clock });
    const reports: string[] = [];
    s.events.on("schedule:unresolved", (e) => reports.push(e.graphName));
    await clock.advance(5_000);
    await job.refresh();
    const errors = job.record.history.filter((r) => r.kind === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ slot: NOW, error: { code: "GRAPH_NOT_REGISTERED" } });
    expect((errors[0] as { error: { message: string } }).error.message).toMatch(
      /runs graph "missing-graph", which this scheduler was not given \(it has "other"\)/,
    );
    expect(job.record.nextRunAt).toBe(NOW);
    await started({ store, graphs: [g], clock });
    await until(() => calls.length === 1, "the run");
  });

  it("a run that stops to wait for an event is recorded as waiting, polled as waiting, and sends no callback", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const g = graph("approval")
      .node("ask", ({ waitFor }) => waitFor<{ ok: boolean }>("approve"))
      .build();
    const job = await schedule(g, {}, { when: "now", store, clock, callbackUrl: "http://127.0.0.1:9/never" });
    const s = await started({ store, graphs: [g], clock });
    const ends: string[] = [];
    s.events.on("slot:end", (e) => ends.push(e.status));
    const attempts: unknown[] = [];
    s.events.on("callback:attempt", (e) => attempts.push(e));
    const record = await recordUntil(job, (r) => runRows(r.history)[0]?.status === "waiting", "the waiting row");
    expect(runRows(record.history)[0]?.callback).toBeUndefined();
    expect(ends).toEqual(["waiting"]);
    expect(await job.lastResult()).toMatchObject({ status: "waiting" });
    await clock.advance(H);
    expect(attempts).toEqual([]);
  });

  it("a schedule removed while its run is in progress: the run finishes, nothing is reported as an error, nothing fires again", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const gate = deferred();
    let bodies = 0;
    const g = graph("removed")
      .node("work", async () => {
        bodies += 1;
        await gate.promise;
        return 1;
      })
      .build();
    const job = await schedule(g, {}, { when: "now", repeat: { every: "1m" }, store, clock });
    const s = await started({ store, graphs: [g], clock, pollMs: 10_000 });
    const errors: unknown[] = [];
    s.events.on("error", (e) => errors.push(e.error));
    await until(() => bodies === 1, "the body");
    await removeSchedule(job.id, { store });
    // Lease renewals come due while the run goes on.
    await clock.advance(25_000);
    gate.resolve();
    await clock.advance(5 * MIN);
    expect(bodies).toBe(1);
    expect(errors).toEqual([]);
    expect(s.view()).toEqual([]);
  });

  it("stop() waits for the running job, and lastResult polls it as running, then succeeded", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const gate = deferred();
    let entered = false;
    const g = graph("slow")
      .node("work", async () => {
        entered = true;
        await gate.promise;
        return 42;
      })
      .build();
    const job = await schedule(g, {}, { when: "now", store, clock });
    const s = await started({ store, graphs: [g], clock });
    await until(() => entered, "the body");
    expect((await job.lastResult())?.status).toBe("running");
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
    expect(s.view()).toEqual([expect.objectContaining({ scheduleId: job.id, running: expect.objectContaining({ slot: NOW }) })]);
    let stopped = false;
    const stopping = s.stop().then(() => (stopped = true));
    await turns(50);
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    expect(await job.lastResult()).toMatchObject({ status: "succeeded", outputs: { work: 42 } });
  });
});
