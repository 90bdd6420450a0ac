/**
 * Retry policies are resolved once per run-level options and graph node,
 * and shared by every run of the graph (activation-defs.ts `policyOf`):
 * the same pair gives the same frozen policy, another node, graph or
 * run-level options its own, and a run still retries as its options say.
 */
import { describe, expect, it } from "vitest";
import { ActivationDefs, policyOf } from "../src/engine/activation-defs.js";
import { graph, MemoryStore } from "../src/index.js";
import { resolveRunOptions } from "../src/runner/run-options.js";

const build = () =>
  graph("policies")
    .node("a", () => 1, { retry: { maxAttempts: 5, backoff: { initialMs: 1, jitter: false } } })
    .node("b", () => 2, { timeoutMs: 50 })
    .node("c", () => 3)
    .build();

describe("policyOf", () => {
  it("resolves a graph node's policy once per run-level options, frozen, and each node its own", () => {
    const g = build();
    const run = resolveRunOptions({ store: new MemoryStore() }).retry;
    const a1 = new ActivationDefs(g, run, () => undefined).policy("a");
    const a2 = new ActivationDefs(g, resolveRunOptions({ store: new MemoryStore() }).retry, () => undefined).policy("a");
    expect(a2).toBe(a1);
    expect(Object.isFrozen(a1) && Object.isFrozen(a1.backoff)).toBe(true);
    expect(a1).toMatchObject({ maxAttempts: 5, backoff: { initialMs: 1, factor: 2, jitter: false } });
    const b = policyOf(run, g.node("b"));
    expect(b).not.toBe(a1);
    expect(b.timeoutMs).toBe(50);
    // A node without options shares the run's policy.
    expect(new ActivationDefs(g, run, () => undefined).policy("c")).toBe(policyOf(run, undefined));
  });

  it("gives another graph's node and other run-level options their own policy", () => {
    const g1 = build();
    const g2 = build();
    const run = resolveRunOptions({ store: new MemoryStore() }).retry;
    expect(policyOf(run, g2.node("a"))).not.toBe(policyOf(run, g1.node("a")));
    expect(policyOf(run, g2.node("a"))).toEqual(policyOf(run, g1.node("a")));
    const other = resolveRunOptions({ store: new MemoryStore(), retry: { maxAttempts: 9, timeoutMs: 7 } }).retry;
    expect(policyOf(other, g1.node("a"))).not.toBe(policyOf(run, g1.node("a")));
    expect(policyOf(other, g1.node("a"))).toMatchObject({ maxAttempts: 5, timeoutMs: 7 });
    expect(policyOf(other, g1.node("c"))).toMatchObject({ maxAttempts: 9, timeoutMs: 7 });
  });

  it("resolves an added activation's definition (a graphFn step, a map element) per activation", () => {
    const g = build();
    const defs = new ActivationDefs(g, undefined, () => undefined);
    defs.add("s1", { id: "s1", fn: () => 0, after: [], retry: { maxAttempts: 2 } });
    defs.add("s2", { id: "s2", fn: () => 0, after: [], retry: { maxAttempts: 4 } });
    expect(defs.policy("s1").maxAttempts).toBe(2);
    expect(defs.policy("s2").maxAttempts).toBe(4);
    expect(defs.policy("s1")).toBe(defs.policy("s1"));
  });

  it("resolves a run's retry options once per options object while its fields stay the same", () => {
    const store = new MemoryStore();
    const retry: { maxAttempts: number; backoff: { initialMs: number } } = { maxAttempts: 4, backoff: { initialMs: 10 } };
    const first = resolveRunOptions({ store, retry }).retry;
    expect(resolveRunOptions({ store, retry }).retry).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(resolveRunOptions({ store, retry: { ...retry } }).retry).toEqual(first);
    retry.backoff.initialMs = 20;
    const changed = resolveRunOptions({ store, retry }).retry;
    expect(changed).not.toBe(first);
    expect(changed.backoff.initialMs).toBe(20);
    retry.maxAttempts = 6;
    expect(resolveRunOptions({ store, retry }).retry.maxAttempts).toBe(6);
    expect(resolveRunOptions({ store }).retry).toBe(resolveRunOptions({ store }).retry);
  });
});
