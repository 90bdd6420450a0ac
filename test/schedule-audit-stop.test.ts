/**
 * `Scheduler.stop()` caught between two steps: no slot starts once it was
 * called, and no timer of the scheduler is left behind once it resolved
 * (a leftover timer keeps the process alive and fires into a stopped
 * scheduler).
 */
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, MemoryStore, Scheduler, graph, schedule, scheduleStoreFor } from "../src/index.js";
import { until } from "./support/async.js";
import { GatedScheduleStore } from "./support/schedule-audit.js";

const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);
const schedulers: Scheduler[] = [];
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
});

function counting() {
  const calls: string[] = [];
  const g = graph("audit-stop")
    .node("work", ({ runId }) => {
      calls.push(runId);
      return 1;
    })
    .build();
  return { g, calls };
}

describe("Scheduler.stop() between two steps", () => {
  it("called while a poll is taking a due schedule's lease: the slot does not start", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const schedules = new GatedScheduleStore(scheduleStoreFor(store));
    const { g, calls } = counting();
    const s = new Scheduler({ store, schedules, graphs: [g], clock });
    schedulers.push(s);
    await s.start();
    await schedule(g, {}, { when: "1m", store, schedules, clock });
    await clock.advance(60_000 - 1);
    schedules.close();
    const polled = s.poll();
    await clock.advance(1);
    await until(() => schedules.waiting > 0, "the poll to take the lease");
    const starts: number[] = [];
    s.events.on("slot:start", (e) => starts.push(e.slot));
    const stopped = s.stop();
    schedules.open();
    await Promise.all([polled, stopped]);
    expect(starts).toEqual([]);
    expect(calls).toEqual([]);
  });

  it("called while the first poll takes a due schedule's lease: the slot does not start", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const schedules = new GatedScheduleStore(scheduleStoreFor(store));
    const { g, calls } = counting();
    await schedule(g, {}, { when: "1m", store, schedules, clock });
    await clock.advance(60_000);
    const s = new Scheduler({ store, schedules, graphs: [g], clock });
    schedulers.push(s);
    const starts: number[] = [];
    s.events.on("slot:start", (e) => starts.push(e.slot));
    schedules.close();
    const begun = s.start();
    await until(() => schedules.waiting > 0, "the poll to take the lease");
    const stopped = s.stop();
    schedules.open();
    await Promise.all([begun, stopped]);
    expect(starts).toEqual([]);
    expect(calls).toEqual([]);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it("called while a lease renewal is under way: no timer is left once it resolved", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const schedules = new GatedScheduleStore(scheduleStoreFor(store));
    const { g } = counting();
    await schedule(g, {}, { when: "1h", store, schedules, clock });
    const s = new Scheduler({ store, schedules, graphs: [g], clock, leaseTtlMs: 30_000 });
    schedulers.push(s);
    await s.start();
    expect(s.view()).toHaveLength(1);
    schedules.close();
    const advanced = clock.advance(10_000);
    await until(() => schedules.waiting > 0, "the renewal to reach the store");
    const stopped = s.stop();
    schedules.open();
    await Promise.all([advanced, stopped]);
    expect(clock.pendingTimers()).toEqual([]);
  });
});
