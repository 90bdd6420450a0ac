/**
 * The engine's slot queue (the concurrency limit of a run's attempts):
 * never more tasks hold a slot than the limit, tasks start in the order
 * added, a free slot starts a task before `add` returns, a released slot
 * starts the next task in a microtask (not inside `release`), a task that
 * throws gives its slot back, a long run of tasks that end at once does
 * not nest starts (no stack overflow), and a long run of tasks that end in
 * microtasks lets the event loop in every YIELD_EVERY starts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SlotQueue, YIELD_EVERY } from "../src/engine/slot-queue.js";

/** A queue of closures, each started by calling it. */
const slots = (limit: number): SlotQueue<() => void> => new SlotQueue<() => void>(limit, (task) => task());

describe("SlotQueue", () => {
  it("starts a task before add returns while a slot is free, and queues the rest in order", () => {
    const q = slots(2);
    const started: number[] = [];
    for (let i = 0; i < 5; i++) q.add(() => void started.push(i));
    expect(started).toEqual([0, 1]);
    expect(q.taken).toBe(2);
    expect(q.size).toBe(3);
  });

  it("a released slot starts the next task in a microtask, not inside release", async () => {
    const q = slots(1);
    const log: string[] = [];
    q.add(() => log.push("a"));
    q.add(() => log.push("b"));
    q.release();
    log.push("after release");
    expect(log).toEqual(["a", "after release"]);
    await Promise.resolve();
    expect(log).toEqual(["a", "after release", "b"]);
  });

  it("a task that throws gives its slot back and the next one starts", () => {
    const q = slots(1);
    const log: string[] = [];
    q.add(() => {
      throw new Error("boom");
    });
    q.add(() => log.push("next"));
    expect(log).toEqual(["next"]);
    expect(q.taken).toBe(1);
  });

  it("a task that releases its own slot at once lets the next start without nesting (100,000 tasks)", async () => {
    const q = slots(1);
    let depth = 0;
    let maxDepth = 0;
    let ran = 0;
    const task = (): void => {
      depth += 1;
      maxDepth = Math.max(maxDepth, depth);
      ran += 1;
      q.release();
      depth -= 1;
    };
    // Queued while the slot is held, then drained.
    q.add(() => undefined);
    for (let i = 0; i < 100_000; i++) q.add(task);
    q.release();
    while (ran < 100_000) await new Promise((resolve) => setImmediate(resolve));
    expect(maxDepth).toBe(1);
    expect(q.taken).toBe(0);
  });

  it(`after ${YIELD_EVERY} starts in one turn of the event loop it lets I/O and timers in before starting more`, async () => {
    const q = slots(2);
    let ran = 0;
    let ranWhenImmediateFired = -1;
    const task = (): void => {
      ran += 1;
      // Bodies that end in a microtask, as no-op nodes do.
      queueMicrotask(() => q.release());
    };
    setImmediate(() => (ranWhenImmediateFired = ran));
    for (let i = 0; i < 3 * YIELD_EVERY; i++) q.add(task);
    while (ran < 3 * YIELD_EVERY) await new Promise((resolve) => setImmediate(resolve));
    // Without yielding, all 3,072 would have run in the first turn, before the immediate queued above.
    expect(ranWhenImmediateFired).toBeGreaterThanOrEqual(YIELD_EVERY);
    expect(ranWhenImmediateFired).toBeLessThan(YIELD_EVERY + 2);
  });

  it("property: never more than the limit hold a slot, and tasks start in the order added", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }), async (limit, ops) => {
        const q = slots(limit);
        const started: number[] = [];
        let holding = 0;
        let added = 0;
        for (const add of ops) {
          if (add || holding === 0) {
            const n = added++;
            q.add(() => {
              holding += 1;
              started.push(n);
              expect(holding).toBeLessThanOrEqual(limit);
            });
          } else {
            holding -= 1;
            q.release();
          }
          await Promise.resolve();
        }
        while (holding > 0) {
          holding -= 1;
          q.release();
          await Promise.resolve();
        }
        expect(started).toEqual(Array.from({ length: added }, (_, i) => i));
      }),
    );
  });
});
