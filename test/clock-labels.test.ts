/**
 * `ManualClock.pendingTimers()` says what set each pending timer: a run on
 * a LowdbStore renews its lease on a timer, and a retry waits out its
 * backoff on another; a test that sees two pending delays must be able to
 * tell which is which.
 */
import { describe, expect, it } from "vitest";
import { graph, ManualClock, run } from "../src/index.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-clock-labels-");

/** Polls until `check` holds (the store's file I/O takes real time), for at most 20 s. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 4_000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe("ManualClock.pendingTimers", () => {
  it("labels the lease renewal and names the retry backoff's caller", { timeout: 30_000 }, async () => {
    const clock = new ManualClock(1_000);
    let calls = 0;
    const g = graph("labelled")
      .node(
        "fetch",
        () => {
          if (++calls === 1) throw new Error("flaky");
          return 1;
        },
        { retry: { maxAttempts: 2, backoff: { initialMs: 250, jitter: false } } },
      )
      .build();
    const handle = run(g, undefined, { store: lowdb(tempDir()), clock, runId: "lbl-1" });
    await until(() => clock.pendingTimers().length === 2);
    const timers = clock.pendingTimers();
    expect(timers.map((t) => t.delayMs)).toEqual(clock.pendingDelays());
    expect(timers[0]?.delayMs).toBe(250);
    // The engine sets the backoff timer without a label: the frame that called setTimeout names it.
    expect(timers[0]?.label).toMatch(/^at \S+ \(.*src\/engine\/[\w-]+\.ts:\d+:\d+\)$/);
    expect(timers[1]?.label).toBe('lease renewal of run "lbl-1"');
    await clock.advance(250);
    expect(await handle.result()).toEqual({ fetch: 1 });
    expect(clock.pendingTimers()).toEqual([]);
  });

  it("keeps the label its setter gave, and sorts soonest first", () => {
    const clock = new ManualClock(0);
    clock.setTimeout(() => undefined, 50, "later");
    clock.setTimeout(() => undefined, 10, "sooner");
    clock.setTimeout(() => undefined, 30);
    const timers = clock.pendingTimers();
    expect(timers.map((t) => [t.delayMs, t.label.startsWith("at ") ? "caller" : t.label])).toEqual([
      [10, "sooner"],
      [30, "caller"],
      [50, "later"],
    ]);
    expect(timers[1]?.label).toContain("clock-labels.test.ts");
  });
});
