/**
 * Map fan-out: `.map(id, source, fn, { maxConcurrency })` runs `fn` once
 * per element of the source's array, each element a durable activation
 * `id[i]`, and the map node's output is the results in order.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import {
  LowdbStore,
  ManualClock,
  MemoryStore,
  NodeFailedError,
  NonRetryableError,
  RunCancelledError,
  GraphDefinitionError,
  getRun,
  graph,
  run,
  runAsync,
} from "../src/index.js";
import { deferred, until } from "./support/async.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("map fan-out", () => {
  it("runs fn once per element and keeps the results in order, whatever order they finish in", async () => {
    const gates = [deferred(), deferred(), deferred()];
    let started = 0;
    const g = graph("order")
      .node("list", () => ["a", "bb", "ccc"])
      .map("lengths", "list", async ({ item, index }) => {
        started += 1;
        await gates[index]?.promise;
        return `${index}:${item.length}`;
      })
      .node("joined", ({ deps }) => deps.lengths.join(","), { after: ["lengths"] })
      .build();
    const handle = run(g, undefined, { store: new MemoryStore() });
    const finished: string[] = [];
    handle.events.on("node:success", (e) => void finished.push(e.nodeId));
    await until(() => started === 3, "all three elements to start");
    gates[2]?.resolve();
    await until(() => finished.includes("lengths[2]"), "element 2 to finish");
    gates[0]?.resolve();
    await until(() => finished.includes("lengths[0]"), "element 0 to finish");
    gates[1]?.resolve();
    const out = await handle.result();
    expect(out.lengths).toEqual(["0:1", "1:2", "2:3"]);
    expect(out.joined).toBe("0:1,1:2,2:3");
    expect(finished.filter((id) => id.startsWith("lengths["))).toEqual(["lengths[2]", "lengths[0]", "lengths[1]"]);
    expect(finished.indexOf("lengths[1]")).toBeGreaterThanOrEqual(0);
    expect(finished.indexOf("lengths")).toBeGreaterThan(finished.indexOf("lengths[1]"));
    expect(Object.keys(out)).toEqual(["list", "lengths", "joined"]); // element activations are not graph outputs
  });

  it("never runs more elements at once than the map's maxConcurrency, and runs them all", async () => {
    let running = 0;
    let max = 0;
    const gates = Array.from({ length: 10 }, () => deferred());
    const g = graph("limit")
      .node("list", () => Array.from({ length: 10 }, (_, i) => i))
      .map(
        "work",
        "list",
        async ({ index }) => {
          running += 1;
          max = Math.max(max, running);
          await gates[index]?.promise;
          running -= 1;
          return index * 2;
        },
        { maxConcurrency: 3 },
      )
      .build();
    const handle = run(g, undefined, { store: new MemoryStore(), maxConcurrency: 8 });
    for (let i = 0; i < 10; i++) {
      await until(() => running === Math.min(3, 10 - i), `${Math.min(3, 10 - i)} elements running`);
      expect(running).toBeLessThanOrEqual(3);
      gates[i]?.resolve();
    }
    const out = await handle.result();
    expect(max).toBe(3);
    expect(out.work).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  });

  it("resumes by running only the elements that did not succeed (durable store)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "taskloom-map-"));
    dirs.push(dir);
    const calls: number[] = [];
    let failing = true;
    const g = graph("resume")
      .node("list", () => [1, 2, 3, 4, 5])
      .map(
        "square",
        "list",
        ({ item, index }) => {
          calls.push(index);
          if (failing && index === 2) throw new NonRetryableError("element 2 is broken today");
          return item * item;
        },
        { maxConcurrency: 1 },
      )
      .node("sum", ({ deps }) => deps.square.reduce((a, b) => a + b, 0), { after: ["square"] })
      .build();
    const store = new LowdbStore({ dir });
    const err = await runAsync(g, undefined, { store, runId: "map-resume" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeFailedError);
    expect((err as NodeFailedError).code).toBe("NODE_FAILED");
    expect((err as NodeFailedError).nodeId).toBe("square");
    expect(((err as NodeFailedError).cause as NodeFailedError).nodeId).toBe("square[2]");
    expect(calls).toEqual([0, 1, 2]);
    await store.close();

    failing = false;
    calls.length = 0;
    const fresh = new LowdbStore({ dir });
    const out = await runAsync(g, undefined, { store: fresh, runId: "map-resume" });
    expect(out.square).toEqual([1, 4, 9, 16, 25]);
    expect(out.sum).toBe(55);
    expect(calls).toEqual([2, 3, 4]);
    const stored = await getRun("map-resume", { store: fresh });
    expect(stored.nodes.filter((n) => n.id.startsWith("square[")).map((n) => n.status)).toEqual(Array(5).fill("succeeded"));
    await fresh.close();
  });

  it("retries an element on its own, with the map's retry policy, and never retries the map node", async () => {
    const clock = new ManualClock(0);
    const attempts = new Map<number, number>();
    const g = graph("retry")
      .node("list", () => ["x", "y"])
      .map(
        "m",
        "list",
        ({ index, attempt }) => {
          attempts.set(index, attempt);
          if (index === 1 && attempt < 3) throw new Error(`flaky ${attempt}`);
          return attempt;
        },
        { retry: { maxAttempts: 3, backoff: { initialMs: 100, factor: 2, jitter: false } } },
      )
      .build();
    const handle = run(g, undefined, { store: new MemoryStore(), clock });
    const delays: [string, number][] = [];
    handle.events.on("node:retry", (e) => void delays.push([e.nodeId, e.delayMs]));
    await until(() => clock.pendingDelays().length > 0, "the first backoff");
    await clock.advance(100);
    await until(() => delays.length === 2, "the second retry");
    await clock.advance(200);
    const out = await handle.result();
    expect(out.m).toEqual([1, 3]);
    expect(delays).toEqual([
      ["m[1]", 100],
      ["m[1]", 200],
    ]);
    expect(attempts.get(0)).toBe(1);
  });

  it("fails the map at once, without retrying it, when the source is not an array", async () => {
    const g = graph("not-array")
      .node("list", () => "abc" as unknown as string[])
      .map("m", "list", ({ item }) => item)
      .build();
    const err = await runAsync(g, undefined, { store: new MemoryStore() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeFailedError);
    expect((err as NodeFailedError).nodeId).toBe("m");
    expect((err as NodeFailedError).attempts).toBe(1);
    expect((err as NodeFailedError).cause).toBeInstanceOf(NonRetryableError);
    expect(((err as NodeFailedError).cause as Error).message).toMatch(/needs an array from "list", which returned string/);
  });

  it("an empty array gives an empty result", async () => {
    const g = graph("empty")
      .node("list", () => [] as number[])
      .map("m", "list", ({ item }) => item + 1)
      .build();
    expect(await runAsync(g, undefined, { store: new MemoryStore() })).toEqual({ list: [], m: [] });
  });

  it("cancelling the run cancels the running elements", async () => {
    const started = deferred();
    const g = graph("cancel")
      .node("list", () => [1, 2, 3])
      .map("m", "list", async ({ signal }) => {
        started.resolve();
        await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
      })
      .build();
    const handle = run(g, undefined, { store: new MemoryStore() });
    await started.promise;
    handle.cancel("stop");
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunCancelledError);
    const statuses = [...(handle.state ? (await import("../src/state/node-table.js")).nodeRecords(handle.state.nodes) : [])]
      .filter((n) => n.id.startsWith("m["))
      .map((n) => n.status);
    expect(statuses).toEqual(["cancelled", "cancelled", "cancelled"]);
  });

  it("passes the map's own deps to every element and types item and the result", async () => {
    const g = graph("typed")
      .node("list", () => [1, 2])
      .node("factor", () => 10)
      .map(
        "scaled",
        "list",
        ({ item, deps }) => {
          expectTypeOf(item).toEqualTypeOf<number>();
          return item * deps.factor;
        },
        { after: ["factor"] },
      )
      .build();
    const out = await runAsync(g, undefined, { store: new MemoryStore() });
    expectTypeOf(out.scaled).toEqualTypeOf<number[]>();
    expect(out.scaled).toEqual([10, 20]);
    const withA = graph("x").node("a", () => [1]);
    // @ts-expect-error the source must be a node of the graph
    withA.map("m", "nope", ({ item }) => item);
  });

  it("refuses a map whose source is unknown or whose maxConcurrency is invalid", () => {
    const b = graph("bad").node("list", () => [1]);
    expect(() => b.map("m", "nope" as never, ({ item }) => item).build()).toThrow(GraphDefinitionError);
    try {
      b.map("m", "list", ({ item }) => item, { maxConcurrency: 0 }).build();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(GraphDefinitionError);
      expect((e as GraphDefinitionError).problems.join(" ")).toMatch(/maxConcurrency must be a whole number/);
    }
  });
});
