/**
 * `cancelRun` (issue 18 item 3): a run driven here, by another process
 * (found through its lease, on LowdbStore and RedisStore), by a process
 * that died, or by nobody; and `taskloom cancel`.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CancelNotAvailableError,
  GraphHasPendingWaits,
  InvalidOptionError,
  MemoryStore,
  RunCancelledError,
  RunNotFoundError,
  cancelRun,
  deleteRun,
  getRun,
  graph,
  run,
  runAsync,
  type CancelRequest,
  type RunStore,
} from "../src/index.js";
import { RedisStore } from "../src/adapters/bullmq/redis-store.js";
import { runCli } from "../src/cli/program.js";
import { rejection, until } from "./support/async.js";
import { describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";
import { tempStores } from "./support/temp-stores.js";
import { storeLeftRun } from "./support/stored-run.js";

const { tempDir, lowdb } = tempStores("taskloom-cancel-");

/** A run of the cancel child, with its log; `exited` settles when it ends. */
function startChild(kind: "lowdb" | "redis", where: string, runId: string, leaseTtlMs: number) {
  const log = join(tempDir(), "log.txt");
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/cancel-child.ts", kind, where, runId, log, String(leaseTtlMs)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const lines = (): string[] => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []);
  return { child, exited, lines, stdout: () => stdout, stderr: () => stderr };
}

/** Waits (real time, generous: the machine is shared) until the child logged a line starting with `prefix`. */
async function logged(lines: () => string[], prefix: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!lines().some((l) => l.startsWith(prefix))) {
    if (Date.now() > until) throw new Error(`the child never logged "${prefix}"; it logged ${JSON.stringify(lines())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A graph whose node waits for its signal, reporting the reason. */
function waitingForAbort(seen: { reason?: unknown }) {
  return graph("held")
    .node("work", ({ signal }) => {
      return new Promise((_, reject) =>
        signal.addEventListener("abort", () => {
          seen.reason = signal.reason;
          reject(signal.reason as Error);
        }),
      );
    })
    .build();
}

describe("cancelRun in one process", () => {
  it("cancels a run this process drives: its node sees the signal abort, the run is saved cancelled", async () => {
    const store = new MemoryStore();
    const seen: { reason?: unknown } = {};
    const handle = run(waitingForAbort(seen), undefined, { runId: "here-1", store });
    await until(() => handle.status === "running", "the run to start");
    const result = await cancelRun("here-1", { store, reason: "operator said stop" });
    expect(result).toEqual({ runId: "here-1", status: "cancelled", by: "driver", children: [] });
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(RunCancelledError);
    expect((error as RunCancelledError).reason).toBe("operator said stop");
    expect(seen.reason).toBeInstanceOf(RunCancelledError);
    const stored = await getRun("here-1", { store });
    expect(stored.status).toBe("cancelled");
    expect(stored.error?.message).toContain("operator said stop");
  });

  it("marks a run nobody drives (waiting) cancelled directly, and leaves an ended run as it is", async () => {
    const store = new MemoryStore();
    const g = graph("w")
      .node("ask", ({ waitFor }) => waitFor("ok"))
      .build();
    expect(await rejection(runAsync(g, undefined, { runId: "idle-1", store }))).toBeInstanceOf(GraphHasPendingWaits);
    expect(await cancelRun("idle-1", { store })).toEqual({ runId: "idle-1", status: "cancelled", by: "store", children: [] });
    const stored = await getRun("idle-1", { store });
    expect(stored.status).toBe("cancelled");
    expect(stored.error?.code).toBe("RUN_CANCELLED");
    expect(stored.waits).toEqual([]);
    // Ended already: nothing is written.
    const before = (await getRun("idle-1", { store })).updatedAt;
    expect(await cancelRun("idle-1", { store })).toMatchObject({ status: "cancelled", by: "ended" });
    expect((await getRun("idle-1", { store })).updatedAt).toBe(before);
    await runAsync(
      graph("ok")
        .node("a", () => 1)
        .build(),
      undefined,
      { runId: "done-1", store },
    );
    expect(await cancelRun("done-1", { store })).toMatchObject({ status: "succeeded", by: "ended" });
  });

  it("refuses an unknown run and bad options, writing nothing", async () => {
    const store = new MemoryStore();
    expect(await rejection(cancelRun("nope", { store }))).toBeInstanceOf(RunNotFoundError);
    expect(await rejection(cancelRun("nope", { store, reasn: "x" } as never))).toBeInstanceOf(InvalidOptionError);
    expect(await rejection(cancelRun("nope", { store, reason: "" }))).toBeInstanceOf(InvalidOptionError);
    expect(await rejection(cancelRun("../x", { store }))).toBeInstanceOf(Error);
  });

  it("a store without requestCancel cannot reach a live driver: CancelNotAvailableError", async () => {
    const inner = new MemoryStore();
    const store: RunStore = new Proxy(inner, {
      get: (target, key) => {
        if (key === "requestCancel") return undefined;
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    // A lease held by another owner of this live process: a driver cancelRun cannot reach in this thread.
    const g = graph("w")
      .node("ask", ({ waitFor }) => waitFor("ok"))
      .build();
    await rejection(runAsync(g, undefined, { runId: "old-store", store: inner }));
    await inner.acquireLease("old-store", { owner: "elsewhere", pid: process.pid, host: "another-host", ttlMs: 60_000, now: Date.now() });
    expect(await rejection(cancelRun("old-store", { store }))).toBeInstanceOf(CancelNotAvailableError);
  });
});

/**
 * A waiting run `runId` in a MemoryStore whose lease "another process" holds, and that store seen through a
 * proxy whose `requestCancel` reaches the holder, which gives its lease back, then calls `then` (on the bare store).
 */
async function heldElsewhere(runId: string, then: (inner: MemoryStore) => Promise<void> = () => Promise.resolve()) {
  const inner = new MemoryStore();
  const asked: CancelRequest[] = [];
  const g = graph("w")
    .node("ask", ({ waitFor }) => waitFor("ok"))
    .build();
  await rejection(runAsync(g, undefined, { runId, store: inner }));
  const held = await inner.acquireLease(runId, { owner: "elsewhere", pid: process.pid, host: "another-host", ttlMs: 60_000, now: Date.now() });
  const store: RunStore = new Proxy(inner, {
    get: (target, key) => {
      if (key === "requestCancel")
        return async (id: string, request: CancelRequest) => {
          asked.push(request);
          const reached = await target.requestCancel(id, request);
          await target.releaseLease(held);
          await then(target);
          return reached;
        };
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { inner, store, held, asked, g };
}

describe("cancelRun's request to a driver", () => {
  it("is addressed to the holder's owner and token (a run deleted and started again restarts its tokens)", async () => {
    // The driver gives its lease back once asked, so cancelRun then marks the run itself.
    const { store, held, asked } = await heldElsewhere("held");
    expect(await cancelRun("held", { store, reason: "stop" })).toMatchObject({ status: "cancelled" });
    expect(asked).toEqual([expect.objectContaining({ token: held.token, owner: "elsewhere", reason: "stop" })]);
  });
});

describe("cancelRun of a run deleted and started again under its id while it waits", () => {
  it("writes nothing to the later run: RunNotFoundError, and the later run stays as it was", async () => {
    // The request reaches the driver, which stops; its run is deleted, and a new run of the id is stored before
    // cancelRun looks again.
    const later = graph("w")
      .node("ask", ({ waitFor }) => waitFor("ok"))
      .build();
    const { inner, store } = await heldElsewhere("swapped", async (target) => {
      expect(await target.delete("swapped")).toBe(true);
      await storeLeftRun(target, later, "swapped", { instance: "later-run" });
    });
    const refused = await rejection(cancelRun("swapped", { store, reason: "stop" }));
    expect(refused).toBeInstanceOf(RunNotFoundError);
    expect((refused as RunNotFoundError).instance).toMatch(/^[0-9a-f]{12}$/); // the mark of the run asked for, which is gone
    const stored = await getRun("swapped", { store: inner });
    expect(stored).toMatchObject({ instance: "later-run", status: "pending" });
    expect(stored.error).toBeUndefined();
  });
});

describe("cancelRun from another process (LowdbStore)", () => {
  it("the driving process stops the run within a renewal interval: node aborted, saved cancelled, nothing after it runs", async () => {
    const dir = tempDir();
    const c = startChild("lowdb", dir, "far-1", 900);
    await logged(c.lines, "started");
    const result = await cancelRun("far-1", { store: lowdb(dir), reason: "from the admin page" });
    expect(result).toEqual({ runId: "far-1", status: "cancelled", by: "driver", children: [] });
    expect(await c.exited).toEqual({ code: 0, signal: null });
    expect(JSON.parse(c.stdout())).toEqual({ name: "RunCancelledError", code: "RUN_CANCELLED", reason: "from the admin page" });
    expect(c.lines().some((l) => l.startsWith("aborted") && l.includes("from the admin page"))).toBe(true);
    expect(c.lines().some((l) => l.startsWith("after ran"))).toBe(false);
    const stored = await getRun("far-1", { store: lowdb(dir) });
    expect(stored.status).toBe("cancelled");
    expect(stored.error?.code).toBe("RUN_CANCELLED");
  }, 120_000);

  it("a driver killed with SIGKILL: the run is marked cancelled directly", async () => {
    const dir = tempDir();
    const c = startChild("lowdb", dir, "dead-1", 60_000);
    await logged(c.lines, "started");
    c.child.kill("SIGKILL");
    expect((await c.exited).signal).toBe("SIGKILL");
    expect((await getRun("dead-1", { store: lowdb(dir) })).status).toBe("running");
    // The lease names a dead process of this host: taken over at once, well before its 60 s expiry.
    expect(await cancelRun("dead-1", { store: lowdb(dir) })).toEqual({ runId: "dead-1", status: "cancelled", by: "store", children: [] });
    expect((await getRun("dead-1", { store: lowdb(dir) })).status).toBe("cancelled");
  }, 120_000);
});

describeRedis("cancelRun from another process (RedisStore)", () => {
  it("the driving process stops the run and saves it cancelled", async () => {
    const prefix = uniquePrefix("cancel");
    const store = new RedisStore({ connection: REDIS_URL, prefix });
    try {
      const c = startChild("redis", prefix, "far-redis", 900);
      await logged(c.lines, "started");
      expect(await cancelRun("far-redis", { store, reason: "redis says stop" })).toMatchObject({ status: "cancelled", by: "driver" });
      expect(await c.exited).toEqual({ code: 0, signal: null });
      expect(JSON.parse(c.stdout())).toMatchObject({ name: "RunCancelledError", reason: "redis says stop" });
      const stored = await getRun("far-redis", { store });
      expect(stored.status).toBe("cancelled");
    } finally {
      await store.close();
      await dropPrefix(prefix);
    }
  }, 120_000);
});

describe("cancelRun with the run's mark", () => {
  const asks = graph("mark-cancel")
    .node("ask", ({ waitFor }) => waitFor("ok"))
    .build();

  it("cancels nothing when the run under the id is a later one (RunNotFoundError with the mark); its own mark cancels it", async () => {
    const store = new MemoryStore();
    expect(await rejection(runAsync(asks, undefined, { store, runId: "marked" }))).toBeInstanceOf(GraphHasPendingWaits);
    const deleted = (await getRun("marked", { store })).instance!;
    await deleteRun("marked", { store });
    expect(await rejection(runAsync(asks, undefined, { store, runId: "marked" }))).toBeInstanceOf(GraphHasPendingWaits);
    const current = (await getRun("marked", { store })).instance!;
    const refused = await rejection(cancelRun("marked", { store, instance: deleted }));
    expect(refused).toBeInstanceOf(RunNotFoundError);
    expect(refused).toMatchObject({ code: "RUN_NOT_FOUND", instance: deleted });
    expect((await getRun("marked", { store })).status).toBe("waiting");
    expect(await cancelRun("marked", { store, instance: current })).toMatchObject({ status: "cancelled", by: "store" });
  });

  it("refuses a mark that is not one before it reads the store", async () => {
    for (const instance of ["", "a b", 7]) {
      const refused = await rejection(cancelRun("nope", { store: new MemoryStore(), instance: instance as string }));
      expect(refused).toBeInstanceOf(InvalidOptionError);
      expect(refused).toMatchObject({ option: "cancelRun instance" });
    }
  });

  it("taskloom cancel --instance: refused with RUN_NOT_FOUND for another mark, cancels with the run's own", async () => {
    const dir = tempDir();
    expect(await rejection(runAsync(asks, undefined, { store: lowdb(dir), runId: "cli-mark" }))).toBeInstanceOf(GraphHasPendingWaits);
    const { instance } = await getRun("cli-mark", { store: lowdb(dir) });
    const text = { out: "", err: "" };
    const io = {
      out: { isTTY: false, columns: 120, write: (t: string) => ((text.out += t), true) },
      err: { isTTY: false, columns: 120, write: (t: string) => ((text.err += t), true) },
      cwd: process.cwd(),
      env: { ...process.env, TASKLOOM_DIR: dir },
      now: () => Date.now(),
    };
    const other = instance === "000000000000" ? "000000000001" : "000000000000";
    expect(await runCli(["cancel", "cli-mark", "--instance", other], io)).not.toBe(0);
    expect(text.err).toContain("RUN_NOT_FOUND");
    expect((await getRun("cli-mark", { store: lowdb(dir) })).status).toBe("waiting");
    expect(await runCli(["cancel", "cli-mark", "--instance", instance!, "--json"], io)).toBe(0);
    expect(JSON.parse(text.out)).toMatchObject({ runId: "cli-mark", status: "cancelled" });
  });
});

describe("taskloom cancel <run-id>", () => {
  function stream() {
    const s = { text: "", isTTY: false, columns: 120, write: (t: string) => ((s.text += t), true) };
    return s;
  }

  it("cancels a run another process drives, says how, and prints JSON with --json", async () => {
    const dir = tempDir();
    const c = startChild("lowdb", dir, "cli-1", 900);
    await logged(c.lines, "started");
    const out = stream();
    const err = stream();
    const io = { out, err, cwd: process.cwd(), env: { ...process.env, TASKLOOM_DIR: dir }, now: () => Date.now() };
    expect(await runCli(["cancel", "cli-1", "--reason", "from the shell"], io), err.text).toBe(0);
    expect(err.text).toContain("cli-1 cancelled by the process that drove it");
    expect(await c.exited).toEqual({ code: 0, signal: null });
    expect(JSON.parse(c.stdout())).toMatchObject({ code: "RUN_CANCELLED", reason: "from the shell" });
    // Again: it had ended already.
    expect(await runCli(["cancel", "cli-1", "--json"], io)).toBe(0);
    expect(JSON.parse(out.text)).toEqual({ runId: "cli-1", status: "cancelled", by: "ended", children: [] });
    // An unknown run: one error line, a non-zero exit code.
    const bad = stream();
    expect(await runCli(["cancel", "nope"], { ...io, err: bad })).not.toBe(0);
    expect(bad.text).toContain("RUN_NOT_FOUND");
  }, 120_000);
});
