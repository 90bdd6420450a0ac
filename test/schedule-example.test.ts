/**
 * The schedule example as a smoke test: `examples/schedule.ts --once`
 * schedules its graph, fires it, receives the signed callback at its own
 * webhook receiver, and exits by itself.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "taskloom-schedule-example-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("examples/schedule.ts --once: one run, one verified callback, then exit 0", async () => {
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(ROOT, "examples/schedule.ts"), "--once"],
      { cwd: ROOT, env: { ...process.env, TASKLOOM_DIR: dir }, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout).toMatch(/^scheduled sch-[0-9a-f]{12}: every minute/m);
  expect(result.stdout).toMatch(/^receiver: sch-[0-9a-f]{12}-\d{8}T\d{6}(\.\d{3})?Z succeeded in \d+ms \{ headlines: 3, words: 18, longest: 7/m);
  expect(result.stdout).not.toContain("bad signature");
  expect(result.stdout).toMatch(/^stopped; last result: \S+ succeeded$/m);
});
