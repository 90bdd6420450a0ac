/**
 * graphFn audit: step values and step failures (docs/graph-fn.md "How a
 * run goes", "Replay"). Each case failed on the code before its fix:
 * - the body got the very object recorded as the step's result, so a body
 *   that changed it changed the saved result (on disk, once the run's
 *   snapshot was written) and what a replay returned;
 * - a step the body started and never awaited rejected with no handler:
 *   an unhandled rejection (which ends a Node process), and the run
 *   reported `succeeded`.
 */
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidOptionError, LowdbStore, MemoryStore, NodeFailedError, getRun, graphFn, runAsync } from "../src/index.js";
import { deferred, rejection } from "./support/async.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir } = tempStores("taskloom-graphfn-audit-");

describe("the body gets its own copy of a step's value", () => {
  it("changing it changes neither the saved result nor what a resume replays (LowdbStore, new instances)", async () => {
    const dir = tempDir();
    let fail = true;
    const fn = graphFn("mutating", async (_: unknown, { step }) => {
      const a = await step("a", () => ({ list: [1], at: new Date(5) }));
      a.list.push(2);
      a.at.setTime(99);
      await step("b", () => 1);
      if (fail) {
        fail = false;
        throw new Error("boom");
      }
      return a;
    });
    await expect(runAsync(fn, {}, { store: new LowdbStore({ dir }), runId: "m" })).rejects.toThrow("boom");
    const saved = await getRun("m", { store: new LowdbStore({ dir }) });
    expect(saved.nodes.find((n) => n.id === "a")?.output).toEqual({ list: [1], at: new Date(5) });
    // The same output as a run that was never interrupted.
    await expect(runAsync(fn, undefined, { store: new LowdbStore({ dir }), runId: "m" })).resolves.toEqual({ list: [1, 2], at: new Date(99) });
  });

  it("property: a replayed value equals the one first returned, whatever the body did to its copy (MemoryStore)", async () => {
    const leaf = fc.oneof(
      fc.integer(),
      fc.constant(-0),
      fc.constant(undefined),
      fc.bigInt(),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.integer({ min: -1e12, max: 1e12 }).map((t) => new Date(t)),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        leaf,
        fc.array(tie("v"), { maxLength: 3 }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), tie("v"), { maxKeys: 3, noNullPrototype: true }),
        fc.array(fc.tuple(fc.string({ maxLength: 3 }), tie("v")), { maxLength: 2 }).map((entries) => new Map(entries)),
      ),
    })).v;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(value, async (original) => {
        const store = new MemoryStore();
        const runId = `p${n++}`;
        const make = (): unknown => structuredClone(original);
        let fail = true;
        const seen: unknown[] = [];
        const fn = graphFn("prop", async (_: unknown, { step }) => {
          const got = await step("v", make);
          seen.push(structuredClone(got));
          scramble(got);
          if (fail) {
            fail = false;
            throw new Error("boom");
          }
          return 0;
        });
        await rejection(runAsync(fn, {}, { store, runId }));
        await runAsync(fn, undefined, { store, runId });
        expect(seen).toHaveLength(2);
        expect(isDeepStrictEqual(seen[0], original)).toBe(true);
        expect(isDeepStrictEqual(seen[1], original)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});

/** Changes every object and array inside `value`. */
function scramble(value: unknown): void {
  if (value instanceof Map) {
    for (const v of value.values()) scramble(v);
    value.set("scrambled", 1);
  } else if (value instanceof Date) value.setTime(1);
  else if (Array.isArray(value)) {
    for (const v of value) scramble(v);
    value.push("scrambled");
  } else if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) scramble(v);
    (value as Record<string, unknown>).scrambled = 1;
  }
}

describe("a step the body started and never awaited", () => {
  it("that fails after the body returned fails the run with its NodeFailedError, with no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const store = new MemoryStore();
      const fn = graphFn("floating", (_: unknown, { step }) => {
        void step(
          "bad",
          () => {
            throw new Error("bad step");
          },
          { retry: { maxAttempts: 1 } },
        );
        return 1;
      });
      const error = await rejection(runAsync(fn, {}, { store, runId: "f" }));
      expect(error).toBeInstanceOf(NodeFailedError);
      expect((error as NodeFailedError).nodeId).toBe("bad");
      expect((await getRun("f", { store })).status).toBe("failed");
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("that fails before the body awaits it is still the body's to catch (a saga that awaits it later)", async () => {
    const store = new MemoryStore();
    const failed = deferred();
    const fn = graphFn("late-await", async (_: unknown, { step }) => {
      const credit = step(
        "credit",
        () => {
          failed.resolve();
          throw new Error("declined");
        },
        { retry: { maxAttempts: 1 } },
      );
      await step("other", () => failed.promise.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(() => "ok"));
      try {
        await credit;
        return "done";
      } catch (error) {
        if (!(error instanceof NodeFailedError)) throw error;
        return "compensated";
      }
    });
    await expect(runAsync(fn, {}, { store, runId: "saga" })).resolves.toBe("compensated");
  });
});

describe("a step's time limit", () => {
  it("longer than a timer holds (2^31 - 1 ms) is refused naming it, not armed to fire after 1 ms", async () => {
    let ran = 0;
    const fn = graphFn("long-limit", async (_: unknown, { step }) => {
      const refused: unknown[] = [];
      for (const options of [{ timeoutMs: 3e9 }, { retry: { timeoutMs: 3e9 } }]) {
        refused.push(await rejection(step("slow", () => ++ran, options)));
      }
      return refused.map((e) => (e instanceof InvalidOptionError ? e.message : String(e)));
    });
    const messages = await runAsync(fn, {}, { store: new MemoryStore() });
    expect(ran).toBe(0);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toContain('step("slow").timeoutMs');
    expect(messages[1]).toContain("timeoutMs");
  });
});

describe("a step asked for after the run ended", () => {
  it("is refused with InvalidOptionError and its fn never runs (its result could not be saved)", async () => {
    const store = new MemoryStore();
    let later: ((id: string, fn: () => number) => Promise<number>) | undefined;
    let ran = 0;
    const fn = graphFn("after-end", async (_: unknown, { step }) => {
      await step("a", () => 1);
      later = step;
      return 1;
    });
    await expect(runAsync(fn, {}, { store, runId: "ae" })).resolves.toBe(1);
    const error = await rejection(later?.("late", () => ++ran) ?? Promise.resolve());
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(ran).toBe(0);
    expect((await getRun("ae", { store })).nodes.map((n) => n.id)).toEqual(["a"]);
  });
});
