/**
 * The ForwardScheduler through the public API: ready-set order,
 * concurrency limits, retry policy and backoff (under a ManualClock, never
 * real sleeps), timeouts, and the failure policies.
 */
import { describe, expect, it } from "vitest";
import {
  GraphBuilder,
  ManualClock,
  MemoryStore,
  NodeFailedError,
  NodeTimeoutError,
  NonRetryableError,
  RunCancelledError,
  graph,
  run,
  runAsync,
  type RunEventMap,
  type NodeRecord,
  type RunHandle,
} from "../src/index.js";
import { nodeRecords } from "../src/state/node-table.js";
import { deferred, type Deferred, nextEvent, until, rejection } from "./support/async.js";

const store = (): MemoryStore => new MemoryStore();

/** A builder whose node ids are not known statically (for graphs built in loops). */
type LooseBuilder = GraphBuilder<undefined, Record<string, unknown>, never>;
const loose = (name: string): LooseBuilder => graph(name) as unknown as LooseBuilder;

describe("ready-set order", () => {
  it("runs a diamond in dependency order and gives the join both deps", async () => {
    const order: string[] = [];
    const joinDeps: unknown[] = [];
    const g = graph("diamond")
      .node("a", () => {
        order.push("a");
        return 1;
      })
      .node(
        "b",
        ({ deps }) => {
          order.push("b");
          return deps.a + 1;
        },
        { after: ["a"] },
      )
      .node(
        "c",
        ({ deps }) => {
          order.push("c");
          return `c${deps.a}`;
        },
        { after: ["a"] },
      )
      .node(
        "d",
        ({ deps }) => {
          order.push("d");
          joinDeps.push(deps);
          return `${deps.b}:${deps.c}`;
        },
        { after: ["b", "c"] },
      )
      .build();
    const out = await runAsync(g, undefined, { store: store() });
    expect(order).toHaveLength(4);
    expect(order[0]).toBe("a");
    expect(order.slice(1, 3).sort()).toEqual(["b", "c"]);
    expect(order[3]).toBe("d");
    expect(joinDeps).toEqual([{ b: 2, c: "c1" }]);
    expect(out).toEqual({ a: 1, b: 2, c: "c1", d: "2:c1" });
  });

  it("a join does not start until its slowest dependency succeeded", async () => {
    const slow = deferred<string>();
    let joined = false;
    const g = graph("join-waits")
      .node("fast", () => "f")
      .node("slow", () => slow.promise)
      .node(
        "join",
        ({ deps }) => {
          joined = true;
          return deps.fast + deps.slow;
        },
        { after: ["fast", "slow"] },
      )
      .build();
    const handle = run(g, undefined, { store: store() });
    await nextEvent(handle, "node:success", (e) => e.nodeId === "fast");
    await until(() => handle.state !== undefined, "state");
    expect(joined).toBe(false);
    slow.resolve("s");
    await expect(handle.result()).resolves.toEqual({ fast: "f", slow: "s", join: "fs" });
    expect(joined).toBe(true);
  });
});

describe("maxConcurrency", () => {
  it("never runs more bodies than the limit, and does run that many in parallel", async () => {
    const limit = 3;
    const total = 10;
    let running = 0;
    let max = 0;
    let finished = 0;
    const gates: Deferred[] = [];
    let b = loose("parallel");
    for (let i = 0; i < total; i++) {
      b = b.node(`n${i}`, async () => {
        running += 1;
        max = Math.max(max, running);
        const gate = deferred();
        gates.push(gate);
        await gate.promise;
        running -= 1;
        finished += 1;
        return i;
      });
    }
    const handle = run(b.build(), undefined, { store: store(), maxConcurrency: limit });
    while (finished < total) {
      const expected = Math.min(limit, total - finished);
      await until(() => running === expected, `${expected} running`);
      // Give the queue every chance to overrun the limit before checking.
      for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
      expect(running).toBe(expected);
      const open = gates.splice(0);
      expect(open).toHaveLength(expected);
      const before = finished;
      for (const gate of open) gate.resolve();
      await until(() => finished === before + expected, "the released nodes to finish");
    }
    await handle.result();
    expect(max).toBe(limit);
    expect(finished).toBe(total);
  });

  it("maxConcurrency: 1 runs every node of a 1,000-wide fan-out, one at a time", async () => {
    let executions = 0;
    let running = 0;
    let max = 0;
    let b = loose("fan-out").node("root", () => "r");
    const leaves: string[] = [];
    for (let i = 0; i < 1_000; i++) {
      const id = `leaf${i}`;
      leaves.push(id);
      b = b.node(
        id,
        async ({ deps }) => {
          running += 1;
          max = Math.max(max, running);
          executions += 1;
          await Promise.resolve();
          running -= 1;
          return `${String(deps.root)}${i}`;
        },
        { after: ["root"] },
      );
    }
    let joinDeps = 0;
    b = b.node(
      "join",
      ({ deps }) => {
        joinDeps = Object.keys(deps).length;
        return joinDeps;
      },
      { after: leaves },
    );
    const out = (await runAsync(b.build(), undefined, { store: store(), maxConcurrency: 1 })) as Record<string, unknown>;
    expect(executions).toBe(1_000);
    expect(max).toBe(1);
    expect(joinDeps).toBe(1_000);
    expect(out.join).toBe(1_000);
    expect(out.leaf999).toBe("r999");
  });

  it("maxConcurrency: Infinity is allowed and runs every ready node at once", async () => {
    const total = 50;
    let running = 0;
    const gate = deferred();
    let b = loose("unbounded");
    for (let i = 0; i < total; i++) {
      b = b.node(`n${i}`, async () => {
        running += 1;
        await gate.promise;
        return i;
      });
    }
    const handle = run(b.build(), undefined, { store: store(), maxConcurrency: Infinity });
    await until(() => running === total, "every node running");
    expect(running).toBe(total);
    gate.resolve();
    const out = (await handle.result()) as Record<string, number>;
    expect(Object.keys(out)).toHaveLength(total);
  });
});

describe("retries and backoff (ManualClock)", () => {
  /** A node that fails `failures` times, then returns "ok"; records each attempt. */
  function flaky(failures: number, options: Parameters<typeof run>[2]) {
    const attempts: number[] = [];
    const errors: Error[] = [];
    const g = graph("flaky")
      .node("f", ({ attempt }) => {
        attempts.push(attempt);
        if (attempt <= failures) {
          const err = new Error(`boom ${attempt}`);
          errors.push(err);
          throw err;
        }
        return "ok";
      })
      .build();
    const handle = run(g, undefined, { store: store(), ...options });
    const retries: RunEventMap["node:retry"][] = [];
    handle.events.on("node:retry", (e) => void retries.push(e));
    /** Waits until the `n`th retry was scheduled (its sleep is set by then). */
    const retried = (n: number): Promise<void> => until(() => retries.length >= n, `retry ${n}`);
    return { handle, attempts, errors, retries, retried };
  }

  it("waits exactly 100, 200, 400 ms between 4 attempts (jitter off)", async () => {
    const clock = new ManualClock(1_000);
    const { handle, attempts, errors, retries, retried } = flaky(3, {
      clock,
      retry: { maxAttempts: 4, backoff: { initialMs: 100, factor: 2, jitter: false } },
    });
    const pending: number[] = [];
    for (const [i, expected] of [100, 200, 400].entries()) {
      await retried(i + 1);
      // The backoff sleep is the soonest timer (the lease renewal is due much later).
      pending.push(clock.pendingDelays()[0] ?? -1);
      await clock.advance(expected - 1);
      expect(attempts).toHaveLength(i + 1); // not one ms early
      expect(retries).toHaveLength(i + 1);
      await clock.advance(1);
    }
    await expect(handle.result()).resolves.toEqual({ f: "ok" });
    expect(pending).toEqual([100, 200, 400]);
    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(retries.map((r) => [r.attempt, r.delayMs, r.error])).toEqual([
      [1, 100, errors[0]],
      [2, 200, errors[1]],
      [3, 400, errors[2]],
    ]);
    expect(retries.map((r) => r.at)).toEqual([1_000, 1_100, 1_300]);
    expect(retries.every((r) => r.runId === handle.runId && r.nodeId === "f")).toBe(true);
  });

  it("node retry options override the run's", async () => {
    const clock = new ManualClock();
    const attempts: number[] = [];
    const g = graph("override")
      .node(
        "f",
        ({ attempt }) => {
          attempts.push(attempt);
          if (attempt < 2) throw new Error("once");
          return attempt;
        },
        { retry: { maxAttempts: 2, backoff: { initialMs: 7 } } },
      )
      .build();
    const handle = run(g, undefined, {
      store: store(),
      clock,
      retry: { maxAttempts: 1, backoff: { initialMs: 1_000, jitter: false } },
    });
    const retry = await nextEvent(handle, "node:retry");
    expect(retry.delayMs).toBe(7); // node initialMs, run's jitter: false
    await clock.advance(7);
    await expect(handle.result()).resolves.toEqual({ f: 2 });
    expect(attempts).toEqual([1, 2]);
  });

  it("jitter with random () => 0 waits half the nominal delay", async () => {
    const clock = new ManualClock();
    const { handle, retries, retried } = flaky(2, {
      clock,
      random: () => 0,
      retry: { maxAttempts: 3, backoff: { initialMs: 100, factor: 2, jitter: true } },
    });
    await retried(1);
    expect(clock.pendingDelays()[0]).toBe(50);
    await clock.advance(50);
    await retried(2);
    expect(clock.pendingDelays()[0]).toBe(100);
    await clock.advance(100);
    await expect(handle.result()).resolves.toEqual({ f: "ok" });
    expect(retries.map((r) => r.delayMs)).toEqual([50, 100]);
  });

  it("jitter with random () => 0.999 waits close to the full nominal delay", async () => {
    const clock = new ManualClock();
    const { handle, retries, retried } = flaky(2, {
      clock,
      random: () => 0.999,
      retry: { maxAttempts: 3, backoff: { initialMs: 100, factor: 2, jitter: true } },
    });
    await retried(1);
    const [firstSleep] = clock.pendingDelays();
    await clock.advance(100);
    await retried(2);
    const [secondSleep] = clock.pendingDelays();
    await clock.advance(200);
    await expect(handle.result()).resolves.toEqual({ f: "ok" });
    const [first, second] = retries.map((r) => r.delayMs);
    expect(first).toBeGreaterThanOrEqual(99);
    expect(first).toBeLessThanOrEqual(100);
    expect(second).toBeGreaterThanOrEqual(199);
    expect(second).toBeLessThanOrEqual(200);
    expect([firstSleep, secondSleep]).toEqual([first, second]);
  });

  it("maxMs caps every delay", async () => {
    const clock = new ManualClock();
    const { handle, retries, retried } = flaky(4, {
      clock,
      retry: { maxAttempts: 5, backoff: { initialMs: 100, factor: 10, maxMs: 500, jitter: false } },
    });
    for (const [i, expected] of [100, 500, 500, 500].entries()) {
      await retried(i + 1);
      expect(clock.pendingDelays()[0]).toBe(expected);
      await clock.advance(expected);
    }
    await expect(handle.result()).resolves.toEqual({ f: "ok" });
    expect(retries.map((r) => r.delayMs)).toEqual([100, 500, 500, 500]);
  });

  it("fails with NodeFailedError after maxAttempts, carrying the last error", async () => {
    const clock = new ManualClock();
    const { handle, attempts, errors, retried } = flaky(10, {
      clock,
      retry: { maxAttempts: 3, backoff: { initialMs: 10, jitter: false } },
    });
    const failed = nextEvent(handle, "node:error");
    await retried(1);
    await clock.advance(10);
    await retried(2);
    await clock.advance(20);
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(NodeFailedError);
    const nf = err as NodeFailedError;
    expect(nf.code).toBe("NODE_FAILED");
    expect(nf.nodeId).toBe("f");
    expect(nf.attempts).toBe(3);
    expect(nf.cause).toBe(errors[2]);
    expect(attempts).toEqual([1, 2, 3]);
    expect((await failed).attempt).toBe(3);
    expect(handle.status).toBe("failed");
  });

  it("retryOn returning false stops retrying", async () => {
    const clock = new ManualClock();
    const calls: [unknown, number][] = [];
    const { handle, attempts, errors, retried } = flaky(10, {
      clock,
      retry: {
        maxAttempts: 5,
        backoff: { initialMs: 10, jitter: false },
        retryOn: (err, attempt) => {
          calls.push([err, attempt]);
          return attempt < 2;
        },
      },
    });
    await retried(1);
    await clock.advance(10);
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(NodeFailedError);
    expect((err as NodeFailedError).code).toBe("NODE_FAILED");
    expect((err as NodeFailedError).attempts).toBe(2);
    expect((err as NodeFailedError).cause).toBe(errors[1]);
    expect(attempts).toEqual([1, 2]);
    expect(calls).toEqual([
      [errors[0], 1],
      [errors[1], 2],
    ]);
  });

  it("NonRetryableError stops at 1 attempt", async () => {
    let attempts = 0;
    const cause = new NonRetryableError("no card on file");
    const g = graph("non-retryable")
      .node("charge", () => {
        attempts += 1;
        throw cause;
      })
      .build();
    const err = await rejection(runAsync(g, undefined, { store: store(), clock: new ManualClock(), retry: { maxAttempts: 5 } }));
    expect(err).toBeInstanceOf(NodeFailedError);
    const nf = err as NodeFailedError;
    expect(nf.code).toBe("NODE_FAILED");
    expect(nf.attempts).toBe(1);
    expect(nf.cause).toBe(cause);
    expect(cause.code).toBe("NON_RETRYABLE");
    expect(attempts).toBe(1);
  });
});

describe("retry sleeps", () => {
  it("a node sleeping before a retry holds no concurrency slot", async () => {
    const clock = new ManualClock();
    const ran: string[] = [];
    const g = graph("sleep-slot")
      .node(
        "flaky",
        ({ attempt }) => {
          ran.push(`flaky#${attempt}`);
          if (attempt === 1) throw new Error("later");
          return "f";
        },
        { retry: { maxAttempts: 2, backoff: { initialMs: 1_000, jitter: false } } },
      )
      .node("other", () => {
        ran.push("other");
        return "o";
      })
      .node("next", () => void ran.push("next"), { after: ["other"] })
      .build();
    const handle = run(g, undefined, { store: store(), clock, maxConcurrency: 1 });
    // Without advancing the clock, everything but flaky's second attempt runs.
    await until(() => ran.includes("next"), "the independent chain to finish during the sleep");
    expect(ran).toEqual(["flaky#1", "other", "next"]);
    expect(clock.pendingDelays()[0]).toBe(1_000);
    await clock.advance(1_000);
    await expect(handle.result()).resolves.toEqual({ flaky: "f", other: "o", next: undefined });
    expect(ran).toEqual(["flaky#1", "other", "next", "flaky#2"]);
  });

  it("cancel() during a retry sleep ends the run at once with RunCancelledError", async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const g = graph("cancel-sleep")
      .node(
        "flaky",
        () => {
          attempts += 1;
          throw new Error("again");
        },
        { retry: { maxAttempts: 5, backoff: { initialMs: 60_000, jitter: false } } },
      )
      .build();
    const handle = run(g, undefined, { store: store(), clock });
    await nextEvent(handle, "node:retry");
    handle.cancel("shutting down");
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(RunCancelledError);
    expect((err as RunCancelledError).code).toBe("RUN_CANCELLED");
    expect(attempts).toBe(1);
    expect([...nodeList(handle)][0]?.status).toBe("cancelled");
    expect(clock.pendingDelays()).toEqual([]);
  });
});

describe("per-attempt timeoutMs", () => {
  it("aborts ctx.signal with NodeTimeoutError, counts as a failed attempt, and retries", async () => {
    const clock = new ManualClock();
    const signals: AbortSignal[] = [];
    const g = graph("timeout")
      .node(
        "slow",
        ({ attempt, signal }) => {
          signals.push(signal);
          if (attempt === 1) return new Promise<string>(() => undefined); // never settles, ignores its signal
          return "second try";
        },
        { timeoutMs: 50, retry: { maxAttempts: 2, backoff: { initialMs: 5, jitter: false } } },
      )
      .build();
    const handle = run(g, undefined, { store: store(), clock });
    await nextEvent(handle, "node:start");
    expect(clock.pendingDelays()).toContain(50);
    const retry = nextEvent(handle, "node:retry");
    await clock.advance(49);
    expect(signals[0]?.aborted).toBe(false);
    await clock.advance(1);
    expect(signals[0]?.aborted).toBe(true);
    const reason: unknown = signals[0]?.reason;
    expect(reason).toBeInstanceOf(NodeTimeoutError);
    expect((reason as NodeTimeoutError).code).toBe("NODE_TIMEOUT");
    expect((reason as NodeTimeoutError).nodeId).toBe("slow");
    expect((reason as NodeTimeoutError).timeoutMs).toBe(50);
    const r = await retry;
    expect(r.attempt).toBe(1);
    expect(r.error).toBe(reason);
    const warnings: { code: string; nodeId?: string; message: string }[] = [];
    handle.events.on("warning", (w) => warnings.push(w));
    // The backoff is over, but the first body still runs (it ignores its signal): the retry does not start
    // beside it, for as long again as the time limit.
    await clock.advance(5);
    expect(signals).toHaveLength(1);
    await clock.advance(44);
    expect(signals).toHaveLength(1);
    expect(warnings).toEqual([]);
    await clock.advance(1); // 50 ms after the timeout: the body is given up on, with a warning, and the retry starts
    await expect(handle.result()).resolves.toEqual({ slow: "second try" });
    expect(signals).toHaveLength(2);
    expect(signals[1]?.aborted).toBe(false);
    expect(warnings).toEqual([expect.objectContaining({ code: "NODE_BODY_IGNORED_ABORT", nodeId: "slow" })]);
    expect(warnings[0]!.message).toContain('attempt 1 of node "slow" timed out 50 ms ago and its body has not ended since');
  });

  it("a timeout on the last attempt fails the run with NodeFailedError caused by NodeTimeoutError", async () => {
    const clock = new ManualClock();
    const g = graph("timeout-fails")
      .node("slow", () => new Promise<never>(() => undefined), { retry: { maxAttempts: 1, timeoutMs: 20 } })
      .build();
    const handle = run(g, undefined, { store: store(), clock });
    await nextEvent(handle, "node:start");
    await clock.advance(20);
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(NodeFailedError);
    const nf = err as NodeFailedError;
    expect(nf.code).toBe("NODE_FAILED");
    expect(nf.attempts).toBe(1);
    expect(nf.cause).toBeInstanceOf(NodeTimeoutError);
    expect((nf.cause as NodeTimeoutError).code).toBe("NODE_TIMEOUT");
    // Every timer the run set is cleared when it ends.
    expect(clock.pendingDelays()).toEqual([]);
  });
});

describe("failure policy", () => {
  it("fail-fast: the first exhausted node cancels running siblings and the run rejects with NodeFailedError", async () => {
    const siblingStarted = deferred();
    let siblingSignal: AbortSignal | undefined;
    let dependentRan = false;
    const cause = new Error("bad input");
    const g = graph("fail-fast")
      .node("sibling", ({ signal }) => {
        siblingSignal = signal;
        siblingStarted.resolve();
        return new Promise<string>(() => undefined);
      })
      .node("bad", async () => {
        await siblingStarted.promise;
        throw cause;
      })
      .node(
        "dependent",
        () => {
          dependentRan = true;
          return 1;
        },
        { after: ["bad"] },
      )
      .build();
    const handle = run(g, undefined, { store: store(), retry: { maxAttempts: 1 } });
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(NodeFailedError);
    const nf = err as NodeFailedError;
    expect(nf.code).toBe("NODE_FAILED");
    expect(nf.nodeId).toBe("bad");
    expect(nf.attempts).toBe(1);
    expect(nf.runId).toBe(handle.runId);
    expect(nf.cause).toBe(cause);
    expect(siblingSignal?.aborted).toBe(true);
    expect(siblingSignal?.reason).toBeInstanceOf(RunCancelledError);
    expect(dependentRan).toBe(false);
    expect(handle.status).toBe("failed");
    const status = (id: string): string | undefined => [...nodeList(handle)].find((n) => n.id === id)?.status;
    expect(status("sibling")).toBe("cancelled");
    expect(status("bad")).toBe("failed");
    expect(status("dependent")).toBe("pending");
  });

  it("fail-fast: a sibling sleeping before a retry is cancelled too", async () => {
    const clock = new ManualClock();
    let flakyAttempts = 0;
    const g = graph("fail-fast-sleeping")
      .node(
        "flaky",
        () => {
          flakyAttempts += 1;
          throw new Error("try again");
        },
        { retry: { maxAttempts: 3, backoff: { initialMs: 1_000, jitter: false } } },
      )
      .node(
        "bad",
        () => {
          throw new NonRetryableError("fatal");
        },
        { after: [] },
      )
      .build();
    const handle = run(g, undefined, { store: store(), clock });
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(NodeFailedError);
    expect((err as NodeFailedError).code).toBe("NODE_FAILED");
    expect((err as NodeFailedError).nodeId).toBe("bad");
    expect(flakyAttempts).toBe(1);
    expect([...nodeList(handle)].find((n) => n.id === "flaky")?.status).toBe("cancelled");
    expect(clock.pendingDelays()).toEqual([]);
  });

  it("continueOnError: an independent branch finishes while the run still rejects with NodeFailedError", async () => {
    const gate = deferred();
    const ran: string[] = [];
    const cause = new Error("branch A broke");
    const g = graph("continue")
      .node("a", () => {
        ran.push("a");
        throw cause;
      })
      .node(
        "a2",
        () => {
          ran.push("a2");
          return "never";
        },
        { after: ["a"] },
      )
      .node("b", async () => {
        await gate.promise;
        ran.push("b");
        return "b";
      })
      .node(
        "b2",
        ({ deps }) => {
          ran.push("b2");
          return `${deps.b}2`;
        },
        { after: ["b"] },
      )
      .build();
    const handle = run(g, undefined, { store: store(), continueOnError: true, retry: { maxAttempts: 1 } });
    await nextEvent(handle, "node:error", (e) => e.nodeId === "a");
    gate.resolve(); // b is released only after a failed: it must still run to the end
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(NodeFailedError);
    const nf = err as NodeFailedError;
    expect(nf.code).toBe("NODE_FAILED");
    expect(nf.nodeId).toBe("a");
    expect(nf.cause).toBe(cause);
    expect(ran.sort()).toEqual(["a", "b", "b2"]);
    const byId = new Map([...nodeList(handle)].map((n) => [n.id, n]));
    expect(byId.get("b")?.status).toBe("succeeded");
    expect(byId.get("b2")?.status).toBe("succeeded");
    expect(byId.get("b2")?.output).toBe("b2");
    expect(byId.get("a")?.status).toBe("failed");
    expect(byId.get("a2")?.status).toBe("pending");
  });

  it("dependents of a failed node never run, however deep", async () => {
    const ran: string[] = [];
    const g = graph("deep")
      .node("root", () => {
        throw new NonRetryableError("no");
      })
      .node("x", () => void ran.push("x"), { after: ["root"] })
      .node("y", () => void ran.push("y"), { after: ["x"] })
      .build();
    const err = await rejection(runAsync(g, undefined, { store: store(), continueOnError: true }));
    expect(err).toBeInstanceOf(NodeFailedError);
    expect((err as NodeFailedError).code).toBe("NODE_FAILED");
    expect(ran).toEqual([]);
  });
});

/** The node records of a run's latest state, as the handle sees it. */
function nodeList(handle: RunHandle<unknown>): Iterable<NodeRecord> {
  const state = handle.state;
  if (!state) throw new Error("the handle has no state");
  return nodeRecords(state.nodes);
}
