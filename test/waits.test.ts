/**
 * Waits (human in the loop), in one process: `ctx.waitFor` suspends a node;
 * a run left with nothing but waits is saved as `waiting` and `runAsync`
 * rejects with `GraphHasPendingWaits`; `resolveWait` records the event (in
 * the store when no process drives the run, straight to the node when this
 * process does) and `runAsync` with the run id continues without repeating
 * finished nodes or journaled steps. Also: wait timeouts (ManualClock), while
 * the run is live and while no process drove it; payload validation on both
 * paths; unknown runs and keys; resolving twice; bad `waitFor` arguments;
 * cancellation of waiting nodes; and that a waiting node holds no
 * concurrency slot.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  GraphHasPendingWaits,
  InputValidationError,
  InvalidOptionError,
  LowdbStore,
  ManualClock,
  MemoryStore,
  NodeFailedError,
  NodeTimeoutError,
  RunCancelledError,
  RunNotFoundError,
  WaitAlreadyResolvedError,
  WaitNotFoundError,
  WaitTimeoutError,
  getRun,
  graph,
  listRuns,
  resolveWait,
  run,
  runAsync,
  type RunEventMap,
  type RunHandle,
  type NodeRecord,
  type RunStore,
} from "../src/index.js";
import { nodeRecords } from "../src/state/node-table.js";
import { activeRun } from "../src/runner/active-runs.js";
import { deferred, nextEvent, rejection, until } from "./support/async.js";

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "taskloom-waits-"));
  roots.push(dir);
  return dir;
}

/** Records run-level event names and every node:wait / warning payload. */
function record(handle: RunHandle<unknown>) {
  const runEvents: string[] = [];
  const started: string[] = [];
  const waits: RunEventMap["node:wait"][] = [];
  const warnings: RunEventMap["warning"][] = [];
  const waiting: RunEventMap["run:waiting"][] = [];
  for (const name of ["run:start", "run:success", "run:error", "run:cancel", "run:waiting"] as const) {
    handle.events.on(name, () => runEvents.push(name));
  }
  handle.events.on("node:start", (e) => started.push(e.nodeId));
  handle.events.on("node:wait", (e) => waits.push(e));
  handle.events.on("warning", (e) => warnings.push(e));
  handle.events.on("run:waiting", (e) => waiting.push(e));
  return { runEvents, started, waits, warnings, waiting };
}

function counter() {
  const calls: Record<string, number> = {};
  const hit = (name: string): void => void (calls[name] = (calls[name] ?? 0) + 1);
  return { calls, hit };
}

/** Every file under `dir` with its content (folders as entries too), to prove nothing was written. */
function filesOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const key = rel ? `${rel}/${name}` : name;
      if (statSync(path).isDirectory()) {
        out[`${key}/`] = "<dir>";
        walk(path, key);
      } else out[key] = readFileSync(path, "utf8");
    }
  };
  walk(dir, "");
  return out;
}

async function inboxOf(store: RunStore, runId: string): Promise<Record<string, unknown> | undefined> {
  const stored = await store.load(runId);
  return stored?.state.meta.inbox;
}

/** A two-branch review graph: `draft` → `review` (step, then waitFor) → `publish`, with an independent `other`. */
function reviewGraph(hit: (name: string) => void, timeoutMs?: number) {
  return graph("review-flow")
    .input<{ doc: string }>()
    .node("draft", ({ inputs }) => {
      hit("draft");
      return `draft of ${inputs.doc}`;
    })
    .node(
      "review",
      async ({ step, waitFor, deps }) => {
        hit("review");
        const ticket = await step("notify", () => {
          hit("notify");
          return { ticket: "T-1", at: new Date(Date.UTC(2026, 0, 2)) };
        });
        const decision = await waitFor<{ approved: boolean; note: string }>("review:1", timeoutMs === undefined ? {} : { timeoutMs });
        hit("review:after");
        return { draft: deps.draft, ticket: ticket.ticket, ...decision };
      },
      { after: ["draft"], retry: { maxAttempts: 1 } },
    )
    .node("other", () => {
      hit("other");
      return 7;
    })
    .node(
      "publish",
      ({ deps }) => {
        hit("publish");
        return { ...deps.review, other: deps.other };
      },
      { after: ["review", "other"] },
    )
    .output(({ publish }) => publish)
    .build();
}

// ---------------------------------------------------------------------------
// 1. Suspend, save as waiting, resolve while not loaded, resume
// ---------------------------------------------------------------------------

describe("a run left with only waits", () => {
  it("is saved as waiting, rejects with GraphHasPendingWaits, and continues after resolveWait without repeating work", async () => {
    const dir = tempDir();
    const store = new LowdbStore({ dir });
    const clock = new ManualClock(1_000);
    const { calls, hit } = counter();
    const g = reviewGraph(hit, 5_000);

    const handle = run(g, { doc: "d1" }, { store, clock, runId: "wait-basic" });
    const seen = record(handle);
    const error = await rejection(handle.result());

    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    const pending = error as GraphHasPendingWaits;
    expect(pending.code).toBe("PENDING_WAITS");
    expect(pending.runId).toBe("wait-basic");
    expect(pending.waits).toEqual([{ key: "review:1", nodeId: "review", since: 1_000, deadline: 6_000 }]);
    expect(handle.status).toBe("waiting");
    expect(seen.runEvents).toEqual(["run:start", "run:waiting"]);
    expect(seen.waits).toEqual([{ runId: "wait-basic", at: 1_000, nodeId: "review", key: "review:1", deadline: 6_000 }]);
    expect(seen.waiting).toEqual([{ runId: "wait-basic", at: 1_000, waits: pending.waits }]);
    expect(calls).toEqual({ draft: 1, review: 1, notify: 1, other: 1 });

    // Nothing stays behind in this process: no timers (lease renewal, deadline), no registration, no lease.
    expect(clock.pendingDelays()).toEqual([]);
    expect(activeRun(store, "wait-basic")).toBeUndefined();
    // No lease: lease.json is given back in place (kept, marked released), so it reads as none.
    expect(await new LowdbStore({ dir }).readLease("wait-basic")).toBeUndefined();

    // What was stored, read by another store instance.
    const saved = await getRun("wait-basic", { store: new LowdbStore({ dir }) });
    expect(saved.status).toBe("waiting");
    expect(saved.waits).toEqual(pending.waits);
    const byId = Object.fromEntries(saved.nodes.map((n) => [n.id, n]));
    expect(byId.draft?.status).toBe("succeeded");
    expect(byId.other?.status).toBe("succeeded");
    expect(byId.publish?.status).toBe("pending");
    expect(byId.review?.status).toBe("waiting");
    expect(byId.review?.steps).toEqual({ notify: { ticket: "T-1", at: new Date(Date.UTC(2026, 0, 2)) } });
    expect(byId.review?.waits).toEqual({ "review:1": { since: 1_000, deadline: 6_000 } });

    const listed = await listRuns({ status: "waiting", store: new LowdbStore({ dir }) });
    expect(listed.map((r) => ({ runId: r.runId, status: r.status, waits: r.waits }))).toEqual([
      { runId: "wait-basic", status: "waiting", waits: pending.waits },
    ]);
    expect(await listRuns({ status: "succeeded", store: new LowdbStore({ dir }) })).toEqual([]);

    // The event is recorded by a store that never loaded the run; the run stays waiting until resumed.
    const other = new LowdbStore({ dir });
    await resolveWait("wait-basic", "review:1", { approved: true, note: "ship it" }, { store: other });
    await other.close();
    expect((await getRun("wait-basic", { store: new LowdbStore({ dir }) })).status).toBe("waiting");
    expect(await inboxOf(new LowdbStore({ dir }), "wait-basic")).toEqual({
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
      "review:1": { payload: { approved: true, note: "ship it" }, at: expect.any(Number) },
    });

    const resumedStore = new LowdbStore({ dir });
    const resumed = run(g, undefined, { store: resumedStore, clock, runId: "wait-basic" });
    const seen2 = record(resumed);
    await expect(resumed.result()).resolves.toEqual({
      draft: "draft of d1",
      ticket: "T-1",
      approved: true,
      note: "ship it",
      other: 7,
    });
    expect(resumed.status).toBe("succeeded");
    // Done nodes did not run again; the waiting node ran again but its journaled step did not.
    expect(seen2.started.sort()).toEqual(["publish", "review"]);
    expect(seen2.waits).toEqual([]);
    expect(seen2.runEvents).toEqual(["run:start", "run:success"]);
    expect(calls).toEqual({ draft: 1, review: 2, notify: 1, other: 1, "review:after": 1, publish: 1 });

    const final = await getRun("wait-basic", { store: new LowdbStore({ dir }) });
    expect(final.status).toBe("succeeded");
    expect(final.starts).toBe(2);
    expect(final.waits).toEqual([]);
    expect(final.nodes.find((n) => n.id === "review")?.waits).toEqual({
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
      "review:1": { since: 1_000, deadline: 6_000, resolved: { payload: { approved: true, note: "ship it" }, at: expect.any(Number) } },
    });
    expect(await inboxOf(new LowdbStore({ dir }), "wait-basic")).toBeUndefined();
    expect(await listRuns({ status: "waiting", store: new LowdbStore({ dir }) })).toEqual([]);
  });

  it("resuming before the event arrives waits again, keeping the original since and deadline", async () => {
    const store = new MemoryStore();
    const { calls, hit } = counter();
    const g = reviewGraph(hit, 5_000);
    await expect(runAsync(g, { doc: "d" }, { store, clock: new ManualClock(1_000), runId: "wait-again" })).rejects.toBeInstanceOf(GraphHasPendingWaits);
    const error = await rejection(runAsync(g, undefined, { store, clock: new ManualClock(3_000), runId: "wait-again" }));
    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    expect((error as GraphHasPendingWaits).waits).toEqual([{ key: "review:1", nodeId: "review", since: 1_000, deadline: 6_000 }]);
    expect(calls).toEqual({ draft: 1, review: 2, notify: 1, other: 1 });
  });
});

// ---------------------------------------------------------------------------
// 2. resolveWait while this process drives the run
// ---------------------------------------------------------------------------

describe("resolveWait on a run driven by this process", () => {
  it("delivers straight to the waiting node, which continues without a new runAsync", async () => {
    const store = new MemoryStore();
    const gate = deferred();
    const order: string[] = [];
    const g = graph("live")
      .node("review", async ({ waitFor }) => {
        order.push("review:wait");
        const v = await waitFor<string>("answer");
        order.push(`review:got ${v}`);
        return v;
      })
      .node("gate", async () => {
        await gate.promise;
        order.push("gate:end");
        return "g";
      })
      .build();
    const handle = run(g, undefined, { store, runId: "live-1" });
    const seen = record(handle);
    await nextEvent(handle, "node:wait");
    expect(handle.status).toBe("running");
    const reviewDone = nextEvent(handle, "node:success", (e) => e.nodeId === "review");
    await resolveWait("live-1", "answer", "42", { store });
    await reviewDone;
    // The review went on while the gate still held the run open.
    expect(order).toEqual(["review:wait", "review:got 42"]);
    gate.resolve();
    await expect(handle.result()).resolves.toEqual({ review: "42", gate: "g" });
    expect(seen.runEvents).toEqual(["run:start", "run:success"]);
    const stored = await getRun("live-1", { store });
    expect(stored.starts).toBe(1);
    expect(stored.nodes.find((n) => n.id === "review")?.waits?.answer?.resolved?.payload).toBe("42");
  });

  it("a node:wait listener may resolve at once: the run never goes to waiting", async () => {
    const store = new MemoryStore();
    const g = graph("instant")
      .node("ask", async ({ waitFor }) => `got ${await waitFor<string>("answer")}`)
      .build();
    const handle = run(g, undefined, { store, runId: "instant-1" });
    const seen = record(handle);
    const resolutions: Promise<void>[] = [];
    handle.events.on("node:wait", (e) => void resolutions.push(resolveWait(e.runId, e.key, "yes", { store })));
    await expect(handle.result()).resolves.toEqual({ ask: "got yes" });
    await Promise.all(resolutions);
    expect(seen.runEvents).toEqual(["run:start", "run:success"]);
  });

  it("a resolveWait that arrives as the run stops waiting is recorded for the next runAsync (no RunLockedError)", async () => {
    const dir = tempDir();
    const store = new LowdbStore({ dir });
    const g = graph("late")
      .node("ask", async ({ waitFor }) => `got ${await waitFor<string>("answer")}`)
      .build();
    const handle = run(g, undefined, { store, runId: "late-1" });
    let resolution: Promise<unknown> | undefined;
    // run:waiting fires after the scheduler stopped and before the driver gave its lease back.
    handle.events.on("run:waiting", (e) => {
      resolution = resolveWait(e.runId, "answer", "late", { store }).then(
        () => "ok",
        (err: unknown) => err,
      );
    });
    expect(await rejection(handle.result())).toBeInstanceOf(GraphHasPendingWaits);
    expect(await resolution).toBe("ok");
    await expect(runAsync(g, undefined, { store, runId: "late-1" })).resolves.toEqual({ ask: "got late" });
  });

  it("a resolveWait while the stopping driver still holds the lease waits for it instead of failing with RunLockedError", async () => {
    // A store whose releaseLease is slow (a busy disk): the driver has stopped scheduling but still holds the lease.
    class SlowRelease extends MemoryStore {
      readonly gate = deferred();
      override async releaseLease(lease: Parameters<MemoryStore["releaseLease"]>[0]): Promise<void> {
        await this.gate.promise;
        return super.releaseLease(lease);
      }
    }
    const store = new SlowRelease();
    const g = graph("late-slow")
      .node("ask", async ({ waitFor }) => `got ${await waitFor<string>("answer")}`)
      .build();
    const handle = run(g, undefined, { store, runId: "late-slow" });
    const fired = deferred<{ readonly resolution: Promise<unknown> }>();
    handle.events.on("run:waiting", (e) => {
      const resolution = resolveWait(e.runId, "answer", "late", { store }).then(
        () => "ok",
        (err: unknown) => err,
      );
      fired.resolve({ resolution });
    });
    const { resolution } = await fired.promise;
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    store.gate.resolve();
    expect(await rejection(handle.result())).toBeInstanceOf(GraphHasPendingWaits);
    expect(await resolution).toBe("ok");
    await expect(runAsync(g, undefined, { store, runId: "late-slow" })).resolves.toEqual({ ask: "got late" });
  });

  it("checks the payload with the wait's own schema: a bad one is refused and the node keeps waiting", async () => {
    const store = new MemoryStore();
    const gate = deferred();
    const Review = z.object({ approved: z.boolean(), note: z.string().default("none") });
    const got: unknown[] = [];
    const g = graph("live-schema")
      .node("review", async ({ waitFor }) => {
        const r = await waitFor("review:2", { schema: Review });
        got.push(r);
        return r;
      })
      .node("gate", () => gate.promise)
      .build();
    const handle = run(g, undefined, { store, runId: "live-schema" });
    await nextEvent(handle, "node:wait");

    const bad = await rejection(resolveWait("live-schema", "review:2", { approved: "yes" }, { store }));
    expect(bad).toBeInstanceOf(InputValidationError);
    expect((bad as InputValidationError).code).toBe("INPUT_VALIDATION");
    expect((bad as InputValidationError).issues.map((i) => i.path)).toEqual([["approved"]]);
    expect(got).toEqual([]);
    expect(handle.status).toBe("running");
    const review = snapshotNodes(handle).find((n) => n.id === "review");
    expect(review?.status).toBe("waiting");
    expect(review?.waits?.["review:2"]?.resolved).toBeUndefined();

    await resolveWait("live-schema", "review:2", { approved: true }, { store });
    gate.resolve();
    // waitFor returns the schema's output (the default filled in).
    await expect(handle.result()).resolves.toEqual({ review: { approved: true, note: "none" }, gate: undefined });
    expect(got).toEqual([{ approved: true, note: "none" }]);
  });

  it("an unknown key is refused with WaitNotFoundError listing the open keys", async () => {
    const store = new MemoryStore();
    const gate = deferred();
    const g = graph("live-unknown")
      .node("review", ({ waitFor }) => waitFor("review:a"))
      .node("gate", () => gate.promise)
      .build();
    const handle = run(g, undefined, { store, runId: "live-unknown" });
    await nextEvent(handle, "node:wait");
    const error = await rejection(resolveWait("live-unknown", "review:b", 1, { store }));
    expect(error).toBeInstanceOf(WaitNotFoundError);
    expect(error).toMatchObject({ code: "WAIT_NOT_FOUND", runId: "live-unknown", key: "review:b", openKeys: ["review:a"] });
    handle.cancel("done");
    expect(await rejection(handle.result())).toBeInstanceOf(RunCancelledError);
  });

  it("a second resolve after the node took the payload is refused with WaitAlreadyResolvedError", async () => {
    const store = new MemoryStore();
    const gate = deferred();
    const g = graph("live-twice")
      .node("review", ({ waitFor }) => waitFor("review:t"))
      .node("gate", () => gate.promise)
      .build();
    const handle = run(g, undefined, { store, runId: "live-twice" });
    await nextEvent(handle, "node:wait");
    const took = nextEvent(handle, "node:success", (e) => e.nodeId === "review");
    await resolveWait("live-twice", "review:t", "first", { store });
    await took;
    const error = await rejection(resolveWait("live-twice", "review:t", "second", { store }));
    expect(error).toBeInstanceOf(WaitAlreadyResolvedError);
    expect(error).toMatchObject({ code: "WAIT_ALREADY_RESOLVED", runId: "live-twice", key: "review:t" });
    gate.resolve();
    await expect(handle.result()).resolves.toEqual({ review: "first", gate: undefined });
  });
});

/** The node records of a live handle's state. */
function snapshotNodes(handle: RunHandle<unknown>): NodeRecord[] {
  const state = handle.state;
  if (!state) throw new Error("no state yet");
  return [...nodeRecords(state.nodes)];
}

// ---------------------------------------------------------------------------
// 3. resolveWait on a stored run: validation, unknown run/key, twice
// ---------------------------------------------------------------------------

/** A stored run in `dir` waiting on `review:s` (payload schema `{ approved: boolean }`) and `review:u` (no schema). */
async function storedWaitingRun(dir: string, runId: string, hit: (name: string) => void = () => undefined) {
  const Review = z.object({ approved: z.boolean() });
  const g = graph("stored")
    .node("s", async ({ waitFor, step }) => {
      hit("s");
      await step("before", () => hit("s:before"));
      return waitFor("review:s", { schema: Review });
    })
    .node("u", async ({ waitFor }) => {
      hit("u");
      return waitFor("review:u");
    })
    .build();
  const error = await rejection(runAsync(g, undefined, { store: new LowdbStore({ dir }), runId }));
  expect(error).toBeInstanceOf(GraphHasPendingWaits);
  expect((error as GraphHasPendingWaits).waits.map((w) => w.key).sort()).toEqual(["review:s", "review:u"]);
  return { g, Review };
}

describe("resolveWait on a stored run no process drives", () => {
  it("with a schema option, a bad payload is refused with InputValidationError and nothing is written", async () => {
    const dir = tempDir();
    const { g, Review } = await storedWaitingRun(dir, "st-schema");
    const before = filesOf(dir);
    // A caller whose payload does not have the type it claims (it came from JSON, say).
    const untrusted = JSON.parse('{"approved":1}') as { approved: boolean };
    const error = await rejection(resolveWait("st-schema", "review:s", untrusted, { store: new LowdbStore({ dir }), schema: Review }));
    expect(error).toBeInstanceOf(InputValidationError);
    expect((error as InputValidationError).code).toBe("INPUT_VALIDATION");
    expect(filesOf(dir)).toEqual(before);
    expect((await getRun("st-schema", { store: new LowdbStore({ dir }) })).status).toBe("waiting");

    await resolveWait("st-schema", "review:s", { approved: true }, { store: new LowdbStore({ dir }), schema: Review });
    await resolveWait("st-schema", "review:u", "fine", { store: new LowdbStore({ dir }) });
    await expect(runAsync(g, undefined, { store: new LowdbStore({ dir }), runId: "st-schema" })).resolves.toEqual({
      s: { approved: true },
      u: "fine",
    });
  });

  it("without a schema option, the wait's schema re-checks at take time: the bad payload is dropped with a warning and the node waits again", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    const { g } = await storedWaitingRun(dir, "st-drop", hit);
    const firstWaits = (await getRun("st-drop", { store: new LowdbStore({ dir }) })).waits;

    await resolveWait("st-drop", "review:s", { approved: "maybe" }, { store: new LowdbStore({ dir }) });
    expect(await inboxOf(new LowdbStore({ dir }), "st-drop")).toEqual({
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
      "review:s": { payload: { approved: "maybe" }, at: expect.any(Number) },
    });

    const handle = run(g, undefined, { store: new LowdbStore({ dir }), runId: "st-drop" });
    const seen = record(handle);
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    expect((error as GraphHasPendingWaits).waits).toEqual(firstWaits);
    expect(seen.warnings).toHaveLength(1);
    expect(seen.warnings[0]).toMatchObject({ runId: "st-drop", nodeId: "s", code: "WAIT_PAYLOAD_INVALID" });
    expect(seen.waits.map((w) => w.key).sort()).toEqual(["review:s", "review:u"]);
    // The dropped payload is gone from the stored inbox and the node did not take it.
    expect(await inboxOf(new LowdbStore({ dir }), "st-drop")).toBeUndefined();
    const saved = await getRun("st-drop", { store: new LowdbStore({ dir }) });
    expect(saved.nodes.find((n) => n.id === "s")?.waits?.["review:s"]?.resolved).toBeUndefined();

    await resolveWait("st-drop", "review:s", { approved: false }, { store: new LowdbStore({ dir }) });
    await resolveWait("st-drop", "review:u", 3, { store: new LowdbStore({ dir }) });
    await expect(runAsync(g, undefined, { store: new LowdbStore({ dir }), runId: "st-drop" })).resolves.toEqual({
      s: { approved: false },
      u: 3,
    });
    expect(calls).toEqual({ s: 3, "s:before": 1, u: 3 });
  });

  it("an unknown run is refused with RunNotFoundError and no run folder is made", async () => {
    const dir = tempDir();
    await storedWaitingRun(dir, "st-known");
    const before = filesOf(dir);
    const error = await rejection(resolveWait("st-nope", "review:s", { approved: true }, { store: new LowdbStore({ dir }) }));
    expect(error).toBeInstanceOf(RunNotFoundError);
    expect(error).toMatchObject({ code: "RUN_NOT_FOUND", runId: "st-nope" });
    expect(existsSync(join(dir, "runs", "st-nope"))).toBe(false);
    expect(filesOf(dir)).toEqual(before);

    // An empty LowdbStore folder stays as it was too, and a MemoryStore says the same.
    const empty = tempDir();
    expect(await rejection(resolveWait("nobody", "k", 1, { store: new LowdbStore({ dir: empty }) }))).toBeInstanceOf(RunNotFoundError);
    expect(filesOf(empty)).toEqual({});
    const memory = new MemoryStore();
    const memError = await rejection(resolveWait("nobody", "k", 1, { store: memory }));
    expect(memError).toBeInstanceOf(RunNotFoundError);
    expect(await memory.list()).toEqual([]);
  });

  it("an unknown key is refused with WaitNotFoundError listing the open keys, and nothing is written", async () => {
    const dir = tempDir();
    await storedWaitingRun(dir, "st-key");
    const before = filesOf(dir);
    const error = await rejection(resolveWait("st-key", "review:zzz", true, { store: new LowdbStore({ dir }) }));
    expect(error).toBeInstanceOf(WaitNotFoundError);
    expect(error).toMatchObject({ code: "WAIT_NOT_FOUND", runId: "st-key", key: "review:zzz" });
    expect([...(error as WaitNotFoundError).openKeys].sort()).toEqual(["review:s", "review:u"]);
    expect(filesOf(dir)).toEqual(before);
  });

  it("a second resolve before the node took the payload replaces it; once taken, another is refused with WaitAlreadyResolvedError", async () => {
    const dir = tempDir();
    const { g } = await storedWaitingRun(dir, "st-twice");
    await resolveWait("st-twice", "review:s", { approved: false }, { store: new LowdbStore({ dir }) });
    await resolveWait("st-twice", "review:s", { approved: true }, { store: new LowdbStore({ dir }) });
    expect(await inboxOf(new LowdbStore({ dir }), "st-twice")).toEqual({
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
      "review:s": { payload: { approved: true }, at: expect.any(Number) },
    });

    // The node takes the (replaced) payload; the run still waits on review:u.
    const error = await rejection(runAsync(g, undefined, { store: new LowdbStore({ dir }), runId: "st-twice" }));
    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    expect((error as GraphHasPendingWaits).waits.map((w) => w.key)).toEqual(["review:u"]);
    const saved = await getRun("st-twice", { store: new LowdbStore({ dir }) });
    expect(saved.nodes.find((n) => n.id === "s")).toMatchObject({ status: "succeeded", output: { approved: true } });

    const before = filesOf(dir);
    const again = await rejection(resolveWait("st-twice", "review:s", { approved: false }, { store: new LowdbStore({ dir }) }));
    expect(again).toBeInstanceOf(WaitAlreadyResolvedError);
    expect(again).toMatchObject({ code: "WAIT_ALREADY_RESOLVED", runId: "st-twice", key: "review:s" });
    expect(filesOf(dir)).toEqual(before);

    await resolveWait("st-twice", "review:u", "u!", { store: new LowdbStore({ dir }) });
    await expect(runAsync(g, undefined, { store: new LowdbStore({ dir }), runId: "st-twice" })).resolves.toEqual({
      s: { approved: true },
      u: "u!",
    });
    // After the run succeeded, both keys are refused the same way.
    for (const key of ["review:s", "review:u"]) {
      expect(await rejection(resolveWait("st-twice", key, 0, { store: new LowdbStore({ dir }) }))).toBeInstanceOf(WaitAlreadyResolvedError);
    }
  });
});

// ---------------------------------------------------------------------------
// 4. Timeouts (ManualClock)
// ---------------------------------------------------------------------------

describe("wait timeouts", () => {
  it("a timer firing while the run is live fails the node with WaitTimeoutError (maxAttempts 1)", async () => {
    const clock = new ManualClock(10_000);
    const store = new MemoryStore();
    const g = graph("expire-live")
      .node("review", ({ waitFor }) => waitFor("review:x", { timeoutMs: 1_000 }), { retry: { maxAttempts: 1 } })
      .node("gate", ({ signal }) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))))
      .build();
    const handle = run(g, undefined, { store, clock, runId: "expire-live" });
    const wait = await nextEvent(handle, "node:wait");
    expect(wait.deadline).toBe(11_000);

    await clock.advance(999);
    expect(snapshotNodes(handle).find((n) => n.id === "review")?.status).toBe("waiting");

    await clock.advance(1);
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(NodeFailedError);
    expect(error).toMatchObject({ code: "NODE_FAILED", nodeId: "review", attempts: 1 });
    const cause = (error as NodeFailedError).cause;
    expect(cause).toBeInstanceOf(WaitTimeoutError);
    expect(cause).toMatchObject({ code: "WAIT_TIMEOUT", nodeId: "review", key: "review:x", deadline: 11_000 });
    const stored = await getRun("expire-live", { store });
    expect(stored.status).toBe("failed");
    expect(stored.nodes.find((n) => n.id === "review")).toMatchObject({ status: "failed", error: { name: "WaitTimeoutError", code: "WAIT_TIMEOUT" } });
    expect(clock.pendingDelays()).toEqual([]);
  });

  it("the attempt's timeoutMs stops while the node waits and starts afresh when it goes on", async () => {
    const clock = new ManualClock(0);
    const store = new MemoryStore();
    const g = graph("timeout-after-wait")
      .node(
        "review",
        async ({ waitFor, signal }) => {
          await waitFor("review:t");
          // After the event the body hangs: only the attempt's time limit can end it.
          return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
        },
        { timeoutMs: 100, retry: { maxAttempts: 1 } },
      )
      .node("gate", ({ signal }) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))))
      .build();
    const handle = run(g, undefined, { store, clock, runId: "timeout-after-wait" });
    await nextEvent(handle, "node:wait");
    await clock.advance(1_000); // waiting: the 100 ms limit does not run
    expect(snapshotNodes(handle).find((n) => n.id === "review")?.status).toBe("waiting");
    await resolveWait("timeout-after-wait", "review:t", "ok", { store });
    await until(() => clock.pendingDelays().includes(100), "the attempt's timer restarted");
    await clock.advance(100);
    const error = await rejection(handle.result());
    expect(error).toMatchObject({ code: "NODE_FAILED", nodeId: "review" });
    expect((error as NodeFailedError).cause).toBeInstanceOf(NodeTimeoutError);
  });

  it("with maxAttempts 2 the retry waits afresh with a new deadline", async () => {
    const clock = new ManualClock(0);
    const store = new MemoryStore();
    const gate = deferred();
    const attempts: number[] = [];
    const g = graph("expire-retry")
      .node(
        "review",
        async ({ waitFor, attempt }) => {
          attempts.push(attempt);
          return { attempt, payload: await waitFor("review:r", { timeoutMs: 1_000 }) };
        },
        { retry: { maxAttempts: 2, backoff: { initialMs: 100, jitter: false } } },
      )
      .node("gate", () => gate.promise)
      .build();
    const handle = run(g, undefined, { store, clock, runId: "expire-retry" });
    const seen = record(handle);
    const retries: RunEventMap["node:retry"][] = [];
    handle.events.on("node:retry", (e) => retries.push(e));
    await nextEvent(handle, "node:wait");

    await clock.advance(1_000);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.error).toBeInstanceOf(WaitTimeoutError);
    expect(retries[0]).toMatchObject({ nodeId: "review", attempt: 1, delayMs: 100 });

    const second = nextEvent(handle, "node:wait");
    await clock.advance(100);
    await second;
    expect(attempts).toEqual([1, 2]);
    expect(seen.waits.map((w) => ({ key: w.key, deadline: w.deadline, at: w.at }))).toEqual([
      { key: "review:r", deadline: 1_000, at: 0 },
      { key: "review:r", deadline: 2_100, at: 1_100 },
    ]);
    // The old deadline does not fire again: the second wait is still open past 1_000 + anything up to 2_099.
    await clock.advance(999);
    expect(snapshotNodes(handle).find((n) => n.id === "review")?.waits?.["review:r"]).toEqual({ since: 1_100, deadline: 2_100 });

    await resolveWait("expire-retry", "review:r", "ok", { store });
    gate.resolve();
    await expect(handle.result()).resolves.toEqual({ review: { attempt: 2, payload: "ok" }, gate: undefined });
  });

  it("a deadline that passed while no process drove the run fails the node at once on the next runAsync", async () => {
    const store = new MemoryStore();
    const { calls, hit } = counter();
    const g = graph("expire-offline")
      .node(
        "review",
        async ({ waitFor, step }) => {
          hit("review");
          await step("ask", () => hit("ask"));
          return waitFor("review:o", { timeoutMs: 1_000 });
        },
        { retry: { maxAttempts: 1 } },
      )
      .build();
    const first = await rejection(runAsync(g, undefined, { store, clock: new ManualClock(50_000), runId: "expire-offline" }));
    expect(first).toBeInstanceOf(GraphHasPendingWaits);
    expect((first as GraphHasPendingWaits).waits).toEqual([{ key: "review:o", nodeId: "review", since: 50_000, deadline: 51_000 }]);

    const clock = new ManualClock(50_000);
    await clock.advance(1_001);
    const handle = run(g, undefined, { store, clock, runId: "expire-offline" });
    const seen = record(handle);
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(NodeFailedError);
    expect(error).toMatchObject({ nodeId: "review", attempts: 1 });
    expect((error as NodeFailedError).cause).toBeInstanceOf(WaitTimeoutError);
    expect((error as NodeFailedError).cause).toMatchObject({ code: "WAIT_TIMEOUT", key: "review:o", deadline: 51_000 });
    expect(seen.waits).toEqual([]);
    expect(seen.runEvents).toEqual(["run:start", "run:error"]);
    expect(calls).toEqual({ review: 2, ask: 1 });
    expect((await getRun("expire-offline", { store })).status).toBe("failed");
  });

  it("an expired offline deadline with maxAttempts 2: the retry waits afresh from the new clock", async () => {
    const store = new MemoryStore();
    const g = graph("expire-offline-retry")
      .node("review", ({ waitFor }) => waitFor("review:o2", { timeoutMs: 1_000 }), {
        retry: { maxAttempts: 2, backoff: { initialMs: 10, jitter: false } },
      })
      .build();
    await expect(runAsync(g, undefined, { store, clock: new ManualClock(0), runId: "eor" })).rejects.toBeInstanceOf(GraphHasPendingWaits);
    const clock = new ManualClock(5_000);
    const handle = run(g, undefined, { store, clock, runId: "eor" });
    const retried = nextEvent(handle, "node:retry");
    expect((await retried).error).toBeInstanceOf(WaitTimeoutError);
    await clock.advance(10);
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    expect((error as GraphHasPendingWaits).waits).toEqual([{ key: "review:o2", nodeId: "review", since: 5_010, deadline: 6_010 }]);
  });
});

// ---------------------------------------------------------------------------
// 5. Bad arguments to waitFor
// ---------------------------------------------------------------------------

describe("bad arguments to waitFor fail the node with InvalidOptionError", () => {
  const cases: [string, (waitFor: (key: string, options?: object) => Promise<unknown>) => Promise<unknown>, string][] = [
    ["an empty key", (w) => w(""), "waitFor(key)"],
    ["a key over 200 characters", (w) => w("k".repeat(201)), "waitFor(key)"],
    ["a key that is not a string", (w) => w(42 as unknown as string), "waitFor(key)"],
    ["timeoutMs 0", (w) => w("k", { timeoutMs: 0 }), 'waitFor("k").timeoutMs'],
    ["a negative timeoutMs", (w) => w("k", { timeoutMs: -5 }), 'waitFor("k").timeoutMs'],
    ["a NaN timeoutMs", (w) => w("k", { timeoutMs: Number.NaN }), 'waitFor("k").timeoutMs'],
    ["a schema that is an empty object", (w) => w("k", { schema: {} }), 'waitFor("k").schema'],
    ["a schema that is a number", (w) => w("k", { schema: 3 }), 'waitFor("k").schema'],
    ["one node waiting on two keys at once", (w) => Promise.all([w("k1"), w("k2")]), 'waitFor("k2")'],
  ];

  it.each(cases)("%s", async (_name, call, option) => {
    const store = new MemoryStore();
    const g = graph("bad-wait")
      .node("bad", ({ waitFor }) => call(waitFor as never), { retry: { maxAttempts: 1 } })
      .build();
    const error = await rejection(runAsync(g, undefined, { store, runId: "bad-wait" }));
    expect(error).toBeInstanceOf(NodeFailedError);
    expect(error).toMatchObject({ nodeId: "bad", attempts: 1 });
    const cause = (error as NodeFailedError).cause;
    expect(cause).toBeInstanceOf(InvalidOptionError);
    expect(cause).toMatchObject({ code: "INVALID_OPTION", option });
    const stored = await getRun("bad-wait", { store });
    expect(stored.status).toBe("failed");
    expect(stored.waits).toEqual([]);
  });

  it("a key of exactly 200 characters is accepted", async () => {
    const key = "k".repeat(200);
    const g = graph("ok-wait")
      .node("fine", ({ waitFor }) => waitFor(key))
      .build();
    const error = await rejection(runAsync(g, undefined, { store: new MemoryStore() }));
    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    expect((error as GraphHasPendingWaits).waits.map((w) => w.key)).toEqual([key]);
  });

  it("two nodes waiting on the same key: the second fails", async () => {
    const store = new MemoryStore();
    const g = graph("same-key")
      .node("first", ({ waitFor }) => waitFor("shared"))
      .node("second", ({ waitFor }) => waitFor("shared"), { retry: { maxAttempts: 1 } })
      .build();
    const error = await rejection(runAsync(g, undefined, { store, runId: "same-key", maxConcurrency: 1 }));
    expect(error).toBeInstanceOf(NodeFailedError);
    expect(error).toMatchObject({ nodeId: "second", attempts: 1 });
    expect((error as NodeFailedError).cause).toBeInstanceOf(InvalidOptionError);
    expect((error as NodeFailedError).cause).toMatchObject({ code: "INVALID_OPTION", option: 'waitFor("shared")' });
    const stored = await getRun("same-key", { store });
    expect(Object.fromEntries(stored.nodes.map((n) => [n.id, n.status]))).toEqual({ first: "cancelled", second: "failed" });
  });
});

// ---------------------------------------------------------------------------
// 6. Cancellation and concurrency
// ---------------------------------------------------------------------------

describe("cancel() while nodes wait", () => {
  it("rejects with RunCancelledError and the waiting nodes are cancelled; a resume waits again", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(0);
    let firstRun = true;
    const g = graph("cancel-waits")
      .node("a", ({ waitFor }) => waitFor("wait:a", { timeoutMs: 60_000 }))
      .node("b", ({ waitFor }) => waitFor("wait:b"))
      .node("busy", ({ signal }) => (firstRun ? new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))) : "done"))
      .build();
    const handle = run(g, undefined, { store, clock, runId: "cancel-waits" });
    const seen = record(handle);
    await nextEvent(handle, "node:wait", (e) => e.nodeId === "a");
    if (seen.waits.length < 2) await nextEvent(handle, "node:wait", (e) => e.nodeId === "b");
    handle.cancel("user pressed stop");
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(RunCancelledError);
    expect(error).toMatchObject({ code: "RUN_CANCELLED", runId: "cancel-waits", reason: "user pressed stop" });
    expect(handle.status).toBe("cancelled");
    expect(seen.runEvents).toEqual(["run:start", "run:cancel"]);
    expect(clock.pendingDelays()).toEqual([]);
    const stored = await getRun("cancel-waits", { store });
    expect(stored.status).toBe("cancelled");
    expect(stored.waits).toEqual([]);
    expect(Object.fromEntries(stored.nodes.map((n) => [n.id, n.status]))).toEqual({ a: "cancelled", b: "cancelled", busy: "cancelled" });

    // The cancelled nodes' waits stay open in the stored run (a resume waits for them again), so an
    // event for one is accepted (issue 20: whatever the saved status) and the resume delivers it;
    // a key no node waits for is still refused.
    expect(await rejection(resolveWait("cancel-waits", "wait:zzz", 1, { store }))).toBeInstanceOf(WaitNotFoundError);
    await resolveWait("cancel-waits", "wait:a", 1, { store });

    firstRun = false;
    const again = await rejection(runAsync(g, undefined, { store, clock, runId: "cancel-waits" }));
    expect(again).toBeInstanceOf(GraphHasPendingWaits);
    expect((again as GraphHasPendingWaits).waits.map((w) => w.key).sort()).toEqual(["wait:b"]);
    const resumed = await getRun("cancel-waits", { store });
    expect(resumed.nodes.find((n) => n.id === "a")).toMatchObject({ status: "succeeded", output: 1 });
  });
});

describe("concurrency", () => {
  it("a waiting node holds no slot: with maxConcurrency 1 an independent node runs, and the waiter resumes only once that slot is free", async () => {
    const store = new MemoryStore();
    const log: string[] = [];
    const g = graph("slots")
      .node("waiter", async ({ waitFor }) => {
        log.push("waiter:start");
        const v = await waitFor<number>("go");
        log.push(`waiter:resumed ${v}`);
        return v;
      })
      .node("worker", async ({ runId }) => {
        log.push("worker:start");
        await resolveWait(runId, "go", 5, { store });
        log.push("worker:resolved");
        await new Promise((resolve) => setImmediate(resolve));
        log.push("worker:end");
        return "w";
      })
      .build();
    await expect(runAsync(g, undefined, { store, runId: "slots", maxConcurrency: 1 })).resolves.toEqual({ waiter: 5, worker: "w" });
    expect(log).toEqual(["waiter:start", "worker:start", "worker:resolved", "worker:end", "waiter:resumed 5"]);
  });

  it("with maxConcurrency 1 the run ends as waiting only after the independent node succeeded", async () => {
    const store = new MemoryStore();
    const g = graph("slots-2")
      .node("waiter", ({ waitFor }) => waitFor("never"))
      .node("worker", () => "w")
      .build();
    const error = await rejection(runAsync(g, undefined, { store, runId: "slots-2", maxConcurrency: 1 }));
    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    const stored = await getRun("slots-2", { store });
    expect(Object.fromEntries(stored.nodes.map((n) => [n.id, n.status]))).toEqual({ waiter: "waiting", worker: "succeeded" });
  });
});
