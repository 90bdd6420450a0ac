/**
 * What a settled attempt keeps (issue 16, target 6: peak RSS of a
 * million-node run). A settled attempt is unlinked from the run's list of
 * live attempts and drops its callbacks, so an attempt that something
 * still references (its context, kept by user code or by a stale slot in
 * an object V8 has moved to its old space) keeps only itself alive, never
 * its run, its neighbours or the closures that started it. The list must
 * still find every attempt that runs: cancelling a run aborts the ones
 * left after others ended in any order (first, middle, last).
 */
import { describe, expect, it } from "vitest";
import { graph, MemoryStore, run, RunCancelledError, type NodeContext } from "../src/index.js";
import { LiveAttempt } from "../src/engine/attempts.js";
import { AttemptAbort } from "../src/engine/attempt-context.js";
import { rejection, until } from "./support/async.js";

/** The abort state of the attempt a context belongs to (engine-internal, read for the test). */
const abortOf = (ctx: NodeContext<unknown, Record<string, unknown>>): AttemptAbort => (ctx as unknown as { abortState: AttemptAbort }).abortState;

describe("settled attempts", () => {
  it("an attempt that ended keeps no link to the run: no neighbours, no end handler, no slot, no timer", async () => {
    const kept: AttemptAbort[] = [];
    let b = graph("retention") as unknown as {
      node(id: string, fn: (ctx: NodeContext<unknown, Record<string, unknown>>) => Promise<number>, o?: { timeoutMs?: number }): typeof b;
      output(fn: () => null): { build(): Parameters<typeof run>[0] };
    };
    for (let i = 0; i < 6; i++) {
      // Half of them with a time limit, so that they hold a timer while they run.
      b = b.node(
        `n${i}`,
        async (ctx) => {
          kept.push(abortOf(ctx));
          await new Promise((resolve) => setTimeout(resolve, i));
          return i;
        },
        i % 2 === 0 ? { timeoutMs: 60_000 } : {},
      );
    }
    const g = b.output(() => null).build();
    await run(g, undefined, { store: new MemoryStore(), maxConcurrency: 3 }).result();
    expect(kept).toHaveLength(6);
    for (const abort of kept) {
      expect(abort).toBeInstanceOf(LiveAttempt);
      const live = abort as LiveAttempt;
      expect(live.done).toBe(true);
      expect(live.prev).toBeUndefined();
      expect(live.next).toBeUndefined();
      expect(live.onEnd).toBeUndefined();
      expect(live.onAbort).toBeUndefined();
      expect(live.release).toBeUndefined();
      expect(live.timer).toBeUndefined();
      expect(live.waitingOn).toBeUndefined();
    }
  });

  it("cancelling aborts every attempt still running after others ended first, in the middle and last", async () => {
    const ids = ["a", "b", "c", "d", "e"];
    const finish = new Map<string, () => void>();
    const aborted = new Set<string>();
    let b = graph("list") as unknown as {
      node(id: string, fn: (ctx: NodeContext<unknown, Record<string, unknown>>) => Promise<string>): typeof b;
      output(fn: () => null): { build(): Parameters<typeof run>[0] };
    };
    for (const id of ids) {
      b = b.node(
        id,
        (ctx) =>
          new Promise<string>((resolve) => {
            finish.set(id, () => resolve(id));
            ctx.signal.addEventListener("abort", () => aborted.add(id));
          }),
      );
    }
    const handle = run(b.output(() => null).build(), undefined, { store: new MemoryStore(), maxConcurrency: 5 });
    await until(() => finish.size === ids.length, "every node started");
    // Attempts started a..e are listed newest first: e is the list's head, a its tail, c in the middle.
    for (const id of ["e", "c", "a"]) finish.get(id)!();
    // Their successes are recorded before the run is cancelled.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(aborted.size).toBe(0);
    handle.cancel("stop");
    expect(await rejection(handle.result())).toBeInstanceOf(RunCancelledError);
    expect([...aborted].sort()).toEqual(["b", "d"]);
  });
});
