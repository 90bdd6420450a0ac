/**
 * Lease identity with real processes (crash-suite style: real `node`
 * children, SIGKILL). Containers that share a host name and a store
 * volume each number their own pids: a driver must never call a holder
 * in another PID namespace dead because its pid means nothing here. The
 * child runs in another PID namespace through
 * `unshare --pid --fork --mount-proc` (root is available here and in CI),
 * with its pid chosen (through the new namespace's `ns_last_pid`) among
 * pids that do not exist in ours, which is what fooled the old rule.
 * The children run the compiled package (`dist/`, built by `npm test`).
 * Every test runs on both layouts of `LowdbStore` (each in a folder and
 * with a run id of its own): `"files"`, the default, where the run is one
 * file `<dir>/<runId>.run` and its lease the last lease line of that file
 * (with the claim file beside it), and `"folders"`, where the run is a
 * folder `<dir>/runs/<runId>/` and its lease its `lease.json`. The child
 * is told the layout (`LAYOUT`), this process's stores are made with it,
 * and each test checks the run is kept as it says. The lease is read from
 * the layout's own file, and must be what a store's `readLease` reads.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import superjson from "superjson";
import { afterAll, describe, expect, it } from "vitest";
import { getRun, graph, LowdbStore, ManualClock, RunLockedError, runAsync } from "../src/index.js";
import { processAlive, processIdentity } from "../src/persistence/lease-rules.js";
import type { LowdbStoreOptions } from "../src/persistence/lowdb-store.js";
import type { Lease } from "../src/persistence/run-store.js";
import { logLines, runChildScript } from "./support/child-process.js";

const CHILD = resolve(import.meta.dirname, "fixtures/lease-holder-child.mjs");
const root = mkdtempSync(join(tmpdir(), "taskloom-lease-identity-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const hasUnshare = spawnSync("unshare", ["--version"]).status === 0;
if (!hasUnshare) console.warn("NOTICE: skipping the PID-namespace lease tests: `unshare` is missing (install util-linux)");

/** The parent's graph: the child's own (same name, same node), with a body that says it ran here. */
function parentGraph(ran: string[]) {
  return graph("lease-holder")
    .node("slow", async () => {
      ran.push("parent");
      return "parent";
    })
    .build();
}

interface Child {
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Starts the holder child in a new PID namespace, where its pid will be `nsPid`. */
function startNamespacedChild(env: Record<string, string>, nsPid: number): Child {
  // sh is the namespace's pid 1; with ns_last_pid set, the node it forks gets nsPid. `exit` after it keeps sh from exec'ing node.
  const script = `echo ${nsPid - 1} > /proc/sys/kernel/ns_last_pid; "$@"; exit $?`;
  const child = spawn("unshare", ["--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c", script, "sh", process.execPath, CHILD], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolvePromise) =>
    child.on("close", (code) => resolvePromise({ code, stdout, stderr })),
  );
  return { process: child, exited };
}

/** A pid that no process of this namespace has, below the last one handed out (so it is not handed out again soon). */
function pidUnusedHere(): number {
  const last = Number(readFileSync("/proc/sys/kernel/ns_last_pid", "utf8").trim());
  for (let pid = last - 1; pid > Math.max(300, last - 5_000); pid--) if (!processAlive(pid)) return pid;
  throw new Error("no unused pid found below the last one");
}

/** Polls the log until a line starting with `prefix` appears; returns the pid it names. Bounded, not timed. */
async function waitForLine(log: string, prefix: string, child: Child): Promise<number> {
  let done = false;
  void child.exited.then(() => (done = true));
  for (let i = 0; i < 3_000; i++) {
    if (existsSync(log)) {
      const line = readFileSync(log, "utf8")
        .split("\n")
        .find((l) => l.startsWith(`${prefix} `));
      if (line) return Number(line.split(" ").at(-1));
    }
    if (done) throw new Error(`the child exited before "${prefix}": ${(await child.exited).stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`gave up waiting for "${prefix}" in ${log}`);
}

type Layout = NonNullable<LowdbStoreOptions["layout"]>;
/** The layouts every test runs on: `"files"` (the default) and `"folders"`. */
const LAYOUTS: readonly Layout[] = ["files", "folders"];

/** Checks that run `runId` in `dir` is kept as `layout` says: as the run file `<runId>.run`, or as the folder `runs/<runId>`. */
function expectKeptAs(dir: string, runId: string, layout: Layout): void {
  expect(existsSync(join(dir, `${runId}.run`)), `the run file of ${runId}`).toBe(layout === "files");
  expect(existsSync(join(dir, "runs", runId)), `the run folder of ${runId}`).toBe(layout === "folders");
}

/**
 * The lease of run `runId`, read from the layout's own file (the run
 * folder's `lease.json`, or the run file's last lease line), once the run
 * is checked to be kept as `layout` says; a store's `readLease` (which
 * also reads the run file's claim) must read the same.
 */
async function readLease(dir: string, runId: string, layout: Layout): Promise<Lease> {
  expectKeptAs(dir, runId, layout);
  let lease: Lease;
  if (layout === "folders") lease = superjson.parse<Lease>(readFileSync(join(dir, "runs", runId, "lease.json"), "utf8"));
  else {
    const last = readFileSync(join(dir, `${runId}.run`), "utf8")
      .split("\n")
      .slice(0, -1) // whole lines only: what follows the last "\n" (nothing, or a line being written) is not one
      .filter((line) => line.startsWith('{"json":{"kind":"lease",'))
      .at(-1);
    if (last === undefined) throw new Error(`the run file of ${runId} holds no lease line`);
    lease = superjson.parse<{ kind: "lease"; lease: Lease }>(last).lease;
  }
  const reader = new LowdbStore({ dir, layout });
  try {
    expect(await reader.readLease(runId)).toEqual(lease);
  } finally {
    await reader.close();
  }
  return lease;
}

describe.skipIf(!hasUnshare)("a lease held in another PID namespace (containers sharing a store volume)", () => {
  describe.each(LAYOUTS)("run kept as %s", (layout) => {
    function setup(test: string) {
      const name = `${test}-${layout}`;
      const dir = join(root, name);
      const env = {
        TASKLOOM_DIR: dir,
        RUN_ID: name,
        LOG: join(root, `${name}.log`),
        RELEASE: join(root, `${name}.release`),
        LEASE_TTL_MS: "60000",
        LAYOUT: layout,
      };
      return { dir, env, runId: name };
    }

    it("is never taken over while its holder runs: RunLockedError, and the node body runs once", async () => {
      const { dir, env, runId } = setup("ns-running");
      const child = startNamespacedChild(env, pidUnusedHere());
      try {
        const nsPid = await waitForLine(env.LOG, "start slow", child);
        // The old rule's trap: the holder's pid names no process in this namespace.
        expect(processAlive(nsPid)).toBe(false);
        const lease = await readLease(dir, runId, layout);
        expect(lease.pid).toBe(nsPid);

        const ran: string[] = [];
        const store = new LowdbStore({ dir, layout });
        const error = await runAsync(parentGraph(ran), undefined, { runId, store }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RunLockedError);
        expect((error as RunLockedError).holder).toMatchObject({ pid: nsPid, owner: lease.owner });
        expect(ran).toEqual([]);
        // Why: the lease names the holder's boot (this one) and PID namespace (not this one).
        expect(lease.identity?.bootId).toBe(processIdentity().bootId);
        expect(lease.identity?.pidNs).toBeDefined();
        expect(lease.identity?.pidNs).not.toBe(processIdentity().pidNs);

        writeFileSync(env.RELEASE, "go");
        const result = await child.exited;
        expect(result.code, result.stderr).toBe(0);
        expect(JSON.parse(result.stdout.trim())).toEqual({ slow: "child" });
        expect((await getRun(runId, { store })).outputs).toEqual({ slow: "child" });
        expect(logLines(env.LOG, nsPid)).toEqual(["start slow", "end slow"]);
        expectKeptAs(dir, runId, layout);
        await store.close();
      } finally {
        child.process.kill("SIGKILL");
      }
    });

    it("SIGKILLed, it still holds the run until its lease expires (nothing here can tell it died); then the run is taken over", async () => {
      const { dir, env, runId } = setup("ns-killed");
      const child = startNamespacedChild(env, pidUnusedHere());
      await waitForLine(env.LOG, "start slow", child);
      child.process.kill("SIGKILL"); // --kill-child: the namespace's init dies, and every process in it
      await child.exited;

      const ran: string[] = [];
      const store = new LowdbStore({ dir, layout });
      await expect(runAsync(parentGraph(ran), undefined, { runId, store })).rejects.toBeInstanceOf(RunLockedError);
      expect(ran).toEqual([]);

      const lease = await readLease(dir, runId, layout);
      const afterExpiry = new ManualClock(lease.expiresAt + 1);
      await expect(runAsync(parentGraph(ran), undefined, { runId, store, clock: afterExpiry })).resolves.toEqual({ slow: "parent" });
      expect(ran).toEqual(["parent"]);
      expectKeptAs(dir, runId, layout);
      await store.close();
    });
  });
});

describe("a lease held in this PID namespace", () => {
  describe.each(LAYOUTS)("run kept as %s", (layout) => {
    it("is taken over at once when its holder was SIGKILLed", async () => {
      const runId = `same-ns-${layout}`;
      const dir = join(root, runId);
      const log = join(root, `${runId}.log`);
      const killed = await runChildScript(CHILD, dir, runId, log, "start slow", [], { LAYOUT: layout });
      expect(killed.signal, killed.stderr).toBe("SIGKILL");
      const lease = await readLease(dir, runId, layout);

      const ran: string[] = [];
      const store = new LowdbStore({ dir, layout });
      // No clock trick: the lease has most of its 30 s left, and the dead holder is provably dead.
      await expect(runAsync(parentGraph(ran), undefined, { runId, store })).resolves.toEqual({ slow: "parent" });
      expect(ran).toEqual(["parent"]);
      expect(lease.identity?.pidNs).toBe(processIdentity().pidNs);
      expectKeptAs(dir, runId, layout);
      await store.close();
    });
  });
});
