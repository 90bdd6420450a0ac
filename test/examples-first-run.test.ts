/**
 * The examples a new user runs first, as they run them: `npm run
 * example:review` with no argument runs the whole demo (start, approve
 * from a second process, finish) and asks its reviewer once;
 * `npm run example:distributed` without a Redis says so in one line and
 * exits non-zero instead of logging connection errors forever.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "taskloom-examples-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function example(file: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(ROOT, file)],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 90_000 },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

it("examples/review.ts with no argument: starts, approves from a second process, finishes; drafts and asks once", async () => {
  const r = await example("examples/review.ts", { TASKLOOM_DIR: dir });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/saved as waiting for "review:release-note"/);
  expect(r.stdout).toMatch(/^recorded the decision for release-\d+; continuing the run$/m);
  expect(r.stdout).toMatch(/^result: published: taskloom 0\.1\.0/m);
  expect(r.stdout).toMatch(/the stored run: succeeded/);
  expect(count(r.stdout, "asking for a decision")).toBe(1);
  expect(count(r.stdout, "writing the draft")).toBe(1);
}, 120_000);

it("examples/distributed/main.ts without Redis: one line saying where Redis is not reachable and how to start it, exit 1", async () => {
  const url = "redis://127.0.0.1:1";
  const r = await example("examples/distributed/main.ts", { REDIS_URL: url });
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr.trimEnd().split("\n")).toEqual([
    expect.stringMatching(/^Redis is not reachable at redis:\/\/127\.0\.0\.1:1 \(connect ECONNREFUSED .*\): start one with "redis-server"/),
  ]);
}, 120_000);
