/**
 * Events audit, by hand: each case is one the events property
 * (events-audit-property.test.ts) found or that it cannot reach (a store
 * that fails the final write, a cancel and the deadline in one window):
 *
 * - a `once` listener hears one event, and a listener added with a context
 *   is called with it (the emitter bypassed eventemitter3's bookkeeping);
 * - `run:start` is the first event, before the start write's `snapshot`;
 * - a run resumed after its deadline emits `run:start` before `run:cancel`;
 * - a body that ignored its abort and calls `ctx.emit` after the run's end
 *   is not heard;
 * - a succeeded run whose final write fails ends with `run:error` and
 *   status `failed`, as `result()` rejects;
 * - a caller's cancel that the engine took before the deadline passed
 *   rejects with `RunCancelledError`, as `run:cancel` says, not `RunTimeoutError`;
 * - a listener that cancels the run as a node starts (one that then waits,
 *   a map node) or as a retry is set up does not leave the run hanging.
 */
import { describe, expect, it } from "vitest";
import {
  ManualClock,
  MemoryStore,
  PersistenceError,
  RunCancelledError,
  RunTimeoutError,
  graph,
  run,
  type JournalRecord,
  type Lease,
  type NodeCounts,
  type RunEventName,
  type RunHandle,
  type RunState,
} from "../src/index.js";
import { deferred, nextEvent, rejection, turns, until } from "./support/async.js";
import { RUN_EVENT_NAMES } from "./support/run-event-names.js";

/** True once `promise` settled (checked with `until`: a run that hangs fails the test). */
function settledFlag(promise: Promise<unknown>): () => boolean {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return () => settled;
}

const ALL = RUN_EVENT_NAMES;

/** The names of every event of `handle`, in order. */
function names(handle: RunHandle<unknown>): RunEventName[] {
  const seen: RunEventName[] = [];
  for (const name of ALL) handle.events.on(name, () => void seen.push(name));
  return seen;
}

function three() {
  return graph("three")
    .node("a", () => 1)
    .node("b", () => 2)
    .node("c", () => 3)
    .build();
}

describe("run events, by hand", () => {
  it("a once listener hears one event; a listener added with a context is called with it", async () => {
    const handle = run(three(), undefined, { store: new MemoryStore() });
    let onces = 0;
    handle.events.once("node:success", () => void (onces += 1));
    const context = { seen: 0 };
    handle.events.on(
      "node:success",
      function (this: typeof context) {
        this.seen += 1;
      },
      context,
    );
    await handle.result();
    expect(onces).toBe(1);
    expect(context.seen).toBe(3);
    expect(handle.events.listenerCount("node:success")).toBe(1);
  });

  it("run:start comes first; the start write's snapshot event follows it", async () => {
    const handle = run(three(), undefined, { store: new MemoryStore() });
    const seen = names(handle);
    await handle.result();
    expect(seen[0]).toBe("run:start");
    expect(seen[1]).toBe("snapshot");
    expect(seen.at(-1)).toBe("run:success");
  });

  it("a run resumed after its deadline emits run:start, then run:cancel, and rejects with RunTimeoutError", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(1_000_000);
    const gate = deferred();
    const g = graph("slow")
      .node("a", () => gate.promise)
      .build();
    const first = run(g, undefined, { store, clock, runId: "late", timeoutMs: 1_000 });
    await nextEvent(first, "node:start");
    first.cancel("paused");
    await rejection(first.result());
    gate.resolve();
    await clock.advance(5_000);
    const second = run(g, undefined, { store, clock, runId: "late" });
    const seen = names(second);
    expect(await rejection(second.result())).toBeInstanceOf(RunTimeoutError);
    expect(seen).toEqual(["run:start", "run:cancel"]);
    expect(second.status).toBe("cancelled");
  });

  it("a body that ignored its abort and calls ctx.emit after the run's end is not heard", async () => {
    const gate = deferred();
    const g = graph("deaf")
      .node("a", async ({ emit }) => {
        await gate.promise;
        emit("late", 1);
      })
      .build();
    const handle = run(g, undefined, { store: new MemoryStore() });
    const seen = names(handle);
    await nextEvent(handle, "node:start");
    handle.cancel("stop");
    await rejection(handle.result());
    gate.resolve();
    await turns(5);
    expect(seen.at(-1)).toBe("run:cancel");
    expect(seen).not.toContain("node:event");
  });

  it("a succeeded run whose final write fails ends with run:error and status failed, as result() rejects", async () => {
    class FailingEnd extends MemoryStore {
      failing = false;
      override async writeSnapshot(state: RunState, seq: number, lease?: Lease): Promise<void> {
        if (this.failing) throw new Error("disk full");
        return super.writeSnapshot(state, seq, lease);
      }
      override async append(runId: string, records: readonly JournalRecord[], lease?: Lease, counts?: NodeCounts): Promise<void> {
        if (this.failing) throw new Error("disk full");
        return super.append(runId, records, lease, counts);
      }
    }
    const store = new FailingEnd();
    const g = graph("one")
      .node("a", () => 1)
      .build();
    const handle = run(g, undefined, { store });
    const seen = names(handle);
    const ends: unknown[] = [];
    handle.events.on("run:error", (e) => void ends.push(e.error));
    // The leaf's success needs no write of its own: the one after it is the run's final write.
    handle.events.on("node:success", () => void (store.failing = true));
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(PersistenceError);
    expect(seen.at(-1)).toBe("run:error");
    expect(ends).toEqual([error]);
    expect(handle.status).toBe("failed");
  });

  it("a caller's cancel taken before the deadline passed rejects with RunCancelledError, as run:cancel says", async () => {
    class GatedAppends extends MemoryStore {
      readonly gate = deferred();
      appends = 0;
      override async append(runId: string, records: readonly JournalRecord[], lease?: Lease, counts?: NodeCounts): Promise<void> {
        this.appends += 1;
        await this.gate.promise;
        return super.append(runId, records, lease, counts);
      }
    }
    const store = new GatedAppends();
    const clock = new ManualClock(1_000_000);
    const g = graph("chain")
      .node("a", () => 1)
      .node("b", () => 2, { after: ["a"] })
      .build();
    const handle = run(g, undefined, { store, clock, timeoutMs: 1_000 });
    const reasons: string[] = [];
    handle.events.on("run:cancel", (e) => void reasons.push(e.reason));
    // `a` succeeded and waits for its write (held by the store) before `b` may start: the run is still open.
    await until(() => store.appends > 0, "a's write");
    handle.cancel("the caller stopped it");
    await clock.advance(1_000);
    store.gate.resolve();
    const error = await rejection(handle.result());
    expect(reasons).toEqual(["the caller stopped it"]);
    expect(error).toBeInstanceOf(RunCancelledError);
    expect((error as Error).message).toContain("the caller stopped it");
    expect(handle.status).toBe("cancelled");
  });

  describe("a listener that cancels the run", () => {
    it("as a node that then waits starts: the run ends cancelled", async () => {
      const g = graph("waiter")
        .node("w", ({ waitFor }) => waitFor("never"))
        .build();
      const handle = run(g, undefined, { store: new MemoryStore() });
      const seen = names(handle);
      handle.events.on("node:start", () => handle.cancel("from a listener"));
      const settled = settledFlag(handle.result());
      await until(settled, "the run's end");
      expect(await rejection(handle.result())).toBeInstanceOf(RunCancelledError);
      expect(seen.at(-1)).toBe("run:cancel");
    });

    it("as a map node starts: the run ends cancelled, no element succeeds", async () => {
      const g = graph("mapped")
        .node("list", () => [1, 2, 3])
        // Elements that never finish on their own: the cancel must end them.
        .map("double", "list", () => new Promise<number>(() => undefined))
        .build();
      const handle = run(g, undefined, { store: new MemoryStore() });
      const succeeded: string[] = [];
      handle.events.on("node:start", (e) => {
        if (e.nodeId === "double") handle.cancel("from a listener");
      });
      handle.events.on("node:success", (e) => void succeeded.push(e.nodeId));
      const settled = settledFlag(handle.result());
      await until(settled, "the run's end");
      expect(await rejection(handle.result())).toBeInstanceOf(RunCancelledError);
      // The cancel is taken once the map node's start is over: elements it queued then are aborted, none succeeds.
      expect(succeeded).toEqual(["list"]);
    });

    it("as a retry is set up: the run ends cancelled without waiting out the backoff", async () => {
      const clock = new ManualClock(0);
      const g = graph("flaky")
        .node("a", () => {
          throw new Error("glitch");
        })
        .build();
      const handle = run(g, undefined, { store: new MemoryStore(), clock, retry: { maxAttempts: 3, backoff: { initialMs: 60_000, jitter: false } } });
      handle.events.on("node:retry", () => handle.cancel("from a listener"));
      const settled = settledFlag(handle.result());
      // The clock never moves: the backoff's timer never fires.
      await until(settled, "the run's end");
      expect(await rejection(handle.result())).toBeInstanceOf(RunCancelledError);
    });
  });
});
