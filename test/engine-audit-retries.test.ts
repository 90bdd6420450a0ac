/**
 * Engine audit: retry and timeout edge cases that hung a run or fired a
 * timer at once. Each case failed before its fix.
 */
import { describe, expect, it } from "vitest";
import {
  GraphDefinitionError,
  InvalidOptionError,
  ManualClock,
  MemoryStore,
  NodeFailedError,
  graph,
  run,
  runAsync,
  type Clock,
  type TimerHandle,
} from "../src/index.js";
import { rejection } from "./support/async.js";

/** A ManualClock that records every delay it is asked for. */
class RecordingClock implements Clock {
  readonly inner = new ManualClock();
  readonly asked: number[] = [];
  now(): number {
    return this.inner.now();
  }
  setTimeout(fn: () => void, ms: number, label?: string): TimerHandle {
    this.asked.push(ms);
    return this.inner.setTimeout(fn, ms, label);
  }
  clearTimeout(handle: TimerHandle): void {
    this.inner.clearTimeout(handle);
  }
}

const MAX_TIMER_MS = 2_147_483_647;

describe("timeouts beyond what a timer holds", () => {
  it("build() refuses a node timeoutMs above 2147483647 ms (Node fires such a timer at once)", () => {
    const build = (): unknown =>
      graph("big-timeout")
        .node("a", () => 1, { timeoutMs: 3_000_000_000 })
        .node("b", () => 1, { retry: { timeoutMs: 2_147_483_648 } })
        .node("c", () => 1, { timeoutMs: MAX_TIMER_MS })
        .build();
    expect(build).toThrow(GraphDefinitionError);
    try {
      build();
    } catch (error) {
      const problems = (error as GraphDefinitionError).problems;
      expect(problems).toHaveLength(2);
      expect(problems[0]).toContain('node "a" timeoutMs');
      expect(problems[0]).toContain("at most 2147483647");
      expect(problems[1]).toContain('node "b" retry.timeoutMs');
    }
  });

  it("runAsync refuses a run-level retry.timeoutMs above 2147483647 ms", async () => {
    const g = graph("big-run-timeout")
      .node("a", () => 1)
      .build();
    const error = await rejection(runAsync(g, undefined, { store: new MemoryStore(), retry: { timeoutMs: 1e10 } }));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain("retry.timeoutMs");
  });
});

describe("backoff delays", () => {
  it("a backoff longer than a timer holds is slept in pieces, and the retry comes after the whole delay", async () => {
    const clock = new RecordingClock();
    let calls = 0;
    const delay = 3_000_000_000;
    const g = graph("long-backoff")
      .node(
        "a",
        () => {
          calls += 1;
          if (calls === 1) throw new Error("first fails");
          return "ok";
        },
        { retry: { maxAttempts: 2, backoff: { initialMs: delay, maxMs: delay, jitter: false } } },
      )
      .build();
    // A long lease: its renewals (a third of it apart) are the other timers of the days the clock moves through.
    const handle = run(g, undefined, { store: new MemoryStore(), clock, leaseTtlMs: 2_000_000_000 });
    const retries: number[] = [];
    handle.events.on("node:retry", (e) => retries.push(e.delayMs));
    await clock.inner.advance(0);
    expect(calls).toBe(1);
    expect(retries).toEqual([delay]);
    await clock.inner.advance(delay - 1);
    expect(calls).toBe(1);
    await clock.inner.advance(1);
    await expect(handle.result()).resolves.toEqual({ a: "ok" });
    expect(calls).toBe(2);
    expect(clock.asked.every((ms) => ms <= MAX_TIMER_MS)).toBe(true);
  });

  it("a zero initial delay with a huge factor stays 0 (0 × Infinity was NaN, and the retry never came)", { timeout: 10_000 }, async () => {
    const clock = new ManualClock();
    let calls = 0;
    const g = graph("nan-backoff")
      .node(
        "a",
        () => {
          calls += 1;
          throw new Error(`attempt ${calls}`);
        },
        { retry: { maxAttempts: 4, backoff: { initialMs: 0, factor: 1e300, jitter: false } } },
      )
      .build();
    const handle = run(g, undefined, { store: new MemoryStore(), clock });
    const retries: number[] = [];
    handle.events.on("node:retry", (e) => retries.push(e.delayMs));
    const failed = rejection(handle.result());
    for (let i = 0; i < 5; i++) await clock.advance(0);
    const error = await failed;
    expect(error).toBeInstanceOf(NodeFailedError);
    expect((error as NodeFailedError).attempts).toBe(4);
    expect(retries).toEqual([0, 0, 0]);
    expect(calls).toBe(4);
  });
});

describe("retryOn", () => {
  it("a retryOn that throws fails the node (no retry) instead of leaving the run hanging", { timeout: 10_000 }, async () => {
    let calls = 0;
    const g = graph("retry-on-throws")
      .node(
        "a",
        () => {
          calls += 1;
          throw new Error("the node's own failure");
        },
        {
          retry: {
            maxAttempts: 3,
            retryOn: () => {
              throw new Error("retryOn broke");
            },
          },
        },
      )
      .build();
    const error = await rejection(runAsync(g, undefined, { store: new MemoryStore() }));
    expect(error).toBeInstanceOf(NodeFailedError);
    expect(calls).toBe(1);
    const cause = (error as NodeFailedError).cause as Error;
    expect(cause.message).toContain("retryOn");
    expect(cause.message).toContain("the node's own failure");
    expect((cause.cause as Error).message).toBe("retryOn broke");
  });
});

describe("an error whose fields throw when read", () => {
  const cases: [string, () => unknown][] = [
    [
      "a Proxy of an Error whose get trap throws",
      () =>
        new Proxy(new Error("inner"), {
          get: () => {
            throw new Error("trap");
          },
        }),
    ],
    [
      "an Error whose message getter throws",
      () =>
        Object.create(Error.prototype, {
          message: {
            get: () => {
              throw new Error("message");
            },
          },
        }) as unknown,
    ],
    [
      "an Error whose cause's name getter throws",
      () =>
        new Error("outer", {
          cause: Object.create(Error.prototype, {
            name: {
              get: () => {
                throw new Error("name");
              },
            },
          }) as unknown,
        }),
    ],
  ];
  it.each(cases)("%s fails its node with a readable error instead of leaving the run hanging", { timeout: 10_000 }, async (_, make) => {
    let calls = 0;
    const g = graph("unreadable-error")
      .node(
        "a",
        () => {
          calls += 1;
          throw make();
        },
        { retry: { maxAttempts: 2, backoff: { initialMs: 0 } } },
      )
      .build();
    const error = await rejection(runAsync(g, undefined, { store: new MemoryStore() }));
    expect(error).toBeInstanceOf(NodeFailedError);
    expect(((error as NodeFailedError).cause as Error).message).toContain("cannot be read");
    expect(calls).toBe(2);
  });
});
