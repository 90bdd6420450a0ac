/**
 * Audit of the run control API and time inputs (a helper's bug hunt):
 * `cancelRun`, `retrieveRun`, the `run()` handle, `deleteRunIf`,
 * `childRunId`, and the retry policy's public functions. Each case failed
 * on the code before its fix.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_RETRY,
  GraphHasPendingWaits,
  InvalidOptionError,
  InvalidRunIdError,
  ManualClock,
  MemoryStore,
  NodeFailedError,
  NonRetryableError,
  RunCancelledError,
  backoffDelay,
  childRunId,
  deleteRunIf,
  getRun,
  graph,
  resolveRetryPolicy,
  retrieveRun,
  run,
  runAsync,
  shouldRetry,
  type RunStore,
} from "../src/index.js";
import { formatDuration } from "../src/core/duration.js";
import { deferred, rejection, until } from "./support/async.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-run-control-audit-");

/** A graph whose node fails its first attempt and succeeds after. */
function failsOnce() {
  let calls = 0;
  return graph("fails-once")
    .node("a", () => {
      calls += 1;
      if (calls === 1) throw new Error("first attempt fails");
      return calls;
    })
    .build();
}

/** The chain of causes of `error`, each as its class name, `code` and (for an option error) `option`. */
function causes(error: unknown): { name: string; code?: string; option?: string }[] {
  const out: { name: string; code?: string; option?: string }[] = [];
  for (let e = error as (Error & { code?: string; option?: string }) | undefined; e !== undefined; e = e.cause as typeof e) {
    out.push({ name: e.constructor.name, ...(e.code !== undefined && { code: e.code }), ...(e.option !== undefined && { option: e.option }) });
  }
  return out;
}

describe("a run's random that returns no number in [0, 1]", () => {
  it("fails the node with InvalidOptionError naming random; the stored run stays readable (its NaN retry time made it corrupt)", async () => {
    const store = lowdb(tempDir());
    const error = await rejection(
      runAsync(failsOnce(), undefined, { runId: "nan-random", store, random: () => NaN, retry: { maxAttempts: 2, backoff: { initialMs: 1 } } }),
    );
    expect(causes(error)).toEqual([
      { name: "NodeFailedError", code: "NODE_FAILED" },
      { name: "NonRetryableError", code: "NON_RETRYABLE" },
      { name: "InvalidOptionError", code: "INVALID_OPTION", option: "random" },
    ]);
    const stored = await getRun("nan-random", { store });
    expect(stored.status).toBe("failed");
    expect(stored.nodes.map((n) => [n.id, n.status])).toEqual([["a", "failed"]]);
  });

  it("settles without the clock moving: a ManualClock never fired the NaN timer, and the run hung", async () => {
    const clock = new ManualClock(0);
    const handle = run(failsOnce(), undefined, { store: new MemoryStore(), clock, random: () => undefined as unknown as number, retry: { maxAttempts: 2 } });
    let settled: unknown = "not settled";
    handle.result().then(
      () => (settled = "resolved"),
      (e: unknown) => (settled = e),
    );
    await clock.advance(0);
    await until(() => settled !== "not settled", "the run to settle", 2_000, 0).catch(() => undefined);
    handle.cancel("the test is over");
    expect(settled).toBeInstanceOf(NodeFailedError);
    expect((settled as NodeFailedError).cause).toBeInstanceOf(NonRetryableError);
  });
});

describe("the retry policy's public functions check what they are given", () => {
  it("resolveRetryPolicy refuses options run() refuses: a NaN maxAttempts retried forever", () => {
    const nan = (() => {
      try {
        return resolveRetryPolicy({ maxAttempts: NaN });
      } catch (e) {
        return e;
      }
    })();
    expect(nan).toBeInstanceOf(InvalidOptionError);
    expect((nan as InvalidOptionError).option).toBe("retry.maxAttempts");
    expect(() => resolveRetryPolicy(undefined, { backoff: { initialMs: "5s" as unknown as number } })).toThrow(InvalidOptionError);
    expect(() => resolveRetryPolicy(undefined, undefined, 2 ** 31)).toThrow(InvalidOptionError);
  });

  it("backoffDelay and shouldRetry refuse an attempt that is not a whole number from 1 (NaN gave a NaN delay)", () => {
    for (const attempt of [NaN, 0, -1, 1.5, Infinity]) {
      expect(() => backoffDelay(DEFAULT_RETRY, attempt)).toThrow(InvalidOptionError);
      expect(() => shouldRetry(DEFAULT_RETRY, new Error("x"), attempt)).toThrow(InvalidOptionError);
    }
    expect(() => backoffDelay(DEFAULT_RETRY, 1, () => NaN)).toThrow(/option random must return a number from 0 to 1/);
  });

  it("DEFAULT_RETRY cannot be changed (a change reached node policies and not the run's)", () => {
    expect(() => {
      (DEFAULT_RETRY as { maxAttempts: number }).maxAttempts = 10;
    }).toThrow(TypeError);
    expect(() => {
      (DEFAULT_RETRY.backoff as { initialMs: number }).initialMs = 1;
    }).toThrow(TypeError);
    expect(resolveRetryPolicy(undefined, { timeoutMs: 5 }).maxAttempts).toBe(3);
  });
});

describe("childRunId", () => {
  it("gives keys that differ only in a lone surrogate their own child run (they named one, whose inputs then mismatched)", async () => {
    const child = graph("child")
      .input<{ n: number }>()
      .node("echo", ({ inputs }) => inputs.n)
      .build();
    const parent = graph("parent")
      .node("spawn", async ({ run: start }) => [await start(child, { n: 1 }, { key: "k\uD800" }), await start(child, { n: 2 }, { key: "k\uDC00" })])
      .build();
    const store = new MemoryStore();
    expect(await runAsync(parent, undefined, { runId: "p", store })).toEqual({ spawn: [{ echo: 1 }, { echo: 2 }] });
    expect(childRunId("p", "a", "\uD800")).not.toBe(childRunId("p", "a", "\uDC00"));
    expect(childRunId("p", "a", "\uD800")).not.toBe(childRunId("p", "a", "\uFFFD"));
  });

  it("refuses a parent that is not a run id and an activation or key that is not a string", () => {
    expect(() => childRunId("../x", "a", "k")).toThrow(InvalidRunIdError);
    expect(() => childRunId("p", 5 as unknown as string, "k")).toThrow(InvalidOptionError);
    expect(() => childRunId("p", "a", null as unknown as string)).toThrow(InvalidOptionError);
  });
});

describe("cancel reasons", () => {
  it("a handle's cancel(error) keeps the error's message as the reason, a string (the Error object was kept)", async () => {
    const store = new MemoryStore();
    const started = deferred();
    const g = graph("blocks")
      .node("a", async ({ signal }) => {
        started.resolve();
        await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason as Error)));
      })
      .build();
    const handle = run(g, undefined, { runId: "reason-error", store });
    await started.promise;
    handle.cancel(new Error("disk full") as unknown as string);
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(RunCancelledError);
    expect((error as RunCancelledError).reason).toBe("disk full");
  });

  it("a retrieved stored handle's cancel(reason) reaches the run this process drives now with that reason", async () => {
    const store = new MemoryStore();
    const asks = graph("asks")
      .node("ask", ({ waitFor }) => waitFor<string>("ok"))
      .build();
    await rejection(runAsync(asks, undefined, { runId: "stored-cancel", store }));
    const stored = await retrieveRun("stored-cancel", { store });
    expect(stored.status).toBe("waiting");
    const resumed = run(asks, undefined, { runId: "stored-cancel", store });
    await until(() => resumed.status === "running", "the resume to run");
    stored.cancel("the operator said so");
    const error = await rejection(resumed.result());
    expect(error).toBeInstanceOf(RunCancelledError);
    expect((error as RunCancelledError).reason).toBe("the operator said so");
  });
});

describe("a stored handle whose run this process then drives", () => {
  it("takes the live run's end as its status, not the status it last read", async () => {
    // A run stored `running` that nobody drives (its driver crashed): its state copied into a second store.
    const first = new MemoryStore();
    let gate = deferred();
    let started = deferred();
    const g = graph("gated")
      .node("a", async () => {
        started.resolve();
        await gate.promise;
        return 1;
      })
      .build();
    const original = run(g, undefined, { runId: "crashed", store: first });
    await started.promise;
    const snapshot = await first.load("crashed");
    const store: RunStore = new MemoryStore();
    const lease = await store.acquireLease("crashed", { owner: "copier", pid: 1, host: "h", ttlMs: 1_000, now: Date.now() });
    await store.writeSnapshot(snapshot!.state, snapshot!.seq, lease);
    await store.releaseLease(lease);
    gate.resolve();
    await original.result();

    const stored = await retrieveRun<{ a: number }>("crashed", { store, pollIntervalMs: 10 });
    expect(stored.status).toBe("running");
    const outputs = stored.result();
    gate = deferred();
    started = deferred();
    const resumed = run(g, undefined, { runId: "crashed", store });
    await started.promise;
    // The stored handle reads again every 10 ms: it finds the live run (which waits for the gate) and waits for its end.
    await sleep(100);
    gate.resolve();
    await expect(resumed.result()).resolves.toEqual({ a: 1 });
    await expect(outputs).resolves.toEqual({ a: 1 });
    expect(stored.status).toBe("succeeded");
  });
});

describe("a stored parent run that waits for its child", () => {
  it("retrieveRun's result() names the child's wait with the child's run id, as the run's own handle did (not the internal $child: wait)", async () => {
    const child = graph("child")
      .node("ask", ({ waitFor }) => waitFor<string>("approve"))
      .build();
    const parent = graph("parent")
      .node("spawn", ({ run: start }) => start(child, undefined, { key: "c1" }))
      .build();
    const store = new MemoryStore();
    const live = (await rejection(runAsync(parent, undefined, { runId: "waits-p", store }))) as GraphHasPendingWaits;
    expect(live).toBeInstanceOf(GraphHasPendingWaits);
    const stored = (await rejection((await retrieveRun("waits-p", { store })).result())) as GraphHasPendingWaits;
    expect(stored).toBeInstanceOf(GraphHasPendingWaits);
    expect(stored.waits.map((w) => [w.key, w.runId])).toEqual([["approve", "waits-p@spawn@c1"]]);
    expect(stored.waits).toEqual(live.waits);
  });
});

describe("deleteRunIf's arguments", () => {
  it("refuses a now() that returns no time (a LowdbStore kept the run and said 'unsupported')", async () => {
    const store = lowdb(tempDir());
    await runAsync(
      graph("ok")
        .node("a", () => 1)
        .build(),
      undefined,
      { runId: "old", store },
    );
    const error = await rejection(deleteRunIf("old", () => true, { store, now: () => NaN }));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe("now");
    expect((await getRun("old", { store })).status).toBe("succeeded");
    expect((await deleteRunIf("old", () => true, { store })).outcome).toBe("deleted");
  });

  it("refuses a qualifies that does not return true or false: an async one's promise deleted a run it would keep", async () => {
    const store = new MemoryStore();
    await runAsync(
      graph("ok")
        .node("a", () => 1)
        .build(),
      undefined,
      { runId: "young", store },
    );
    const asyncKeep = (async () => false) as unknown as () => boolean;
    const error = await rejection(deleteRunIf("young", asyncKeep, { store }));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe("qualifies");
    expect((await getRun("young", { store })).status).toBe("succeeded");
    expect((await deleteRunIf("young", () => false, { store })).outcome).toBe("kept");
  });
});

describe("formatDuration", () => {
  it("never shows a unit rounded up to the next one's start ('1000ms', '10.00s', '60.0s')", () => {
    expect([999.6, 9_999, 59_960, 59_999.9].map(formatDuration)).toEqual(["1.00s", "10.0s", "1m 00s", "1m 00s"]);
    expect([999.4, 9_994, 59_949, 60_000].map(formatDuration)).toEqual(["999ms", "9.99s", "59.9s", "1m 00s"]);
  });
});
