/**
 * Waits across processes: real `node` children (test/fixtures/review-child.mjs,
 * running the compiled package in dist/, which `npm test` builds first) run a
 * graph that waits on two reviews in parallel branches, exit while waiting,
 * and are resumed after other children resolve the waits one by one. The
 * children log every node body's start and end and every `ctx.step`
 * execution with their pid, which proves that nothing ran twice: the
 * journaled steps before the waits ran once in all, and no node that
 * succeeded in one process started again in a later one.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRun, listRuns, LowdbStore } from "../src/index.js";

const CHILD = resolve(import.meta.dirname, "fixtures/review-child.mjs");
const DIST = resolve(import.meta.dirname, "../dist/index.js");
const root = mkdtempSync(join(tmpdir(), "taskloom-waits-process-"));
const dir = join(root, "store");
const LOG = join(root, "side-effects.log");
const RUN_ID = "review-42";

interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly pid: number;
}

/** Runs the child to its natural end; SIGKILLs it only if it hangs (a leaked timer or handle), which fails the test. */
function child(...args: string[]): Promise<ChildResult> {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(process.execPath, [CHILD, ...args], {
      env: { ...process.env, TASKLOOM_DIR: dir, RUN_ID, LOG },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const guard = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      clearTimeout(guard);
      resolvePromise({ code, signal, stdout, stderr, pid: proc.pid ?? -1 });
    });
  });
}

/** The log lines of one process, without the pid. */
function linesOf(pid: number): string[] {
  if (!existsSync(LOG)) return [];
  return readFileSync(LOG, "utf8")
    .split("\n")
    .filter((l) => l.endsWith(` ${pid}`))
    .map((l) => l.slice(0, -` ${pid}`.length));
}

function allLines(): string[] {
  return existsSync(LOG) ? readFileSync(LOG, "utf8").split("\n").filter(Boolean) : [];
}

beforeAll(() => {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" first (npm test does)`);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("a run waiting on two reviews across five processes", () => {
  it("exits while waiting, takes each review in a later process, and never runs anything twice", async () => {
    // Process 1: runs until both reviewers wait; exits 2 listing both keys.
    const p1 = await child("run");
    expect(p1.signal, `process 1 hung; stderr: ${p1.stderr}`).toBeNull();
    expect(p1.code, p1.stderr).toBe(2);
    expect(JSON.parse(p1.stdout)).toEqual(["review:legal", "review:tech"]);
    expect(linesOf(p1.pid).sort()).toEqual(["start draft", "end draft", "start legal", "step notify-legal", "start tech", "step notify-tech"].sort());

    const waiting = await getRun(RUN_ID, { store: new LowdbStore({ dir }) });
    expect(waiting.status).toBe("waiting");
    expect(waiting.waits.map((w) => [w.key, w.nodeId]).sort()).toEqual([
      ["review:legal", "legal"],
      ["review:tech", "tech"],
    ]);
    for (const w of waiting.waits) expect(w.deadline).toBe(w.since + 24 * 3_600_000);
    expect((await listRuns({ status: "waiting", store: new LowdbStore({ dir }) })).map((r) => r.runId)).toEqual([RUN_ID]);
    // No lease: lease.json is given back in place (kept, marked released), so it reads as none.
    expect(await new LowdbStore({ dir }).readLease(RUN_ID)).toBeUndefined();

    // Process 2: resolves the legal review while no process drives the run.
    const p2 = await child("resolve", "review:legal", JSON.stringify({ approved: true, by: "ann" }));
    expect(p2.code, p2.stderr).toBe(0);
    expect(linesOf(p2.pid)).toEqual([]);

    // Process 3: resumes; legal takes its review and succeeds; tech waits again without notifying again.
    const p3 = await child("run");
    expect(p3.signal, `process 3 hung; stderr: ${p3.stderr}`).toBeNull();
    expect(p3.code, p3.stderr).toBe(2);
    expect(JSON.parse(p3.stdout)).toEqual(["review:tech"]);
    expect(linesOf(p3.pid).sort()).toEqual(["start legal", "end legal", "start tech"].sort());

    const half = await getRun(RUN_ID, { store: new LowdbStore({ dir }) });
    expect(half.status).toBe("waiting");
    expect(half.waits.map((w) => w.key)).toEqual(["review:tech"]);
    expect(half.waits[0]?.since).toBe(waiting.waits.find((w) => w.key === "review:tech")?.since);
    expect(half.nodes.find((n) => n.id === "legal")).toMatchObject({
      status: "succeeded",
      output: { ticket: "LEGAL-19", approved: true, by: "ann" },
    });

    // The legal review was taken: resolving it again is refused; an unknown key too. Neither writes.
    const again = await child("resolve", "review:legal", JSON.stringify({ approved: false, by: "eve" }));
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/^WaitAlreadyResolvedError WAIT_ALREADY_RESOLVED:/);
    const unknown = await child("resolve", "review:ops", JSON.stringify({ approved: true, by: "ops" }));
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/^WaitNotFoundError WAIT_NOT_FOUND:.*"review:tech"/);

    // Process 4: resolves the tech review.
    const p4 = await child("resolve", "review:tech", JSON.stringify({ approved: false, by: "bob", note: "needs benchmarks" }));
    expect(p4.code, p4.stderr).toBe(0);

    // Process 5: resumes and finishes with both reviews combined.
    const p5 = await child("run");
    expect(p5.signal, `process 5 hung; stderr: ${p5.stderr}`).toBeNull();
    expect(p5.code, p5.stderr).toBe(0);
    expect(JSON.parse(p5.stdout)).toEqual({
      doc: "draft of contract-9",
      legal: { ticket: "LEGAL-19", approved: true, by: "ann" },
      tech: { ticket: "TECH-19", approved: false, by: "bob", note: "needs benchmarks" },
      approved: false,
    });
    expect(linesOf(p5.pid).sort()).toEqual(["start tech", "end tech", "start publish", "end publish"].sort());

    // Nothing ran twice: each journaled step once in all; each node ended once; no node that
    // succeeded in an earlier process started in a later one.
    const lines = allLines().map((l) => l.replace(/ \d+$/, ""));
    const count = (line: string): number => lines.filter((l) => l === line).length;
    expect(count("step notify-legal")).toBe(1);
    expect(count("step notify-tech")).toBe(1);
    for (const node of ["draft", "legal", "tech", "publish"]) expect(count(`end ${node}`), node).toBe(1);
    const runs = [p1, p3, p5];
    runs.forEach((earlier, i) => {
      const ended = linesOf(earlier.pid)
        .filter((l) => l.startsWith("end "))
        .map((l) => l.slice(4));
      for (const later of runs.slice(i + 1)) {
        const started = linesOf(later.pid)
          .filter((l) => l.startsWith("start "))
          .map((l) => l.slice(6));
        for (const node of ended) expect(started, `"${node}" succeeded in pid ${earlier.pid} but started again in pid ${later.pid}`).not.toContain(node);
      }
    });

    const final = await getRun(RUN_ID, { store: new LowdbStore({ dir }) });
    expect(final.status).toBe("succeeded");
    expect(final.starts).toBe(3);
    expect(final.waits).toEqual([]);
    expect(final.nodes.every((n) => n.status === "succeeded")).toBe(true);
    expect(await listRuns({ status: "waiting", store: new LowdbStore({ dir }) })).toEqual([]);
  });
});
