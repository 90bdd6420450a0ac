/**
 * A move counts only once it is saved: a stage runner in a real `node`
 * child (test/fixtures/stages-child.mjs, on the compiled package in dist/,
 * a LowdbStore, 30 tasks in batches of 10 through two agent stages) logs
 * every move it counts (`task:move`) and is SIGKILLed at one of several
 * points: while it announces a move (the process stops dead inside the
 * listener), or right after an agent answered. A second child then
 * resumes the same run id to its end. At every kill point:
 * - every move the killed runner counted was saved (it is in the store as
 *   the kill left it), so a crash repeats no counted move: no move is
 *   counted twice over the two processes;
 * - no saved move is lost: the resumed runner never asks that stage's
 *   agent again for that visit, and the move is in the final run;
 * - every task ends where its agents send it.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRun, LowdbStore } from "../src/index.js";
import { logLines, runChildScript } from "./support/child-process.js";

const CHILD = resolve(import.meta.dirname, "fixtures/stages-child.mjs");
const DIST = resolve(import.meta.dirname, "../dist/index.js");
const RUN_ID = "move-crash";
const TASK_IDS = Array.from({ length: 30 }, (_, i) => `t${i}`);
const roots: string[] = [];

beforeAll(() => {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" first (npm test does)`);
});
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** The saved moves of every task: `<task> <stage> <visit>`, with the settle order each was saved with. */
async function savedMoves(dir: string): Promise<Map<string, number | undefined>> {
  const store = new LowdbStore({ dir });
  const saved = new Map<string, number | undefined>();
  try {
    for (const id of TASK_IDS) {
      const run = await getRun(`${RUN_ID}.${id}`, { store }).catch(() => undefined);
      for (const n of run?.nodes ?? []) {
        if (n.status === "succeeded" && n.nodeId !== "$enter" && n.nodeId !== "complete") saved.set(`${id} ${n.nodeId} ${n.visit ?? 1}`, n.settleOrder);
      }
    }
  } finally {
    await store.close();
  }
  return saved;
}

/** The moves a process counted (its `task:move` log lines), as `<task> <stage> <visit>`. */
function counted(log: string, pid: number): string[] {
  return logLines(log, pid)
    .filter((l) => l.startsWith("move "))
    .map((l) => l.slice("move ".length));
}

describe("a stage runner killed while it counts a move, or right after an agent answered", () => {
  it.each([
    ["while announcing t3's first move", "move t3 pre-label 1"],
    ["while announcing t14's second move", "move t14 check 1"],
    ["while announcing t25's first move", "move t25 pre-label 1"],
    ["after t12's check agent answered", "end check t12 1"],
  ])(
    "%s: every counted move was saved, none is counted twice, none saved is lost",
    async (_what, killOn) => {
      const root = mkdtempSync(join(tmpdir(), "taskloom-stages-move-crash-"));
      roots.push(root);
      const dir = join(root, "store");
      const log = join(root, "agents.log");
      const tasks = join(root, "tasks.json");
      writeFileSync(tasks, JSON.stringify(TASK_IDS.map((id) => ({ id, data: { n: Number(id.slice(1)) } }))));
      process.env.TASKS = tasks;
      try {
        const killed = await runChildScript(CHILD, dir, RUN_ID, log, killOn);
        expect(killed.signal, `the child was meant to die; stderr: ${killed.stderr}`).toBe("SIGKILL");
        expect(logLines(log, killed.pid)).toContain(killOn);
        const atKill = await savedMoves(dir);

        // Every move the killed runner counted had been saved before it counted it.
        const countedBefore = counted(log, killed.pid);
        expect(countedBefore.length).toBeGreaterThan(0);
        for (const move of countedBefore) expect(atKill.has(move), `${move} was counted before it was saved`).toBe(true);

        const resumed = await runChildScript(CHILD, dir, RUN_ID, log);
        expect(resumed.code, resumed.stderr).toBe(0);
        const report = JSON.parse(resumed.stdout.trim()) as { completed: number; waiting: number; failed: number; moves: Record<string, number> };
        const toReview = TASK_IDS.filter((id) => Number(id.slice(1)) % 3 === 0);
        expect(report).toMatchObject({ completed: 30 - toReview.length, waiting: toReview.length, failed: 0 });

        // No move is counted twice over the two processes; the resumed runner counts only the moves it made.
        const countedAfter = counted(log, resumed.pid);
        const all = [...countedBefore, ...countedAfter];
        expect(new Set(all).size, "a move was counted twice").toBe(all.length);
        for (const move of countedAfter) expect(atKill.has(move), `${move} was saved before the kill and counted again`).toBe(false);
        const byStage: Record<string, number> = {};
        for (const move of countedAfter) byStage[move.split(" ")[1] as string] = (byStage[move.split(" ")[1] as string] ?? 0) + 1;
        expect(report.moves).toEqual(byStage);

        // No saved move is lost: its agent is not asked again, and the final run holds it as saved.
        const asked = logLines(log, resumed.pid)
          .filter((l) => l.startsWith("start "))
          .map((l) => l.split(" "))
          .map(([, stage, task, visit]) => `${task} ${stage} ${visit}`);
        const atEnd = await savedMoves(dir);
        for (const [move, order] of atKill) {
          expect(asked, `the agent of ${move} ran again after its move was saved`).not.toContain(move);
          expect(atEnd.get(move), move).toBe(order);
        }
        // Every task made its two moves, each saved once.
        for (const id of TASK_IDS) for (const stage of ["pre-label", "check"]) expect(atEnd.has(`${id} ${stage} 1`), `${id} ${stage}`).toBe(true);
      } finally {
        delete process.env.TASKS;
      }
    },
    60_000,
  );
});
