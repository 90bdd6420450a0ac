/**
 * `resolveWait(runId, key, payload, { instance })` delivers only to the run
 * with that mark. Before the option, an event meant for a run that was
 * deleted (an approval link clicked a week late) was written into the next
 * run of the same id if that run waited on the same key: the new run went
 * on with another run's decision. Each path is covered: the stored run
 * (every store), a run driven live in this thread, and one driven in
 * another thread (the event handed over a BroadcastChannel).
 *
 * `ctx.runInstance` is how a node learns the mark it puts in its link.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  deleteRun,
  getRun,
  graph,
  graphFn,
  GraphHasPendingWaits,
  InvalidOptionError,
  MemoryStore,
  resolveWait,
  run,
  runAsync,
  RunNotFoundError,
  type RunStore,
} from "../src/index.js";
import { deferred, nextEvent, rejection } from "./support/async.js";
import { everyStore } from "./support/every-store.js";
import { needsDist, resolveInThread } from "./support/resolve-in-thread.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-resolve-instance-");
needsDist();

/** The marks `ctx.runInstance` showed, in the order the node ran. */
const seen: (string | undefined)[] = [];

/** A node that notes its run's mark (as it would put it in a link) and waits for "approval". */
const approval = graph("instance-approval")
  .node("ask", ({ runInstance, waitFor }) => {
    seen.push(runInstance);
    return waitFor<string>("approval");
  })
  .build();

/** "review" waits for "approval" while "hold" keeps the run live until `gate` opens. */
function liveGraph(gate: Promise<void>) {
  return graph("instance-live")
    .node("hold", async () => {
      await gate;
      return "held";
    })
    .node("review", ({ waitFor }) => waitFor<string>("approval"))
    .build();
}

/** A mark that is not `mark`. */
function otherThan(mark: string): string {
  return mark === "000000000000" ? "000000000001" : "000000000000";
}

/** The events a stored run holds and has not taken yet, by key. */
async function inbox(store: RunStore, runId: string): Promise<Record<string, unknown>> {
  const stored = await store.load(runId);
  return Object.fromEntries(Object.entries(stored?.state.meta.inbox ?? {}).map(([k, e]) => [k, e.payload]));
}

/** Starts `approval` under `runId` until it waits; resolves to its mark. */
async function waitingRun(store: RunStore, runId: string): Promise<string> {
  expect(await rejection(runAsync(approval, undefined, { store, runId }))).toBeInstanceOf(GraphHasPendingWaits);
  const { instance } = await getRun(runId, { store });
  expect(instance).toMatch(/^[0-9a-f]{12}$/);
  expect(seen.at(-1)).toBe(instance);
  return instance!;
}

const stores = everyStore("resolve-instance");

describe.each(stores)("resolveWait with the run's mark, on a stored run (%s)", (_name, makeStore) => {
  it("an event meant for a deleted run is refused by the next run of its id (RunNotFoundError, nothing written); its own mark is delivered", async () => {
    const store = makeStore();
    const deleted = await waitingRun(store, "appr-1");
    expect(await deleteRun("appr-1", { store })).toBe(true);
    const current = await waitingRun(store, "appr-1");
    expect(current).not.toBe(deleted);

    const refused = await rejection(resolveWait("appr-1", "approval", "meant for the deleted run", { store, instance: deleted }));
    expect(refused).toBeInstanceOf(RunNotFoundError);
    expect(refused).toMatchObject({ code: "RUN_NOT_FOUND", runId: "appr-1", instance: deleted });
    expect((refused as Error).message).toContain(`the run "appr-1" with mark "${deleted}" is gone`);
    expect(await inbox(store, "appr-1")).toEqual({});

    await resolveWait("appr-1", "approval", "for this run", { store, instance: current });
    expect(await inbox(store, "appr-1")).toEqual({ approval: "for this run" });
    expect(await runAsync(approval, undefined, { store, runId: "appr-1" })).toEqual({ ask: "for this run" });
    // The mark is kept across the resume: the node saw the same one.
    expect(seen.at(-1)).toBe(current);
  });

  it("without the option, the event goes to whichever run has the id (as before)", async () => {
    const store = makeStore();
    await waitingRun(store, "appr-2");
    await deleteRun("appr-2", { store });
    await waitingRun(store, "appr-2");
    await resolveWait("appr-2", "approval", "whoever", { store });
    expect(await inbox(store, "appr-2")).toEqual({ approval: "whoever" });
  });
});

describe("resolveWait with a mark, on a run driven now", () => {
  it("in this thread: another mark is refused and the node keeps waiting; the run's own mark is delivered live", async () => {
    const store = new MemoryStore();
    const gate = deferred();
    const handle = run(liveGraph(gate.promise), undefined, { store, runId: "live-mark" });
    await nextEvent(handle, "node:wait");
    const { instance } = await getRun("live-mark", { store });
    const refused = await rejection(resolveWait("live-mark", "approval", "stale", { store, instance: otherThan(instance!) }));
    expect(refused).toMatchObject({ code: "RUN_NOT_FOUND", instance: otherThan(instance!) });
    const reviewed = nextEvent(handle, "node:success", (e) => e.nodeId === "review");
    await resolveWait("live-mark", "approval", "fresh", { store, instance: instance! });
    await reviewed; // live: "hold" is still running
    gate.resolve();
    await expect(handle.result()).resolves.toEqual({ hold: "held", review: "fresh" });
  });

  it("in another thread: the refusal comes back as RunNotFoundError with the mark; the run's own mark is delivered", async () => {
    const dir = tempDir();
    const gate = deferred();
    const handle = run(liveGraph(gate.promise), undefined, { store: lowdb(dir), runId: "thread-mark" });
    await nextEvent(handle, "node:wait");
    const { instance } = await getRun("thread-mark", { store: lowdb(dir) });
    const stale = await resolveInThread({ dir, runId: "thread-mark", key: "approval", payload: "stale", instance: otherThan(instance!) });
    expect(stale).toMatchObject({ ok: false, name: "RunNotFoundError", code: "RUN_NOT_FOUND", instance: otherThan(instance!) });
    const reviewed = nextEvent(handle, "node:success", (e) => e.nodeId === "review");
    expect(await resolveInThread({ dir, runId: "thread-mark", key: "approval", payload: "fresh", instance: instance! })).toEqual({ ok: true });
    await reviewed;
    gate.resolve();
    await expect(handle.result()).resolves.toEqual({ hold: "held", review: "fresh" });
  });
});

describe("the run mark as bodies see it", () => {
  it("a graphFn body and its steps see the run's mark, the same across a resume", async () => {
    const store = new MemoryStore();
    const marks: (string | undefined)[] = [];
    const fn = graphFn("instance-graph-fn", async (_inputs: undefined, { runInstance, step }) => {
      marks.push(runInstance);
      return step("ask", ({ runInstance: inStep, waitFor }) => {
        marks.push(inStep);
        return waitFor<string>("approval");
      });
    });
    expect(await rejection(runAsync(fn, undefined, { store, runId: "gf-mark" }))).toBeInstanceOf(GraphHasPendingWaits);
    const { instance } = await getRun("gf-mark", { store });
    await resolveWait("gf-mark", "approval", "yes", { store, instance: instance! });
    expect(await runAsync(fn, undefined, { store, runId: "gf-mark" })).toBe("yes");
    expect(marks.length).toBeGreaterThanOrEqual(3);
    expect(new Set(marks)).toEqual(new Set([instance]));
  });
});

describe("resolveWait's instance option is checked at the boundary", () => {
  it.each([
    ["an empty string", ""],
    ["a number", 42],
    ["text with a space", "ab cd"],
    ["65 characters", "a".repeat(65)],
    ["null", null],
  ])("%s: InvalidOptionError before the store is read", async (_what, instance) => {
    const store = new MemoryStore();
    const refused = await rejection(resolveWait("no-such-run", "k", 1, { store, instance: instance as string }));
    expect(refused).toBeInstanceOf(InvalidOptionError);
    expect(refused).toMatchObject({ code: "INVALID_OPTION", option: "resolveWait instance" });
  });
});

describe("property: an event with a mark reaches only the run that has it", () => {
  it("over runs deleted and started again under one id, resolved with the mark of any of them", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.nat(), fc.boolean(), async (generations, pick, withLowdb) => {
        const store = withLowdb ? lowdb(tempDir()) : new MemoryStore();
        const marks: string[] = [];
        for (let g = 0; g < generations; g++) {
          if (g > 0) await deleteRun("gen", { store });
          marks.push(await waitingRun(store, "gen"));
        }
        const target = pick % generations;
        const attempt = resolveWait("gen", "approval", `for ${target}`, { store, instance: marks[target]! });
        if (target === generations - 1) {
          await attempt;
          expect(await inbox(store, "gen")).toEqual({ approval: `for ${target}` });
        } else {
          expect(await rejection(attempt)).toMatchObject({ code: "RUN_NOT_FOUND", instance: marks[target] });
          expect(await inbox(store, "gen")).toEqual({});
        }
      }),
      { numRuns: 25 },
    );
  });
});
