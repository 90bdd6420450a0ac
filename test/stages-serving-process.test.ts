/**
 * One worker per stage, as real processes: two `node` children
 * (test/fixtures/stages-serving-child.mjs, on the compiled package) share
 * a LowdbStore folder; one serves the `model` stage, the other the `rules`
 * stage, over 200 tasks. The rules worker is SIGKILLed right after one of
 * its agents answered (before that answer is saved) and restarted. Then:
 * every task completed, each moved exactly once per stage (one succeeded
 * activation per stage in its stored run), no agent call of a task and
 * stage ran in two processes at once, an agent ran again only for a task
 * whose answer the killed worker had not saved, and each worker's report
 * says what it did.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { getRun } from "../src/index.js";
import { runChildScript, type ChildResult } from "./support/child-process.js";
import { tempStores } from "./support/temp-stores.js";

const CHILD = resolve(import.meta.dirname, "fixtures/stages-serving-child.mjs");
const DIST = resolve(import.meta.dirname, "../dist/index.js");
const N = 200;
const RUN_ID = "two-workers";
const { tempDir, lowdb } = tempStores("taskloom-stages-serving-");

interface Did {
  readonly processed: number;
  readonly moves: Record<string, number>;
  readonly completed: number;
}

function worker(dir: string, log: string, serves: string, killOn?: string): Promise<ChildResult> {
  process.env.SERVES = serves;
  process.env.N = String(N);
  try {
    return runChildScript(CHILD, dir, RUN_ID, log, killOn);
  } finally {
    delete process.env.SERVES;
    delete process.env.N;
  }
}

function did(child: ChildResult): Did {
  expect(child.code, `stderr: ${child.stderr}`).toBe(0);
  return JSON.parse(child.stdout.trim().split("\n").at(-1) as string) as Did;
}

describe("one worker per stage, in two processes on one LowdbStore folder", () => {
  it("moves each of 200 tasks once per stage, though the rules worker is SIGKILLed and restarted part way", { timeout: 240_000 }, async () => {
    if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" first (npm test does)`);
    const dir = tempDir();
    const log = join(dir, "agents.log");
    const model = worker(dir, log, "model");
    const killed = await worker(dir, log, "rules", "end rules t60");
    expect(killed.signal, `the rules worker was meant to die; stderr: ${killed.stderr}`).toBe("SIGKILL");
    // What the killed worker had saved: the tasks whose move out of rules was saved.
    const savedAtKill = new Set<string>();
    const atKill = lowdb(dir);
    for (let i = 0; i < N; i++) {
      const run = await getRun(`${RUN_ID}.t${i}`, { store: atKill }).catch(() => undefined);
      if (run?.nodes.some((node) => node.nodeId === "rules" && node.status === "succeeded")) savedAtKill.add(`t${i}`);
    }
    const rules = await worker(dir, log, "rules");
    const modelDid = did(await model);
    const rulesDid = did(rules);

    // Every task completed, with exactly one succeeded activation per stage: each move was saved once.
    const store = lowdb(dir);
    for (let i = 0; i < N; i++) {
      const run = await getRun(`${RUN_ID}.t${i}`, { store });
      expect(run.status, `t${i}`).toBe("succeeded");
      const moved = run.nodes.filter((node) => node.status === "succeeded").map((node) => `${node.nodeId}#${node.visit ?? 1}`);
      expect(moved.sort(), `t${i}`).toEqual(["$enter#1", "complete#1", "model#1", "rules#1"]);
      expect(run.outputs).toMatchObject({ stageId: "complete", data: { n: i, label: `L${i}` } });
    }

    // The agents' log: no call of a task and stage overlapped another; a second call only after the kill.
    const lines = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    const open = new Map<string, string>();
    const calls = new Map<string, string[]>();
    for (const [what, stage, task, pid] of lines as [string, string, string, string][]) {
      const key = `${stage} ${task}`;
      if (what === "start") {
        // A call open in the killed worker died with it (the restart began after the kill).
        if (open.get(key) === String(killed.pid)) open.delete(key);
        expect(open.has(key), `${key} started while running in ${open.get(key)}`).toBe(false);
        open.set(key, pid);
        calls.set(key, [...(calls.get(key) ?? []), pid]);
      } else if (open.get(key) === pid) open.delete(key);
    }
    for (let i = 0; i < N; i++) {
      expect(calls.get(`model t${i}`), `model t${i}`).toEqual([String((await model).pid)]);
      const ruleCalls = calls.get(`rules t${i}`) ?? [];
      // A task whose move the killed worker saved is never asked again; others at most once more, by the restarted one.
      if (savedAtKill.has(`t${i}`)) expect(ruleCalls, `rules t${i}`).toEqual([String(killed.pid)]);
      else if (ruleCalls.length > 1) expect(ruleCalls, `rules t${i}`).toEqual([String(killed.pid), String(rules.pid)]);
      else expect(ruleCalls, `rules t${i}`).toHaveLength(1);
    }
    expect(calls.get("rules t60")).toEqual([String(killed.pid), String(rules.pid)]);
    expect(savedAtKill.size).toBeGreaterThan(0);
    expect(savedAtKill.size).toBeLessThan(N);

    // Each report says what that worker did: the model worker moved every task out of model; the restarted
    // rules worker moved the rest out of rules, after what the killed one had saved.
    expect(modelDid).toMatchObject({ completed: N, processed: N, moves: { model: N } });
    expect(modelDid.moves.rules).toBeUndefined();
    expect(rulesDid).toMatchObject({ completed: N, moves: { rules: N - savedAtKill.size } });
    expect(rulesDid.moves.model).toBeUndefined();
  });
});
