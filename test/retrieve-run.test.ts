/**
 * `retrieveRun(runId, { store })`: the same `RunHandle` for a run looked up
 * by id as for a run started here. A run this process drives (same store
 * location and run id) gives a handle on the live run: its status, events,
 * result and cancel. A stored run nobody here drives gives its stored
 * status; `result()` settles from the store (polling while another driver
 * runs it); `cancel()` of a run driven elsewhere is refused with
 * `CancelNotAvailableError`. One test drives the run in a real child
 * `node` process (the compiled package, `dist/`, built by `npm test`).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  CancelNotAvailableError,
  GraphHasPendingWaits,
  InvalidOptionError,
  InvalidRunIdError,
  MemoryStore,
  RunCancelledError,
  RunHandleDisposedError,
  RunNotFoundError,
  RunOutputsNotStoredError,
  deleteRun,
  graph,
  retrieveRun,
  run,
  runAsync,
  type RunStore,
} from "../src/index.js";
import { deferred, rejection } from "./support/async.js";
import { storeLeftRun } from "./support/stored-run.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-retrieve-");

/** A two-node graph whose first node waits on `gate`. */
function gated() {
  const gate = deferred<string>();
  const started = deferred();
  const g = graph("gated")
    .node("wait", async () => {
      started.resolve();
      return gate.promise;
    })
    .node("after", ({ deps }) => `${deps.wait}!`, { after: ["wait"] })
    .build();
  return { g, gate, started };
}

/**
 * Another view of the same runs, as another process has: same data, but no
 * `location`, so this process does not recognise a run it drives through `store`.
 */
function elsewhere(store: RunStore): RunStore {
  return {
    writeSnapshot: (state, seq, lease) => store.writeSnapshot(state, seq, lease),
    append: (runId, records, lease) => store.append(runId, records, lease),
    load: (runId) => store.load(runId),
    list: (query) => store.list(query),
    delete: (runId) => store.delete(runId),
    acquireLease: (runId, request) => store.acquireLease(runId, request),
    renewLease: (lease, ttlMs, now) => store.renewLease(lease, ttlMs, now),
    releaseLease: (lease) => store.releaseLease(lease),
    close: () => Promise.resolve(),
  };
}

describe("retrieveRun: a run this process drives", () => {
  it("gives a handle on the live run: status, events and result", async () => {
    const store = new MemoryStore();
    const { g, gate, started } = gated();
    const handle = run(g, undefined, { runId: "live-1", store });
    await started.promise;
    const found = await retrieveRun("live-1", { store });
    expect(found.runId).toBe("live-1");
    expect(found.status).toBe("running");
    expect(found.events).toBe(handle.events);
    const ended: string[] = [];
    found.events.on("run:success", (e) => ended.push(e.runId));
    gate.resolve("x");
    await expect(found.result()).resolves.toEqual({ wait: "x", after: "x!" });
    expect(found.status).toBe("succeeded");
    expect(handle.status).toBe("succeeded");
    expect(ended).toEqual(["live-1"]);
  });

  it("cancels the live run", async () => {
    const store = new MemoryStore();
    const { g, started } = gated();
    const handle = run(g, undefined, { runId: "live-2", store });
    await started.promise;
    const found = await retrieveRun("live-2", { store });
    found.cancel("stop it");
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(RunCancelledError);
    expect((error as RunCancelledError).reason).toBe("stop it");
    expect(found.status).toBe("cancelled");
  });

  it("recognises the run by store location, whatever store object is passed", async () => {
    const dir = tempDir();
    const { g, gate, started } = gated();
    const handle = run(g, undefined, { runId: "live-3", store: lowdb(dir) });
    await started.promise;
    const found = await retrieveRun("live-3", { store: lowdb(dir) });
    expect(found.status).toBe("running");
    expect(found.events).toBe(handle.events);
    gate.resolve("y");
    await expect(found.result()).resolves.toEqual({ wait: "y", after: "y!" });
  });
});

describe("retrieveRun: a stored run nobody here drives", () => {
  it("a succeeded run: its status and stored outputs; cancel() does nothing", async () => {
    const store = new MemoryStore();
    const g = graph("ok")
      .node("a", () => 1)
      .build();
    await runAsync(g, undefined, { runId: "done-1", store });
    const found = await retrieveRun("done-1", { store });
    expect(found.status).toBe("succeeded");
    expect(found.state?.meta.runId).toBe("done-1");
    await expect(found.result()).resolves.toEqual({ a: 1 });
    found.cancel();
    expect(found.status).toBe("succeeded");
  });

  it("a failed run: result() rejects with the stored error (name, code, message)", async () => {
    const store = new MemoryStore();
    const g = graph("bad")
      .node("a", () => {
        throw new Error("boom");
      })
      .build();
    const original = await rejection(runAsync(g, undefined, { runId: "failed-1", store, retry: { maxAttempts: 1 } }));
    const found = await retrieveRun("failed-1", { store });
    expect(found.status).toBe("failed");
    const error = (await rejection(found.result())) as Error & { code?: string };
    expect(error.name).toBe("NodeFailedError");
    expect(error.code).toBe("NODE_FAILED");
    expect(error.message).toBe((original as Error).message);
  });

  it("a cancelled run: result() rejects with the stored RUN_CANCELLED error", async () => {
    const store = new MemoryStore();
    const { g, started } = gated();
    const handle = run(g, undefined, { runId: "cancelled-1", store });
    await started.promise;
    handle.cancel("enough");
    await rejection(handle.result());
    const found = await retrieveRun("cancelled-1", { store });
    expect(found.status).toBe("cancelled");
    const error = (await rejection(found.result())) as Error & { code?: string };
    expect(error.code).toBe("RUN_CANCELLED");
    expect(error.message).toContain("enough");
  });

  it("a waiting run: result() rejects with GraphHasPendingWaits, as the run's own handle did", async () => {
    const store = new MemoryStore();
    const g = graph("waits")
      .node("review", ({ waitFor }) => waitFor("review:1"))
      .build();
    await rejection(runAsync(g, undefined, { runId: "waiting-1", store }));
    const found = await retrieveRun("waiting-1", { store });
    expect(found.status).toBe("waiting");
    const error = await rejection(found.result());
    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    expect((error as GraphHasPendingWaits).waits.map((w) => w.key)).toEqual(["review:1"]);
  });

  it("a succeeded run whose outputs could not be stored: RunOutputsNotStoredError", async () => {
    const store = new MemoryStore();
    const g = graph("fn-out")
      .node("a", () => 1)
      .output(() => ({ at: () => 1 }))
      .build();
    await runAsync(g, undefined, { runId: "not-stored-1", store });
    const found = await retrieveRun("not-stored-1", { store });
    expect(found.status).toBe("succeeded");
    const error = await rejection(found.result());
    expect(error).toBeInstanceOf(RunOutputsNotStoredError);
    expect((error as RunOutputsNotStoredError).code).toBe("OUTPUTS_NOT_STORED");
  });

  it("a run another process drives: status from the store, result() polls until it ends, cancel() is refused", async () => {
    const store = new MemoryStore();
    const { g, gate, started } = gated();
    const handle = run(g, undefined, { runId: "remote-1", store });
    await started.promise;
    const found = await retrieveRun("remote-1", { store: elsewhere(store), pollIntervalMs: 10 });
    expect(found.status).toBe("running");
    expect(found.events).not.toBe(handle.events);
    const error = (() => {
      try {
        found.cancel();
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CancelNotAvailableError);
    expect((error as CancelNotAvailableError).code).toBe("CANCEL_NOT_AVAILABLE");
    expect(handle.status).toBe("running");
    const result = found.result();
    gate.resolve("z");
    await expect(result).resolves.toEqual({ wait: "z", after: "z!" });
    expect(found.status).toBe("succeeded");
  });

  it("a run deleted and started again under its id while result() waits: RunNotFoundError, never the later run's outputs", async () => {
    for (const live of [false, true]) {
      const store = new MemoryStore();
      const runId = `again-${String(live)}`;
      // A run stored as running whose driver is gone (as a crash leaves it): the handle polls it.
      const g = graph("first")
        .node("x", () => "first run's")
        .build();
      await storeLeftRun(store, g, runId, { instance: "first-mark", status: "running" });
      const found = await retrieveRun(runId, { store: elsewhere(store), pollIntervalMs: 10 });
      expect(found.status).toBe("running");
      const outcome = rejection(found.result()); // settled whenever the handle gives up: held from now on
      // The run is deleted, and a run of another graph started under its id: its outputs must not reach the
      // handle, whether the handle finds the later run live in this thread or stored after it ended.
      expect(await deleteRun(runId, { store })).toBe(true);
      const hold = deferred<string>();
      const other = graph("other")
        .node("x", () => (live ? hold.promise : "later run's"))
        .build();
      const second = run(other, undefined, { runId, store });
      if (live) {
        await sleep(50); // the handle polls while the later run is live here
        hold.resolve("later run's");
      }
      expect(await second.result()).toEqual({ x: "later run's" });
      const refused = await outcome;
      expect(refused).toBeInstanceOf(RunNotFoundError);
      expect(refused).toMatchObject({ instance: "first-mark" }); // the message names the mark of the run that is gone
      expect(found.status).toBe("running"); // its own run, as last read
    }
  });

  it("refuses an unknown run, a bad run id and bad options", async () => {
    const store = new MemoryStore();
    await expect(retrieveRun("nope", { store })).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(retrieveRun("../x", { store })).rejects.toBeInstanceOf(InvalidRunIdError);
    await expect(retrieveRun("x", { store, pollIntervalMs: 0 })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(retrieveRun("x", { store, pollIntervalMs: 60_001 })).rejects.toBeInstanceOf(InvalidOptionError);
    // @ts-expect-error an unknown option
    await expect(retrieveRun("x", { store, poll: 5 })).rejects.toBeInstanceOf(InvalidOptionError);
  });
});

describe("disposing a handle on a run driven elsewhere", () => {
  it("stops result()'s polling: it rejects with RunHandleDisposedError, the store is not read again, and the run goes on", async () => {
    const store = new MemoryStore();
    const { g, gate, started } = gated();
    const handle = run(g, undefined, { runId: "dispose-poll", store });
    await started.promise;
    let loads = 0;
    const view = elsewhere(store);
    const counting: RunStore = { ...view, load: (runId) => ((loads += 1), view.load(runId)) };
    const found = await retrieveRun("dispose-poll", { store: counting, pollIntervalMs: 10 });
    const waiting = rejection(found.result());
    await sleep(40); // a few polls
    await found[Symbol.asyncDispose]();
    const refused = await waiting;
    expect(refused).toBeInstanceOf(RunHandleDisposedError);
    expect(refused).toMatchObject({ code: "RUN_HANDLE_DISPOSED", runId: "dispose-poll" });
    const readsAtDisposal = loads;
    await sleep(60); // six poll intervals: none of them reads
    expect(loads).toBe(readsAtDisposal);
    // result() called after disposal on a run that had not ended as last read: refused at once, no read.
    expect(await rejection(found.result())).toBeInstanceOf(RunHandleDisposedError);
    expect(loads).toBe(readsAtDisposal);
    // The run itself was not cancelled: it is not this handle's to cancel.
    gate.resolve("z");
    await expect(handle.result()).resolves.toEqual({ wait: "z", after: "z!" });
  });

  it("stops waiting for a run this process started driving after the handle was made, without cancelling it", async () => {
    const store = new MemoryStore();
    const { g, gate, started } = gated();
    await storeLeftRun(store, g, "dispose-live", { status: "running" });
    const found = await retrieveRun("dispose-live", { store, pollIntervalMs: 10 });
    const waiting = rejection(found.result());
    const resumed = run(g, undefined, { runId: "dispose-live", store });
    await started.promise;
    await sleep(40); // the handle's next poll finds the live run and waits for it
    await found[Symbol.asyncDispose]();
    expect(await waiting).toBeInstanceOf(RunHandleDisposedError);
    gate.resolve("y");
    await expect(resumed.result()).resolves.toEqual({ wait: "y", after: "y!" });
  });

  it("leaves a finished run's result readable", async () => {
    const store = new MemoryStore();
    await runAsync(
      graph("done")
        .node("a", () => 1)
        .build(),
      undefined,
      { runId: "dispose-done", store },
    );
    const found = await retrieveRun("dispose-done", { store: elsewhere(store) });
    await found[Symbol.asyncDispose]();
    await expect(found.result()).resolves.toEqual({ a: 1 });
  });
});

describe("retrieveRun: a run another process drives (a real child process)", () => {
  it("reads its status, refuses cancel(), and result() resolves once the child's run ends", async () => {
    const dir = tempDir();
    const log = join(dir, "log.txt");
    const release = join(dir, "release");
    const child = spawn(process.execPath, [resolve(import.meta.dirname, "fixtures/lease-holder-child.mjs")], {
      env: { ...process.env, TASKLOOM_DIR: dir, RUN_ID: "child-1", LOG: log, RELEASE: release },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    // Bounded wait for the child's node to start (a count of short pauses; nothing asserts on time).
    for (let i = 0; i < 3_000 && !(existsSync(log) && readFileSync(log, "utf8").includes("start slow")); i++) await sleep(10);
    expect(readFileSync(log, "utf8"), stderr).toContain("start slow");

    const found = await retrieveRun("child-1", { store: lowdb(dir), pollIntervalMs: 20 });
    expect(found.status).toBe("running");
    expect(() => found.cancel()).toThrow(CancelNotAvailableError);
    const result = found.result();
    writeFileSync(release, "");
    await expect(result).resolves.toEqual({ slow: "child" });
    expect(found.status).toBe("succeeded");
    expect(await exited, stderr).toBe(0);
  });
});
