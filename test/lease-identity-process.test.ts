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
 * The lease is read from the run folder's `lease.json`: the children and
 * this process keep the run as a folder (`layout: "folders"`).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import superjson from "superjson";
import { afterAll, describe, expect, it } from "vitest";
import { getRun, graph, LowdbStore, ManualClock, RunLockedError, runAsync } from "../src/index.js";
import { processAlive, processIdentity } from "../src/persistence/lease-rules.js";
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

function readLease(dir: string, runId: string): Lease {
  return superjson.parse<Lease>(readFileSync(join(dir, "runs", runId, "lease.json"), "utf8"));
}

describe.skipIf(!hasUnshare)("a lease held in another PID namespace (containers sharing a store volume)", () => {
  function setup(name: string) {
    const dir = join(root, name);
    const env = {
      TASKLOOM_DIR: dir,
      RUN_ID: name,
      LOG: join(root, `${name}.log`),
      RELEASE: join(root, `${name}.release`),
      LEASE_TTL_MS: "60000",
      LAYOUT: "folders",
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
      const lease = readLease(dir, runId);
      expect(lease.pid).toBe(nsPid);

      const ran: string[] = [];
      const store = new LowdbStore({ dir, layout: "folders" });
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
    const store = new LowdbStore({ dir, layout: "folders" });
    await expect(runAsync(parentGraph(ran), undefined, { runId, store })).rejects.toBeInstanceOf(RunLockedError);
    expect(ran).toEqual([]);

    const lease = readLease(dir, runId);
    const afterExpiry = new ManualClock(lease.expiresAt + 1);
    await expect(runAsync(parentGraph(ran), undefined, { runId, store, clock: afterExpiry })).resolves.toEqual({ slow: "parent" });
    expect(ran).toEqual(["parent"]);
    await store.close();
  });
});

describe("a lease held in this PID namespace", () => {
  it("is taken over at once when its holder was SIGKILLed", async () => {
    const dir = join(root, "same-ns");
    const log = join(root, "same-ns.log");
    const killed = await runChildScript(CHILD, dir, "same-ns", log, "start slow", [], { LAYOUT: "folders" });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    const lease = readLease(dir, "same-ns");

    const ran: string[] = [];
    const store = new LowdbStore({ dir, layout: "folders" });
    // No clock trick: the lease has most of its 30 s left, and the dead holder is provably dead.
    await expect(runAsync(parentGraph(ran), undefined, { runId: "same-ns", store })).resolves.toEqual({ slow: "parent" });
    expect(ran).toEqual(["parent"]);
    expect(lease.identity?.pidNs).toBe(processIdentity().pidNs);
    await store.close();
  });
});
