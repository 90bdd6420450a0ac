/**
 * The built package is a bundle (scripts/build.mjs): esbuild puts the code
 * of several source modules in one file, and a module the entries share in
 * one chunk. These tests run the built `dist/` (`npm run build` first) in
 * child processes and check what bundling could break: one copy of each
 * class across `taskloom`, `taskloom/bullmq` and the adapter's own file,
 * the classes' names, and the code that tells taskloom's own stack frames
 * from the user's (a stored error's stack, a ManualClock timer's setter).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const DIST = join(ROOT, "dist", "index.js");
const FIXTURES = join(ROOT, "test", "fixtures");

function child(file: string, args: string[] = []): Promise<unknown> {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" first (npm test does)`);
  return new Promise((done, fail) => {
    execFile(process.execPath, [join(FIXTURES, file), ...args], { cwd: ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`${file} failed: ${stderr}`));
      else done(JSON.parse(stdout));
    });
  });
}

describe("the built entries", () => {
  it("share one copy of each class: taskloom/bullmq's errors are taskloom's", async () => {
    const r = (await child("dist-entries-child.mjs")) as Record<string, unknown>;
    expect(r.shared).toEqual(["BullmqMissingError", "ExecutorClosedError", "WorkerGraphMissingError", "WorkerJobFailedError", "WorkerJobLeftError"]);
    expect(r.sameInBoth).toEqual(r.shared);
    expect(r.jobFailedIsTaskloomError).toBe(true);
    // dist/adapters/bullmq/index.js, which the benches and fixtures import, is the entry's adapter, not a copy.
    expect(r.sameAsAdapter).toEqual(r.adapterKeys);
  });

  it("keep each class's name (as util.inspect and error names show it)", async () => {
    const { classNames } = (await child("dist-entries-child.mjs")) as { classNames: Record<string, string> };
    // Two deprecated aliases name the class they alias.
    const aliases: Record<string, string> = { GraphHasPendingWaitsError: "GraphHasPendingWaits", LoopLimitExceededError: "LoopLimitExceeded" };
    expect(Object.keys(classNames)).toContain("ManualClock");
    for (const [name, actual] of Object.entries(classNames)) expect(actual, name).toBe(aliases[name] ?? name);
  });
});

describe("taskloom's own stack frames, from dist/", () => {
  const dir = mkdtempSync(join(tmpdir(), "taskloom-dist-frames-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a failed node's stored stack keeps the user's frames and none of taskloom's; a ManualClock names who set a timer", async () => {
    const r = (await child("dist-frames-child.mjs", [join(dir, "store")])) as { stored: string; direct: string; backoff: string };
    expect(r.stored.split("\n")[0]).toBe("Error: boom");
    // Both of the user's frames: the function that threw and the node body that called it (not only a first frame kept
    // because every frame looked like taskloom's).
    const userFrames = r.stored.split("\n").filter((l) => l.includes("dist-frames-child.mjs"));
    expect(userFrames).toHaveLength(2);
    expect(userFrames[0]).toMatch(/^ {4}at userBody \(.*:\d+:\d+\)$/);
    expect(r.stored).not.toContain(`${ROOT}/dist/`);
    expect(r.stored).not.toContain("node:internal/");
    expect(r.direct).toMatch(/^at .*dist-frames-child\.mjs:\d+:\d+\)?$/);
    // The engine sets the retry backoff's timer without a label: the frame that called sleep names it.
    expect(r.backoff).toMatch(/^at \S+ \(.*\/dist\/.*\.js:\d+:\d+\)$/);
    expect(r.backoff).not.toMatch(/^at (sleep|ManualClock|_ManualClock)\b/);
  });
});
