/**
 * Engine audit: `ctx.step` in an attempt that already ended (timed out, or
 * its run cancelled) while its body ignored the signal. The step must not
 * call its function: the attempt is over, and a retry of the node may be
 * running the same step. Failed before the fix (the side effect ran).
 */
import { describe, expect, it } from "vitest";
import { ManualClock, MemoryStore, graph, run } from "../src/index.js";
import { deferred, rejection } from "./support/async.js";

describe("ctx.step after the attempt ended", () => {
  it("after a cancel, a body that goes on does not run its step's function", async () => {
    const gate = deferred();
    let effects = 0;
    let stepError: unknown;
    const started = deferred();
    const g = graph("step-after-cancel")
      .node("a", async ({ step }) => {
        started.resolve();
        await gate.promise; // ignores its signal
        try {
          return await step("effect", () => ++effects);
        } catch (error) {
          stepError = error;
          throw error;
        }
      })
      .build();
    const handle = run(g, undefined, { store: new MemoryStore() });
    const result = rejection(handle.result());
    await started.promise;
    handle.cancel("stop");
    await result;
    gate.resolve();
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(effects).toBe(0);
    expect((stepError as Error).name).toBe("RunCancelledError");
  });

  it("after a timeout, the timed-out body's step does not run beside the retry's", async () => {
    const clock = new ManualClock();
    const gates = [deferred(), deferred()];
    let effects = 0;
    const g = graph("step-after-timeout")
      .node(
        "a",
        async ({ step, attempt }) => {
          await gates[attempt - 1]!.promise; // ignores its signal
          return step("effect", () => ++effects);
        },
        { timeoutMs: 100, retry: { maxAttempts: 2, backoff: { initialMs: 0, jitter: false } } },
      )
      .build();
    const handle = run(g, undefined, { store: new MemoryStore(), clock });
    const starts: number[] = [];
    handle.events.on("node:start", (e) => starts.push(e.attempt));
    await clock.advance(0);
    await clock.advance(100); // attempt 1 times out; attempt 2 waits for its body, which still runs
    await clock.advance(0);
    expect(starts).toEqual([1]);
    gates[0]!.resolve(); // the timed-out body goes on and calls its step, which does not run; then it ends
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(effects).toBe(0);
    expect(starts).toEqual([1, 2]);
    gates[1]!.resolve();
    await expect(handle.result()).resolves.toEqual({ a: 1 });
    expect(effects).toBe(1);
  });
});
