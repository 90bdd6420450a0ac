/**
 * The run options stop at the boundary (issue 15, item 6): `resolveRunOptions`
 * (an internal pure module) applies every default of `RunOptions` once and
 * returns a frozen `RunConfig`, which is all the session and the engine's
 * wiring read.
 */
import { describe, expect, it } from "vitest";
import { ManualClock, systemClock } from "../src/core/clock.js";
import { DEFAULT_MAX_VISITS } from "../src/engine/forward-scheduler.js";
import { DEFAULT_RETRY, resolveRetryPolicy } from "../src/engine/retry-policy.js";
import { MemoryStore } from "../src/index.js";
import { DEFAULT_LEASE_TTL_MS, DEFAULT_MAX_CONCURRENCY, resolveRunOptions } from "../src/runner/run-options.js";

describe("resolveRunOptions", () => {
  it("applies every default once, and the config is frozen", () => {
    const store = new MemoryStore();
    const config = resolveRunOptions({ store });
    expect(config).toMatchObject({
      store,
      maxConcurrency: DEFAULT_MAX_CONCURRENCY,
      retry: DEFAULT_RETRY,
      maxVisits: DEFAULT_MAX_VISITS,
      continueOnError: false,
      snapshot: "group",
      allowGraphChange: false,
      leaseTtlMs: DEFAULT_LEASE_TTL_MS,
      takeover: false,
      clock: systemClock,
      random: Math.random,
    });
    expect(config.runId).toMatch(/^run-/);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("keeps what was given, and lays the run's retry over the defaults", () => {
    const clock = new ManualClock();
    const random = (): number => 0.5;
    const retry = { maxAttempts: 5, backoff: { factor: 3 } };
    const config = resolveRunOptions({
      runId: "given",
      store: new MemoryStore(),
      maxConcurrency: Infinity,
      retry,
      maxVisits: 7,
      continueOnError: true,
      snapshot: "end",
      leaseTtlMs: 1_000,
      takeover: true,
      clock,
      random,
    });
    expect(config).toMatchObject({
      runId: "given",
      maxConcurrency: Infinity,
      maxVisits: 7,
      continueOnError: true,
      snapshot: "end",
      leaseTtlMs: 1_000,
      takeover: true,
      clock,
      random,
    });
    expect(config.retry).toEqual(resolveRetryPolicy(retry));
    // A node's own retry still wins field by field over the resolved run policy, as over the raw run options.
    expect(resolveRetryPolicy(config.retry, { maxAttempts: 2, backoff: { maxMs: 10 } })).toEqual(
      resolveRetryPolicy(retry, { maxAttempts: 2, backoff: { maxMs: 10 } }),
    );
  });
});
