/**
 * Nested runs across processes (issue 18 item 1): the process driving a
 * parent and its child run is killed with SIGKILL; a new process resumes
 * the parent. An unfinished child is resumed (its succeeded node is not
 * run again), a finished child is not run again at all. And `cancelRun`
 * from the test process stops a parent and its running child.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cancelRun, childRunId, getRun } from "../src/index.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-nested-crash-");

/** Waits (real time, generous: the machine is shared) until `log` has a line `text <pid>` of some process. */
async function logged(log: string, text: string): Promise<void> {
  for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
    if (existsSync(log) && new RegExp(`^${text} \\d+$`, "m").test(readFileSync(log, "utf8"))) return;
  }
  throw new Error(`nothing logged "${text}"`);
}

/** Runs the fixture; with `killOn`, SIGKILLs it once its log has that line. Resolves to the pid, exit and stdout. */
function drive(dir: string, runId: string, log: string, env: Record<string, string>, killOn?: string) {
  return new Promise<{ pid: number; code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/nested-child.ts", dir, runId, log], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const watcher =
      killOn === undefined
        ? undefined
        : setInterval(() => {
            if (existsSync(log) && readFileSync(log, "utf8").includes(`${killOn} ${child.pid}\n`)) {
              child.kill("SIGKILL");
              clearInterval(watcher);
            }
          }, 5);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (watcher) clearInterval(watcher);
      resolve({ pid: child.pid ?? -1, code, signal, stdout, stderr });
    });
  });
}

/** The names logged by process `pid`. */
function names(log: string, pid: number): string[] {
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => l.endsWith(` ${pid}`))
    .map((l) => l.split(" ")[0] as string);
}

describe("nested runs across processes (SIGKILL and resume, cancelRun)", () => {
  it("an unfinished child is resumed, not restarted: its succeeded node does not run again", async () => {
    const dir = tempDir();
    const log = join(dir, "log.txt");
    const first = await drive(dir, "crash-1", log, { HANG: "child-b" }, "child-b");
    expect(first.signal).toBe("SIGKILL");
    expect(names(log, first.pid)).toEqual(["child-a", "child-b"]);
    expect((await getRun("crash-1", { store: lowdb(dir) })).status).toBe("running");
    const childId = childRunId("crash-1", "spawn", "c");
    expect((await getRun(childId, { store: lowdb(dir) })).status).toBe("running");

    const second = await drive(dir, "crash-1", log, {});
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ outputs: { spawn: 50, after: "child said 50" } });
    expect(names(log, second.pid)).toEqual(["child-b", "spawned", "after"]);
    const child = await getRun(childId, { store: lowdb(dir) });
    expect(child).toMatchObject({ status: "succeeded", outputs: 50, parentRunId: "crash-1", starts: 2 });
    expect((await getRun("crash-1", { store: lowdb(dir) })).children?.map((c) => [c.runId, c.status])).toEqual([[childId, "succeeded"]]);
  }, 120_000);

  it("a finished child is not run again when the parent's node runs again after the crash", async () => {
    const dir = tempDir();
    const log = join(dir, "log.txt");
    // Killed after the child run succeeded and before the parent's node did: the node runs again on resume.
    const first = await drive(dir, "crash-2", log, { HANG: "spawned" }, "spawned");
    expect(first.signal).toBe("SIGKILL");
    expect(names(log, first.pid)).toEqual(["child-a", "child-b", "spawned"]);
    expect((await getRun(childRunId("crash-2", "spawn", "c"), { store: lowdb(dir) })).status).toBe("succeeded");

    const second = await drive(dir, "crash-2", log, {});
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ outputs: { spawn: 50, after: "child said 50" } });
    expect(names(log, second.pid)).toEqual(["spawned", "after"]);
    expect((await getRun(childRunId("crash-2", "spawn", "c"), { store: lowdb(dir) })).starts).toBe(1);
  }, 120_000);

  it("cancelRun from another process stops the parent and its running child; both are saved cancelled", async () => {
    const dir = tempDir();
    const log = join(dir, "log.txt");
    // Leases renewed every 300 ms: the driver sees the request within that.
    const driving = drive(dir, "cancel-tree", log, { HANG: "child-b", LEASE_TTL_MS: "900" });
    await logged(log, "child-b");
    const result = await cancelRun("cancel-tree", { store: lowdb(dir), reason: "stop the tree" });
    expect(result).toMatchObject({ runId: "cancel-tree", status: "cancelled", by: "driver" });
    const ended = await driving;
    expect(ended.code, ended.stderr).toBe(0);
    expect(JSON.parse(ended.stdout)).toEqual({ name: "RunCancelledError", code: "RUN_CANCELLED" });
    const child = await getRun(childRunId("cancel-tree", "spawn", "c"), { store: lowdb(dir) });
    expect(child.status).toBe("cancelled");
    expect(child.nodes.find((n) => n.id === "a")?.status).toBe("succeeded");
    expect((await getRun("cancel-tree", { store: lowdb(dir) })).status).toBe("cancelled");
    expect(names(log, ended.pid)).not.toContain("after");
  }, 120_000);
});
