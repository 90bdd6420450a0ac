/**
 * The stage runner across processes, on a LowdbStore: a real `node` child
 * (test/fixtures/stages-child.mjs, on the compiled package in dist/) runs
 * 30 tasks in batches of 10 through two agent stages and is SIGKILLed in
 * the middle of the second batch; this process then resumes the same run
 * id with the same agents and checks, from the agents' log, that no agent
 * ran again for a stage whose move had been saved, and that every task
 * ended where it should. Then people act from other child processes
 * (allowed and refused actions) and the next sweep here moves the tasks.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRun, JsonFileTaskSource, loadWorkflow, LowdbStore, StageRunner, type AgentFunction } from "../src/index.js";
import { logLines, runChildScript, type ChildResult } from "./support/child-process.js";

const CHILD = resolve(import.meta.dirname, "fixtures/stages-child.mjs");
const WORKFLOW = resolve(import.meta.dirname, "fixtures/stages-workflow.json");
const DIST = resolve(import.meta.dirname, "../dist/index.js");
const root = mkdtempSync(join(tmpdir(), "taskloom-stages-process-"));
const dir = join(root, "store");
const LOG = join(root, "agents.log");
const TASKS = join(root, "tasks.json");
const RUN_ID = "crash-lab";
const TASK_IDS = Array.from({ length: 30 }, (_, i) => `t${i}`);

beforeAll(() => {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" first (npm test does)`);
  writeFileSync(TASKS, JSON.stringify(TASK_IDS.map((id) => ({ id, data: { n: Number(id.slice(1)) } }))));
  process.env.TASKS = TASKS;
});
afterAll(() => {
  delete process.env.TASKS;
  rmSync(root, { recursive: true, force: true });
});

/** Runs `runner.act` in a child process, to its natural end. */
function act(...args: string[]): Promise<ChildResult> {
  return runChildScript(CHILD, dir, RUN_ID, LOG, undefined, ["act", ...args]);
}

/** The same agents as the child's, logging with this process's pid. */
function agent(stage: string, answer: (id: string) => ReturnType<AgentFunction>): AgentFunction {
  return async (task, { visit }) => {
    const line = (what: string): void => writeFileSync(LOG, `${what} ${stage} ${task.id} ${visit} ${process.pid}\n`, { flag: "a" });
    line("start");
    await sleep(1);
    const result = answer(task.id);
    line("end");
    return result;
  };
}

async function resumeHere(): Promise<StageRunner> {
  const store = new LowdbStore({ dir });
  const runner = new StageRunner(await loadWorkflow(WORKFLOW), { store, backoff: { initialMs: 1, jitter: false } });
  runner.stage(
    "pre-label",
    agent("pre-label", (id) => ({ pathway: "check", label: `L-${id}` })),
  );
  runner.stage(
    "check",
    agent("check", (id) => (Number(id.slice(1)) % 3 === 0 ? "review" : "done")),
  );
  return runner;
}

describe("a stage runner killed mid-batch", () => {
  it("resumes by run id without running any agent again after its move was saved; people act from other processes", async () => {
    const first = await runChildScript(CHILD, dir, RUN_ID, LOG, "end check t17 1");
    expect(first.signal, `the child was meant to die; stderr: ${first.stderr}`).toBe("SIGKILL");

    // What was saved at the kill: per task, the stage visits that had succeeded (their moves).
    const saved = new Map<string, Set<string>>();
    const store = new LowdbStore({ dir });
    for (const id of TASK_IDS) {
      const run = await getRun(`${RUN_ID}.${id}`, { store }).catch(() => undefined);
      saved.set(id, new Set(run?.nodes.filter((n) => n.status === "succeeded" && n.nodeId !== "$enter").map((n) => `${n.nodeId} ${n.visit ?? 1}`) ?? []));
    }
    await store.close();
    // The first batch was done and written to the tasks file; the third never started; the second was cut.
    for (const id of TASK_IDS.slice(0, 10)) expect([...(saved.get(id) ?? [])], id).toEqual(expect.arrayContaining(["pre-label 1", "check 1"]));
    for (const id of TASK_IDS.slice(20)) expect(saved.get(id), id).toEqual(new Set());
    const tasksFile = JSON.parse(readFileSync(TASKS, "utf8")) as { id: string; stageId?: string }[];
    expect(tasksFile.slice(0, 10).every((t) => t.stageId !== undefined)).toBe(true);
    expect(tasksFile.slice(10).every((t) => t.stageId === undefined)).toBe(true);
    expect(logLines(LOG, first.pid)).toContain("end check t17 1");
    // t17's pre-label move was saved; its check had ended (the kill line) but its move was not saved yet.
    expect(saved.get("t17")).toEqual(new Set(["pre-label 1"]));

    // Resume here, in this process, with the same workflow and agents.
    const runner = await resumeHere();
    const report = await runner.runAsync({ tasks: new JsonFileTaskSource(TASKS), runId: RUN_ID, batchSize: 10, maxConcurrency: 4 });
    const rerun = logLines(LOG, process.pid)
      .filter((l) => l.startsWith("start "))
      .map((l) => l.split(" "))
      .map(([, stage, task, visit]) => ({ stage, task, visit }));
    for (const { stage, task, visit } of rerun) {
      expect(saved.get(task as string)?.has(`${stage} ${visit}`), `the ${stage} agent of ${task} ran again after its move was saved`).toBe(false);
    }
    expect(rerun).toContainEqual({ stage: "check", task: "t17", visit: "1" });
    // Every agent ran to its end for every task, in one process or the other.
    const ended = new Set([...logLines(LOG, first.pid), ...logLines(LOG, process.pid)].filter((l) => l.startsWith("end ")).map((l) => l.slice(4)));
    for (const id of TASK_IDS) for (const stage of ["pre-label", "check"]) expect(ended, `${stage} ${id}`).toContain(`${stage} ${id} 1`);

    const toReview = TASK_IDS.filter((id) => Number(id.slice(1)) % 3 === 0);
    expect(report.failed).toEqual([]);
    expect(report.waiting).toBe(toReview.length);
    expect(report.completed).toBe(30 - toReview.length);
    for (const t of report.tasks) {
      expect(t, t.taskId).toMatchObject(
        toReview.includes(t.taskId) ? { stageId: "review", state: "waiting", status: "NEW" } : { stageId: "complete", state: "completed" },
      );
      expect(t.data).toEqual({ n: Number(t.taskId.slice(1)), label: `L-${t.taskId}` });
    }

    // The tasks file caught up, also for tasks whose batch was never written before the kill.
    const file = JSON.parse(readFileSync(TASKS, "utf8")) as { id: string; stageId?: string; status?: string }[];
    for (const t of report.tasks)
      expect(
        file.find((f) => f.id === t.taskId),
        t.taskId,
      ).toMatchObject({ stageId: t.stageId, status: t.status });

    // People act from other processes on the same store.
    const approve = await act("t3", "approve", "ann");
    expect(approve.code, approve.stderr).toBe(0);
    expect(JSON.parse(approve.stdout)).toEqual({ taskId: "t3", stageId: "review", action: "approve", key: "act:review:1:1" });
    const refused = await act("t6", "submit");
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(
      /^ActionNotAllowedError ACTION_NOT_ALLOWED: action "submit" on task "t6" was refused: .*\(allowed now: "approve", "reject", "assign", "skip"\)/,
    );
    const onDone = await act("t1", "approve");
    expect(onDone.code).toBe(4);
    expect(onDone.stderr).toMatch(/it is completed, in final stage "complete"/);
    const reject = await act("t6", "reject", "bob");
    expect(reject.code, reject.stderr).toBe(0);

    const after = await runner.runAsync({ tasks: new JsonFileTaskSource(TASKS), runId: RUN_ID, batchSize: 10, maxConcurrency: 4 });
    expect(after.tasks.find((t) => t.taskId === "t3")).toMatchObject({ stageId: "complete", state: "completed", pathway: "approve", assignee: "ann" });
    expect(after.tasks.find((t) => t.taskId === "t6")).toMatchObject({ stageId: "review", state: "waiting", status: "REOPENED" });
    expect(logLines(LOG, process.pid)).toContain("start pre-label t6 2");
    expect((JSON.parse(readFileSync(TASKS, "utf8")) as { id: string; stageId: string }[]).find((t) => t.id === "t3")?.stageId).toBe("complete");
    await runner.store.close();
  }, 60_000);
});
