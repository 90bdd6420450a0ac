/**
 * A timed-out attempt ends at once, but its body is only signalled: one
 * that ignores `ctx.signal` goes on. Before, its concurrency slot was given
 * back at the timeout, so such bodies ran beside the next ones above
 * `maxConcurrency`, and the node's retry ran beside the body it retried
 * (two attempts of one node at once). Now the body keeps its slot until it
 * settles, and its node's next attempt waits for it, for as long again as
 * its time limit; past that it is given up on with a warning
 * (`NODE_BODY_IGNORED_ABORT`). A run that stops gives lingering slots back
 * at once, and a run that ends leaves no timer behind.
 *
 * Bodies here sleep on the run's `ManualClock`, so every order of timeouts,
 * settles and starts is deterministic.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { getRun, graph, ManualClock, MemoryStore, run, type RunEventMap } from "../src/index.js";

/** Counts the bodies running now, overall and per node, and the highest counts seen. */
class Bodies {
  running = 0;
  max = 0;
  readonly perNode = new Map<string, number>();
  maxPerNode = 0;

  async body(node: string, work: Promise<unknown>): Promise<string> {
    this.running += 1;
    this.max = Math.max(this.max, this.running);
    const mine = (this.perNode.get(node) ?? 0) + 1;
    this.perNode.set(node, mine);
    this.maxPerNode = Math.max(this.maxPerNode, mine);
    try {
      await work;
      return node;
    } finally {
      this.running -= 1;
      this.perNode.set(node, (this.perNode.get(node) ?? 1) - 1);
    }
  }
}

/** Resolves after `ms` of the manual clock, whatever the signal says (a body that ignores it). */
function deaf(clock: ManualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** Advances `clock` 1 ms at a time until `done` settles (at most `limit` ms). */
async function until(clock: ManualClock, done: Promise<unknown>, limit = 10_000): Promise<void> {
  let settled = false;
  void done.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let t = 0; t < limit && !settled; t++) await clock.advance(1);
  expect(settled, `the run did not end within ${limit} ms of the manual clock`).toBe(true);
}

describe("a timed-out body keeps its slot until it settles", () => {
  it("running bodies never exceed maxConcurrency, and a retry never runs beside the body it retries", async () => {
    const clock = new ManualClock();
    const bodies = new Bodies();
    // "a" times out at 50 and its body ends at 80; "b" and "c" queue behind it.
    const g = graph("linger")
      .node("a", ({ attempt }) => bodies.body("a", deaf(clock, attempt === 1 ? 80 : 10)), {
        timeoutMs: 50,
        retry: { maxAttempts: 2, backoff: { initialMs: 1, jitter: false } },
      })
      .node("b", () => bodies.body("b", deaf(clock, 30)))
      .node("c", () => bodies.body("c", deaf(clock, 30)))
      .build();
    const handle = run(g, undefined, { store: new MemoryStore(), clock, maxConcurrency: 2 });
    const starts: string[] = [];
    handle.events.on("node:start", (e) => starts.push(`${e.nodeId}${e.attempt}@${clock.now()}`));
    const warnings: RunEventMap["warning"][] = [];
    handle.events.on("warning", (w) => warnings.push(w));
    await until(clock, handle.result());
    await expect(handle.result()).resolves.toEqual({ a: "a", b: "b", c: "c" });
    expect(bodies.max).toBe(2);
    expect(bodies.maxPerNode).toBe(1);
    // a1 and b1 start; b ends at 30 and c starts; a times out at 50 but keeps its slot until its body ends at 80.
    expect(starts).toEqual(["a1@0", "b1@0", "c1@30", "a2@80"]);
    expect(warnings).toEqual([]);
  });

  it("a body that ignores its signal for as long again as its limit is given up on: a warning, and its slot goes to the next", async () => {
    const clock = new ManualClock();
    const g = graph("given-up")
      .node("stuck", () => new Promise<never>(() => undefined), { timeoutMs: 40, retry: { maxAttempts: 1 } })
      .node("next", () => "ran")
      .build();
    const handle = run(g, undefined, { store: new MemoryStore(), clock, maxConcurrency: 1, continueOnError: true });
    const warnings: RunEventMap["warning"][] = [];
    handle.events.on("warning", (w) => warnings.push(w));
    const starts: string[] = [];
    handle.events.on("node:start", (e) => starts.push(`${e.nodeId}@${clock.now()}`));
    await until(clock, handle.result());
    expect(await handle.result().catch((e: Error & { code?: string }) => e.code)).toBe("NODE_FAILED");
    expect(starts).toEqual(["stuck@0", "next@80"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: "NODE_BODY_IGNORED_ABORT", nodeId: "stuck" });
    expect(warnings[0]!.message).toContain("Pass ctx.signal to what the body awaits");
  });

  it("a run cancelled while a body lingers ends at once: queued nodes end cancelled without waiting for the body", async () => {
    const clock = new ManualClock();
    const g = graph("cancel-linger")
      .node("stuck", () => new Promise<never>(() => undefined), { timeoutMs: 40, retry: { maxAttempts: 3, backoff: { initialMs: 1 } } })
      .node("queued", () => "never")
      .build();
    const store = new MemoryStore();
    const handle = run(g, undefined, { store, clock, maxConcurrency: 1, runId: "cancel-linger" });
    await clock.advance(45); // "stuck" timed out; its body holds the one slot, its retry and "queued" wait
    handle.cancel("stop now");
    await expect(handle.result()).rejects.toMatchObject({ code: "RUN_CANCELLED" });
    const nodes = (await getRun("cancel-linger", { store })).nodes;
    expect(nodes.find((n) => n.id === "queued")?.status).toBe("cancelled");
  });

  it("a run that ends while a body lingers leaves no timer and no warning behind", async () => {
    const clock = new ManualClock();
    const g = graph("end-linger")
      .node("stuck", () => new Promise<never>(() => undefined), { timeoutMs: 40, retry: { maxAttempts: 1 } })
      .build();
    const handle = run(g, undefined, { store: new MemoryStore(), clock });
    const warnings: unknown[] = [];
    handle.events.on("warning", (w) => warnings.push(w));
    await until(clock, handle.result());
    await expect(handle.result()).rejects.toMatchObject({ code: "NODE_FAILED" });
    expect(clock.pendingTimers()).toEqual([]);
    await clock.advance(1_000);
    expect(warnings).toEqual([]);
  });
});

describe("property: timed-out bodies that end within their grace never break the limits", () => {
  it("over node counts, limits, time limits, body lengths and retries", async () => {
    const nodeSpec = fc.record({
      timeoutMs: fc.integer({ min: 5, max: 40 }),
      // Each attempt's length, as a fraction of twice the time limit: at most the grace (as long again as the limit).
      lengths: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 3, maxLength: 3 }),
      maxAttempts: fc.integer({ min: 1, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(nodeSpec, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 3 }), async (specs, maxConcurrency) => {
        const clock = new ManualClock();
        const bodies = new Bodies();
        let builder = graph("prop-linger");
        specs.forEach((spec, i) => {
          const id = `n${i}`;
          builder = builder.node(id, ({ attempt }) => bodies.body(id, deaf(clock, Math.floor((spec.lengths[attempt - 1]! * 2 * spec.timeoutMs) / 100))), {
            timeoutMs: spec.timeoutMs,
            retry: { maxAttempts: spec.maxAttempts, backoff: { initialMs: 1, jitter: false } },
          });
        });
        const handle = run(builder.build(), undefined, { store: new MemoryStore(), clock, maxConcurrency, continueOnError: true });
        const warnings: unknown[] = [];
        handle.events.on("warning", (w) => warnings.push(w));
        await until(clock, handle.result());
        await handle.result().catch(() => undefined);
        expect(bodies.max).toBeLessThanOrEqual(maxConcurrency);
        expect(bodies.maxPerNode).toBeLessThanOrEqual(1);
        expect(warnings).toEqual([]);
        // The bodies' own sleeps may outlive a run that failed; the engine's watch on a lingering body does not.
        expect(clock.pendingTimers().filter((t) => t.label?.startsWith("timed-out body"))).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});
