/**
 * Crash tests: a real `node` child runs a graph on a LowdbStore and logs
 * every node body's side effects; the parent SIGKILLs it when a chosen
 * line appears in the log (while a node runs, right after one finished,
 * during a retry backoff), reads what the store saved, resumes in a new
 * child, and checks:
 * - the outputs equal those of an uninterrupted run;
 * - no node whose result was saved before the kill ran again;
 * - every node succeeded.
 * The children run the compiled package (`dist/`, built by `npm test`).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logLines, runChildScript, type ChildResult } from "./support/child-process.js";
import { getRun, LowdbStore } from "../src/index.js";

const CHILD = resolve(import.meta.dirname, "fixtures/crash-child.mjs");
const NODES = ["seed", "w1", "w2", "w3", "w4", "w5", "w6", "sum", "flaky", "c1", "c2", "c3"];
const root = mkdtempSync(join(tmpdir(), "taskloom-crash-"));

/** Runs the crash child; when `killOn` is given, SIGKILLs it as soon as that line appears in the log. */
function runChild(dir: string, runId: string, log: string, killOn?: string): Promise<ChildResult> {
  return runChildScript(CHILD, dir, runId, log, killOn);
}

let baseline: unknown;

beforeAll(async () => {
  const dir = join(root, "baseline");
  const result = await runChild(dir, "baseline", join(root, "baseline.log"));
  expect(result.code, result.stderr).toBe(0);
  baseline = superjson.parse(result.stdout.trim());
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

const killPoints = [...NODES.flatMap((id) => [`start ${id}`, `end ${id}`]), "fail flaky"];

describe("resume after SIGKILL", () => {
  it("has at least 20 kill points", () => {
    expect(killPoints.length).toBeGreaterThanOrEqual(20);
  });

  it.concurrent.each(killPoints)("killed at '%s': resumes, never re-runs a saved node, outputs equal", async (point) => {
    const slug = point.replace(/\s+/g, "-");
    const dir = join(root, slug);
    const log = join(root, `${slug}.log`);
    const runId = `crash-${slug}`;

    const first = await runChild(dir, runId, log, point);
    expect(first.signal, `the child was meant to die at "${point}"; stderr: ${first.stderr}`).toBe("SIGKILL");

    const store = new LowdbStore({ dir });
    const saved = await getRun(runId, { store });
    await store.close();
    const savedDone = saved.nodes.filter((n) => n.status === "succeeded").map((n) => n.id);

    const second = await runChild(dir, runId, log);
    expect(second.code, second.stderr).toBe(0);
    expect(superjson.parse(second.stdout.trim())).toEqual(baseline);

    const rerun = logLines(log, second.pid)
      .filter((l) => l.startsWith("start "))
      .map((l) => l.split(" ")[1]);
    for (const id of savedDone) expect(rerun, `node "${id}" was saved before the kill but ran again`).not.toContain(id);

    // Every node ran to completion in one process or the other.
    const ended = new Set([...logLines(log, first.pid), ...logLines(log, second.pid)].filter((l) => l.startsWith("end ")).map((l) => l.split(" ")[1]));
    for (const id of NODES) expect(ended, `node "${id}" never finished`).toContain(id);

    const store2 = new LowdbStore({ dir });
    const final = await getRun(runId, { store: store2 });
    await store2.close();
    expect(final.status).toBe("succeeded");
    expect(final.starts).toBe(2);
    expect(final.nodes.every((n) => n.status === "succeeded")).toBe(true);
  });
});

describe("two processes racing to resume one run", () => {
  it("exactly one drives it; the other gets RunLockedError", async () => {
    const dir = join(root, "race");
    const log = join(root, "race.log");
    const first = await runChild(dir, "race", log, "end sum");
    expect(first.signal).toBe("SIGKILL");
    const [a, b] = await Promise.all([runChild(dir, "race", log), runChild(dir, "race", log)]);
    const codes = [a.code, b.code].sort();
    // One drives the run to the end; the other either finds it locked, or
    // (if it started after the first finished) finds it succeeded and returns the stored outputs.
    expect(codes[0]).toBe(0);
    expect([0, 3]).toContain(codes[1]);
    const drivers = [a, b].filter((r) => logLines(log, r.pid).some((l) => l.startsWith("start ")));
    expect(drivers.length).toBe(1);
    if (codes[1] === 3) expect([a, b].find((r) => r.code === 3)?.stderr).toMatch(/RunLockedError: run "race" is held by pid \d+/);
  });
});

describe("run ids from the outside", () => {
  it("a run id cannot name a path outside the store", async () => {
    const dir = join(root, "ids");
    writeFileSync(join(root, "outside.txt"), "x");
    for (const bad of ["../outside.txt", "/etc/passwd", "..", "a/b"]) {
      const r = await runChild(dir, bad, join(root, "ids.log"));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/InvalidRunIdError/);
    }
    expect(readFileSync(join(root, "outside.txt"), "utf8")).toBe("x");
  });
});
