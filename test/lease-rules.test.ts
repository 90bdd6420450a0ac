/**
 * Whether a lease holder is alive: a killed process that its parent has
 * not reaped yet (a zombie) must count as dead, so a crashed run can be
 * resumed at once.
 */
import { spawn } from "node:child_process";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { processAlive } from "../src/persistence/lease-rules.js";
import { until } from "./support/async.js";

describe("processAlive", () => {
  it("is true for this process and false for a pid that does not exist", () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(2 ** 22 + 12345)).toBe(false);
  });

  const hasPython = spawnSync("python3", ["-c", "pass"]).status === 0;
  it.skipIf(!existsSync("/proc/self/stat") || !hasPython)("is false for a killed child that is not reaped yet (a zombie)", async () => {
    // python3 forks a sleeper, kills it and never waits for it (no SIGCHLD handler), so it stays a zombie.
    const script = "import os, time\np = os.fork()\nif p == 0:\n    time.sleep(30)\n    os._exit(0)\nprint(p, flush=True)\nos.kill(p, 9)\ntime.sleep(10)\n";
    const sh = spawn("python3", ["-c", script], { stdio: ["ignore", "pipe", "ignore"] });
    const pid = await new Promise<number>((resolve) => sh.stdout.once("data", (d: Buffer) => resolve(Number(String(d).trim()))));
    await until(() => {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
    }, "the killed child to become a zombie");
    let probeSaysAlive = true;
    try {
      process.kill(pid, 0);
    } catch {
      probeSaysAlive = false;
    }
    expect(probeSaysAlive).toBe(true); // the signal probe alone is fooled by a zombie
    expect(processAlive(pid)).toBe(false);
    sh.kill("SIGKILL");
  });
});
