/**
 * Audit, with a real crash: a stage runner in a child `node` process
 * (`node --import tsx`, on src/) saves its tasks' runs and is SIGKILLed
 * before its batch of moves reaches the task file (it stops dead in the
 * listener of the batch's last `task:end`, before the write). The task
 * file then lags behind the runs. The next runner, in this process, takes
 * one task per sweep (`maxTasksPerStage: 1`): the file must catch up for
 * every task, the ones it defers included, and no saved move is repeated.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { JsonFileTaskSource, LowdbStore, StageRunner } from "../src/index.js";
import { startLineChild } from "./support/child-process.js";

const SRC = resolve(import.meta.dirname, "../src/index.ts");
const root = mkdtempSync(join(tmpdir(), "taskloom-stages-audit-crash-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const WORKFLOW = {
  name: "audit-crash",
  stages: [
    { id: "first", kind: "agent", pathways: { next: "second" } },
    { id: "second", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
} as const;

/** The child: serves "first" only (its tasks park at "second"), and dies once every task's run is saved. */
const CHILD = `
import { JsonFileTaskSource, LowdbStore, StageRunner } from ${JSON.stringify(SRC)};
import { writeSync } from "node:fs";
const [dir, tasks, count] = process.argv.slice(2);
const runner = new StageRunner(${JSON.stringify(WORKFLOW)}, { store: new LowdbStore({ dir }), serves: ["first"] });
runner.stage("first", async () => "next");
let ended = 0;
runner.events.on("task:end", () => {
  if (++ended < Number(count)) return;
  writeSync(1, "saved\\n");
  // Stop dead before the batch is written to the task file: the parent SIGKILLs this process now.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
});
await runner.runAsync({ tasks: new JsonFileTaskSource(tasks), runId: "r1" });
writeSync(1, "finished\\n");
`;

describe("a runner SIGKILLed after its task runs were saved and before its task file was written", () => {
  it("leaves a task file that the next runner brings up to date, deferred tasks included", { timeout: 60_000 }, async () => {
    const dir = join(root, "store");
    const tasksFile = join(root, "tasks.json");
    const script = join(root, "child.mts");
    const ids = ["t1", "t2", "t3"];
    writeFileSync(tasksFile, JSON.stringify(ids.map((id) => ({ id, data: { n: id } }))));
    writeFileSync(script, CHILD);

    const child = startLineChild([script, dir, tasksFile, String(ids.length)]);
    expect(await child.nextLine()).toBe("saved");
    child.child.kill("SIGKILL");
    await child.exited;
    expect(child.child.signalCode).toBe("SIGKILL");
    // The runs moved; the file did not hear of it.
    const stale = JSON.parse(readFileSync(tasksFile, "utf8")) as { id: string; stageId?: string }[];
    expect(stale.map((t) => t.stageId)).toEqual([undefined, undefined, undefined]);

    const store = new LowdbStore({ dir });
    let asked = 0;
    const runner = new StageRunner(WORKFLOW, { store }).stage("second", async () => {
      asked++;
      return undefined; // stays: the task is asked again at a later sweep
    });
    const first = new StageRunner(WORKFLOW, { store, serves: ["first"] }).stage("first", async () => {
      throw new Error("the move out of first was saved: its agent must not run again");
    });
    const report = await runner.runAsync({ tasks: new JsonFileTaskSource(tasksFile), runId: "r1", maxTasksPerStage: 1 });
    expect(asked).toBe(1);
    expect(report.tasks.map((t) => t.state).sort()).toEqual(["deferred", "deferred", "staying"]);
    const caught = JSON.parse(readFileSync(tasksFile, "utf8")) as { id: string; stageId?: string; status?: string }[];
    expect(caught.map((t) => [t.id, t.stageId, t.status])).toEqual(ids.map((id) => [id, "second", "NEW"]));
    // The first stage's runner finds nothing to do: every move out of it was saved before the kill.
    const again = await first.runAsync({ tasks: new JsonFileTaskSource(tasksFile), runId: "r1" });
    expect(again.processed).toBe(0);
  });
});
