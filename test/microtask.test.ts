/**
 * `enqueueMicrotask` (the engine's replacement for Node's `queueMicrotask`
 * on its per-step paths) keeps `queueMicrotask`'s behaviour: the callback
 * runs after the current synchronous code, in the same microtask queue as
 * `queueMicrotask` callbacks and promise reactions, in the order queued,
 * before any timer or immediate; and in the async context
 * (`AsyncLocalStorage`) it was queued from. It makes no `AsyncResource`
 * per call (the reason it exists), which async hooks can see.
 */
import { AsyncLocalStorage, createHook } from "node:async_hooks";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { enqueueMicrotask } from "../src/core/microtask.js";

/** Lets every pending microtask, immediate and timer due now run. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe("enqueueMicrotask", () => {
  it("runs after the current synchronous code and before timers and immediates", async () => {
    const log: string[] = [];
    setTimeout(() => log.push("timer"), 0);
    setImmediate(() => log.push("immediate"));
    enqueueMicrotask(() => log.push("microtask"));
    log.push("sync");
    await settle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.slice(0, 2)).toEqual(["sync", "microtask"]);
    expect(log).toContain("timer");
    expect(log).toContain("immediate");
  });

  it("keeps its place in the one microtask queue, among queueMicrotask callbacks and promise reactions", async () => {
    const kinds = fc.array(fc.constantFrom("enqueue", "queueMicrotask", "then"), { minLength: 1, maxLength: 30 });
    await fc.assert(
      fc.asyncProperty(kinds, async (order) => {
        const ran: number[] = [];
        order.forEach((kind, i) => {
          const callback = (): void => void ran.push(i);
          if (kind === "enqueue") enqueueMicrotask(callback);
          else if (kind === "queueMicrotask") queueMicrotask(callback);
          else void Promise.resolve().then(callback);
        });
        expect(ran).toEqual([]);
        await settle();
        expect(ran).toEqual(order.map((_, i) => i));
      }),
    );
  });

  it("a callback that queues another runs it in the same drain, after those queued before it", async () => {
    const log: string[] = [];
    enqueueMicrotask(() => {
      log.push("first");
      enqueueMicrotask(() => log.push("third"));
    });
    queueMicrotask(() => log.push("second"));
    await settle();
    expect(log).toEqual(["first", "second", "third"]);
  });

  it("runs the callback in the async context it was queued from", async () => {
    const als = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    als.run("a", () => enqueueMicrotask(() => seen.push(als.getStore())));
    als.run("b", () => enqueueMicrotask(() => seen.push(als.getStore())));
    enqueueMicrotask(() => seen.push(als.getStore()));
    await settle();
    expect(seen).toEqual(["a", "b", undefined]);
  });

  it("makes no AsyncResource per call, as queueMicrotask does", async () => {
    const types: string[] = [];
    const hook = createHook({ init: (_id, type) => void types.push(type) }).enable();
    try {
      queueMicrotask(() => {});
      enqueueMicrotask(() => {});
      await Promise.resolve();
    } finally {
      hook.disable();
    }
    expect(types.filter((t) => t === "Microtask")).toHaveLength(1);
  });
});
