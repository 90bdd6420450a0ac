/**
 * Audit: the pacing of sweeps and of retries of failed tasks.
 *
 * - A `refreshEveryMs` longer than a Node timer can hold (2^31 - 1 ms,
 *   about 24.8 days) is valid, and Node fires such a timer after 1 ms:
 *   the wait for the next sweep must be armed in pieces a timer holds,
 *   never as one overflowing timer (a runner sweeping in a tight loop).
 * - The backoff of a failed task is a finite wait in `[0, maxMs]` for
 *   every valid policy and any number of failures: a NaN wait (`0 ×
 *   Infinity` once `factor^k` overflows) would leave the task never
 *   retried.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defineWorkflow, ManualClock, MemoryStore, StageRunner, type Clock } from "../src/index.js";
import { FailedRetries, retryFailedPolicy } from "../src/stages/failed-retries.js";
import { sleepUntil } from "../src/stages/sweep-pacing.js";
import { until } from "./support/async.js";

/** The longest delay a Node timer holds; a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A ManualClock that behaves as Node's timers do with a delay beyond {@link MAX_TIMER_MS}, and records every delay asked for. */
function nodeLikeClock(): { clock: Clock; manual: ManualClock; delays: number[] } {
  const manual = new ManualClock(1_000_000);
  const delays: number[] = [];
  const clock: Clock = {
    now: () => manual.now(),
    setTimeout: (fn, ms, label) => {
      delays.push(ms);
      return manual.setTimeout(fn, ms > MAX_TIMER_MS ? 1 : ms, label);
    },
    clearTimeout: (handle) => manual.clearTimeout(handle),
  };
  return { clock, manual, delays };
}

const workflow = defineWorkflow({
  name: "audit-pacing",
  stages: [
    { id: "label", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

describe("the wait for the next sweep", () => {
  it("with refreshEveryMs beyond a Node timer (30 days) does not start the next sweep after 1 ms", async () => {
    const { clock, manual, delays } = nodeLikeClock();
    const runner = new StageRunner(workflow, { store: new MemoryStore(), clock });
    runner.stage("label", async () => undefined); // stays: every sweep asks again
    let sweeps = 0;
    runner.events.on("sweep:start", () => void sweeps++);
    const controller = new AbortController();
    const done = runner.runAsync({ tasks: [{ id: "t1" }], runId: "r1", refreshEveryMs: 30 * 86_400_000, signal: controller.signal });
    await until(() => delays.length > 0, "the wait for the next sweep");
    await manual.advance(1_000); // a second later: far from the next sweep
    await until(() => sweeps > 1 || manual.pendingDelays().length > 0, "the wait to be armed again or a second sweep");
    expect(sweeps).toBe(1);
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_TIMER_MS);
    controller.abort();
    const report = await done;
    expect(report.sweeps).toBe(1);
  });

  it("sleepUntil resolves at the deadline, however far, and not before", async () => {
    const { clock, manual, delays } = nodeLikeClock();
    const deadline = manual.now() + 3 * MAX_TIMER_MS + 5;
    let woke: boolean | undefined;
    void sleepUntil(clock, deadline, undefined).then((stopped) => (woke = stopped));
    await manual.advance(3 * MAX_TIMER_MS);
    expect(woke).toBeUndefined();
    await manual.advance(5);
    await until(() => woke !== undefined, "the wake-up");
    expect(woke).toBe(false);
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_TIMER_MS);
  });

  it("sleepUntil resolves true when the signal aborts during a later piece of a long wait", async () => {
    const { clock, manual } = nodeLikeClock();
    const controller = new AbortController();
    let woke: boolean | undefined;
    void sleepUntil(clock, manual.now() + 2 * MAX_TIMER_MS + 1, controller.signal).then((stopped) => (woke = stopped));
    await manual.advance(MAX_TIMER_MS + 10);
    expect(woke).toBeUndefined();
    controller.abort();
    await until(() => woke !== undefined, "the abort");
    expect(woke).toBe(true);
    expect(manual.pendingDelays()).toEqual([]);
  });
});

describe("the backoff of a failed task at later sweeps", () => {
  it("is always a finite wait in [0, maxMs], and a task under its retry cap is due once it passed (property)", () => {
    fc.assert(
      fc.property(
        fc.record({
          initialMs: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e12, noNaN: true })),
          factor: fc.oneof(fc.constant(1), fc.double({ min: 1, max: 1e6, noNaN: true })),
          maxMs: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e12, noNaN: true })),
        }),
        fc.integer({ min: 1, max: 3_000 }),
        (options, failures) => {
          const retries = new FailedRetries(retryFailedPolicy({ ...options, maxRetries: Infinity }, 1_000));
          const start = 1_000_000;
          for (let i = 0; i < failures; i++) retries.failed("t1", start);
          // Due, at the latest, maxMs after the sweep it last failed in.
          expect(retries.due("t1", start + options.maxMs)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("retries a task failing at every sweep with initialMs 0 and no cap, past 1,100 failures", () => {
    const retries = new FailedRetries(retryFailedPolicy({ initialMs: 0, maxRetries: Infinity }, 1_000));
    let now = 0;
    for (let k = 1; k <= 1_100; k++) {
      expect(retries.due("t1", now)).toBe(true);
      retries.failed("t1", now);
      now += 1_000;
    }
    expect(retries.due("t1", now)).toBe(true);
  });
});
