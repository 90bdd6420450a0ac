/**
 * `systemClock` waits out a delay longer than one Node timer holds (2^31 - 1
 * ms, about 24.8 days) in pieces: a bare Node timer fires such a delay after
 * 1 ms, so a 30-day lease TTL, wait timeout or sweep period fired at once.
 * Node's timers are faked (as Node itself, the fake cuts an overlong delay to
 * 1 ms), so the test reads the deadline exactly without waiting.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_TIMER_MS, systemClock } from "../src/core/clock.js";

const DAY = 86_400_000;

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("systemClock.setTimeout beyond a Node timer", () => {
  it.each([MAX_TIMER_MS + 1, 30 * DAY, 365 * DAY])("fires a %d ms timer at its deadline, not after 1 ms", async (ms) => {
    const fn = vi.fn();
    systemClock.setTimeout(fn, ms);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fn).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(ms - 1_001);
    expect(fn).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("is cleared at any piece", async () => {
    const fn = vi.fn();
    const handle = systemClock.setTimeout(fn, 60 * DAY);
    await vi.advanceTimersByTimeAsync(40 * DAY);
    systemClock.clearTimeout(handle);
    await vi.advanceTimersByTimeAsync(40 * DAY);
    expect(fn).not.toHaveBeenCalled();
  });

  it("keeps a timer a Node timer holds a plain Node timer", async () => {
    const fn = vi.fn();
    const handle = systemClock.setTimeout(fn, MAX_TIMER_MS);
    expect(typeof (handle as { ref?: unknown }).ref).toBe("function");
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
