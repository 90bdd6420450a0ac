/**
 * Whether a lease holder is alive: a killed process that its parent has
 * not reaped yet (a zombie) must count as dead, so a crashed run can be
 * resumed at once.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { processAlive } from "../src/persistence/lease-rules.js";

describe("processAlive", () => {
  it("is true for this process and false for a pid that does not exist", () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(2 ** 22 + 12345)).toBe(false);
  });

  it.skipIf(!existsSync("/proc/self/stat"))("is false for a killed child that is not reaped yet (a zombie)", async () => {
    // `sh` starts a sleeper, kills it, and keeps running without waiting for it, so it stays a zombie.
    const sh = spawn("sh", ["-c", "sleep 30 & echo $!; kill -9 $!; sleep 5"], { stdio: ["ignore", "pipe", "ignore"] });
    const pid = await new Promise<number>((resolve) => sh.stdout.once("data", (d: Buffer) => resolve(Number(String(d).trim()))));
    for (let i = 0; i < 200; i++) {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z") break;
      await new Promise<void>((r) => setImmediate(r));
    }
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
