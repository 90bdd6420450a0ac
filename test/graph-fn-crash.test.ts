/**
 * graphFn crash tests: a real `node` child runs a graphFn on a LowdbStore
 * and logs every step body's side effects; the parent SIGKILLs it when a
 * chosen line appears in the log (while a step runs, right after one
 * ended, during a retry backoff), reads what the store saved, resumes in a
 * new child, and checks:
 * - the outputs equal those of an uninterrupted run;
 * - no step whose result was saved before the kill ran again (the resumed
 *   body replays it from the journal);
 * - every step ran to its end in one process or the other, and the stored
 *   steps are in call order.
 * The children run the compiled package (`dist/`): run `npm run build` first.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loggedIds, runChildScript, type ChildResult } from "./support/child-process.js";
import { getRun, LowdbStore } from "../src/index.js";
import { nodeRecords } from "../src/state/node-table.js";

const CHILD = resolve(import.meta.dirname, "fixtures/graphfn-child.mjs");
/** The steps, in the order the function asks for them. */
const STEPS = ["seed", "p1", "p2", "p3", "sum", "flaky", "c1", "c2"];
/** The steps awaited together (Promise.all). */
const PARALLEL = ["p1", "p2", "p3"];
const root = mkdtempSync(join(tmpdir(), "taskloom-graphfn-crash-"));

/** Runs the crash child; when `killOn` is given, SIGKILLs it as soon as that line appears in the log. */
function runChild(dir: string, runId: string, log: string, killOn?: string): Promise<ChildResult> {
  return runChildScript(CHILD, dir, runId, log, killOn);
}

/** The step ids of the log lines of `pid` that begin with `kind`. */
const stepsLogged = (log: string, pid: number, kind: "start" | "end"): string[] => loggedIds(log, pid, kind);

let baseline: unknown;

beforeAll(async () => {
  const log = join(root, "baseline.log");
  const result = await runChild(join(root, "baseline"), "baseline", log);
  expect(result.code, result.stderr).toBe(0);
  baseline = superjson.parse(result.stdout.trim());
  // Each step ran exactly once in an uninterrupted run (flaky twice: its retry).
  expect(stepsLogged(log, result.pid, "end").sort()).toEqual([...STEPS].sort());
  expect(stepsLogged(log, result.pid, "start").filter((s) => s === "flaky")).toHaveLength(2);
}, 30_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** While a step runs, right after it ended, and during flaky's 200 ms retry backoff. */
const killPoints = [...STEPS.flatMap((id) => [`start ${id}`, `end ${id}`]), "fail flaky"];

describe("graphFn resume after SIGKILL", () => {
  it("has a baseline with the expected outputs, and at least 8 kill points", () => {
    expect(baseline).toEqual({
      total: 2 * (7 * 6 + 1) + 1,
      parts: [7, 14, 21],
      seededAt: new Date(Date.UTC(2026, 10, 23)),
      steps: new Set(STEPS),
    });
    expect(killPoints.length).toBeGreaterThanOrEqual(8);
  });

  it.concurrent.each(killPoints)("killed at '%s': replays saved steps without running them, outputs equal", async (point) => {
    const slug = point.replace(/\s+/g, "-");
    const dir = join(root, slug);
    const log = join(root, `${slug}.log`);
    const runId = `graphfn-${slug}`;

    const first = await runChild(dir, runId, log, point);
    expect(first.signal, `the child was meant to die at "${point}"; stderr: ${first.stderr}`).toBe("SIGKILL");

    const store = new LowdbStore({ dir });
    const saved = await getRun(runId, { store });
    const stored = await store.load(runId);
    await store.close();
    expect(saved.status).toBe("running");
    const savedDone = saved.nodes.filter((n) => n.status === "succeeded").map((n) => n.id);
    // The journal holds the steps asked for so far, in call order: what replay checks against.
    const journaled = stored ? [...nodeRecords(stored.state.nodes)].map((n) => n.id) : [];
    expect(journaled).toEqual(STEPS.slice(0, journaled.length));
    // The step named by the kill point had started, so every step the body awaited before asking for it was saved.
    const id = point.split(" ")[1] as string;
    const awaitedBefore = PARALLEL.includes(id) ? ["seed"] : STEPS.slice(0, STEPS.indexOf(id));
    for (const done of awaitedBefore) expect(savedDone, `step "${done}" ended before "${id}" started`).toContain(done);

    const second = await runChild(dir, runId, log);
    expect(second.code, second.stderr).toBe(0);
    expect(superjson.parse(second.stdout.trim())).toEqual(baseline);

    const rerun = stepsLogged(log, second.pid, "start");
    for (const id of savedDone) expect(rerun, `step "${id}" was saved before the kill but ran again`).not.toContain(id);
    // Everything not saved ran in the second process.
    for (const id of STEPS.filter((s) => !savedDone.includes(s))) expect(rerun, `step "${id}" was not saved and must run again`).toContain(id);

    // Every step ran to its end in one process or the other.
    const ended = new Set([...stepsLogged(log, first.pid, "end"), ...stepsLogged(log, second.pid, "end")]);
    for (const id of STEPS) expect(ended, `step "${id}" never finished`).toContain(id);

    const store2 = new LowdbStore({ dir });
    const final = await getRun(runId, { store: store2 });
    await store2.close();
    expect(final.status).toBe("succeeded");
    expect(final.starts).toBe(2);
    expect(final.nodes.map((n) => n.id).sort()).toEqual([...STEPS].sort());
    expect(final.nodes.every((n) => n.status === "succeeded")).toBe(true);
    expect(final.outputs).toEqual(baseline);
  });
});
