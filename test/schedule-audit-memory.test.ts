/**
 * A `MemoryStore`'s schedules behave as the file store's: the inputs and
 * metadata of a schedule are what they were when it was made, even if the
 * caller changes the objects it passed afterwards (the file store keeps a
 * copy on disk; the memory store used to keep the caller's objects).
 */
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, MemoryStore, Scheduler, getSchedule, graph, schedule } from "../src/index.js";
import { until } from "./support/async.js";

const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);
const schedulers: Scheduler[] = [];
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
});

describe("a MemoryStore's schedule", () => {
  it("runs with the inputs it was made with, not the caller's object changed afterwards", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const seen: unknown[] = [];
    const g = graph("audit-memory")
      .input<{ city: string }>()
      .node("work", ({ inputs }) => {
        seen.push(inputs.city);
        return 1;
      })
      .build();
    const inputs = { city: "Lyon" };
    const metadata = { team: "a" };
    const job = await schedule(g, inputs, { when: "1m", store, clock, metadata });
    inputs.city = "Paris";
    metadata.team = "b";
    expect((await getSchedule(job.id, { store })).record.inputs).toEqual({ city: "Lyon" });
    expect((await getSchedule(job.id, { store })).record.metadata).toEqual({ team: "a" });
    const s = new Scheduler({ store, graphs: [g], clock });
    schedulers.push(s);
    await s.start();
    await clock.advance(60_000);
    await until(() => seen.length === 1, "the run");
    expect(seen).toEqual(["Lyon"]);
  });
});
