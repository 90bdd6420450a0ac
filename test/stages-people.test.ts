/**
 * What people do at human stages, and how tasks and names come in (issue
 * 17 items 3, 8, 9, 10, 11; issue 19 item 8), through the public API:
 * actions that carry data (journaled, seen by the next stage, in the
 * source), stages that require an assignee, tasks unassigned when they
 * move on, `runner.tasks` filters (code, `runner.cli tasks`, `taskloom
 * tasks`), stage and pathway names as people write them with uuids, tasks
 * that start where their source says, and the runner's task data type.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ActionNotAllowedError,
  defineWorkflow,
  getRun,
  InvalidOptionError,
  LowdbStore,
  MemoryStore,
  MemoryTaskSource,
  StageRunner,
  type RunStore,
  type StageEventMap,
  type WorkflowDefinition,
} from "../src/index.js";
import { runCli } from "../src/cli/program.js";
import { rejection } from "./support/async.js";

/** A workflow written as people write one: names with spaces, platform uuids. */
const definition: WorkflowDefinition = {
  name: "annotation",
  stages: [
    {
      id: "Pre label",
      uuid: "a1f0c2d4-0000-4000-8000-000000000001",
      kind: "agent",
      pathways: [{ name: "Next Stage", to: "Human Review", uuid: "b2e1-next" }],
    },
    {
      id: "Human Review",
      uuid: "a1f0c2d4-0000-4000-8000-000000000002",
      kind: "review",
      requireAssignee: true,
      pathways: [
        { name: "Modified label", to: "QA: second look", uuid: "c3-modified" },
        { name: "Approve", to: "Complete" },
      ],
    },
    { id: "QA: second look", kind: "annotation", pathways: [{ name: "Done", to: "Complete" }] },
    { id: "Complete", kind: "final" },
  ],
};
const workflow = defineWorkflow(definition);

function runner(store: RunStore = new MemoryStore()) {
  const r = new StageRunner<{ text: string; label?: string; comment?: string; seen?: string }>(workflow, { store });
  r.stage("a1f0c2d4-0000-4000-8000-000000000001", (task) => ({ pathway: "b2e1-next", label: task.data.text.toUpperCase() }));
  return r;
}

describe("names as people write them", () => {
  it("accepts any non-empty stage id and pathway name, addresses stages and pathways by uuid, and refuses what cannot work", async () => {
    expect(workflow.stage("a1f0c2d4-0000-4000-8000-000000000002")?.id).toBe("Human Review");
    const r = runner();
    const source = new MemoryTaskSource([{ id: "t1", data: { text: "cat" } }]);
    const moves: StageEventMap["task:move"][] = [];
    r.events.on("task:move", (e) => void moves.push(e));
    await r.runAsync({ tasks: source, runId: "names" });
    expect(moves).toMatchObject([{ from: "Pre label", to: "Human Review", pathway: "Next Stage" }]);
    await r.act("names", "t1", "c3-modified", { assignee: "ann" }); // a pathway by its uuid
    await r.runAsync({ tasks: source, runId: "names" });
    expect(source.tasks()[0]).toMatchObject({ stageId: "QA: second look", status: "NEW" });
    await r.act("names", "t1", "Done");
    await r.runAsync({ tasks: source, runId: "names" });
    expect(source.tasks()[0]).toMatchObject({ stageId: "Complete", status: "COMPLETED" });

    const problems = (def: WorkflowDefinition): string[] => {
      try {
        defineWorkflow(def);
        return [];
      } catch (e) {
        return (e as { problems: string[] }).problems;
      }
    };
    expect(
      problems({
        name: "bad",
        stages: [
          { id: "a#1", kind: "agent", pathways: { " x": "end" } },
          { id: "$enter", kind: "agent", pathways: { "": "end" } },
          {
            id: "b",
            uuid: "u",
            kind: "agent",
            pathways: [
              { name: "go", to: "end", uuid: "stop" },
              { name: "stop", to: "end" },
            ],
          },
          { id: "c", uuid: "u", kind: "agent", requireAssignee: true, pathways: { go: "end" } },
          { id: "end", kind: "final" },
        ],
      }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^stage #1 has id "a#1", which is not valid \(no # in a stage id/),
        expect.stringMatching(/^stage #2 has id "\$enter", which is not valid \(a stage id must not start with \$/),
        `stage "b": pathway "go" has the uuid "stop", which is another pathway's name`,
        `stage "c": requireAssignee applies to human stages (annotation, review), not to a agent stage`,
        `stages "b" and "c" have the same uuid "u"`,
      ]),
    );
  });
});

describe("actions carry data; assignment rules", () => {
  it("saves an action's data with the move: journaled, seen by the next stage, in the source and the report", async () => {
    const wf = defineWorkflow({
      name: "data",
      stages: [
        { id: "review", kind: "review", pathways: { approve: "post" } },
        { id: "post", kind: "agent", pathways: { done: "complete" } },
        { id: "complete", kind: "final" },
      ],
    });
    const store = new MemoryStore();
    const r = new StageRunner<{ text: string; labels?: string[]; comment?: string }>(wf, { store });
    const seen: unknown[] = [];
    r.stage("post", (task) => {
      seen.push(task.data);
      return "done";
    });
    const source = new MemoryTaskSource([{ id: "d1", data: { text: "hello" } }]);
    await r.runAsync({ tasks: source, runId: "data" });
    await r.act("data", "d1", "assign", { assignee: "ann", data: { comment: "taking it" } });
    await r.runAsync({ tasks: source, runId: "data" });
    expect((await r.tasks("data", { id: "d1" }))[0]).toMatchObject({ status: "ASSIGNED", assignee: "ann", data: { comment: "taking it" } });
    await r.act("data", "d1", "approve", { data: { labels: ["cat", "dog"], comment: "two animals" } });
    await r.runAsync({ tasks: source, runId: "data" });
    expect(seen).toEqual([{ text: "hello", comment: "two animals", labels: ["cat", "dog"] }]);
    expect(source.tasks()[0]).toMatchObject({ stageId: "complete", data: { text: "hello", labels: ["cat", "dog"], comment: "two animals" } });
    // Journaled: the stored wait holds the action with its data.
    const review = (await getRun("data.d1", { store })).nodes.find((n) => n.nodeId === "review");
    expect(review?.waits?.["act:review:1:2"]?.resolved?.payload).toMatchObject({ action: "approve", data: { labels: ["cat", "dog"] } });
    expect(await rejection(r.act("data", "d1", "approve", { data: [1] as never }))).toBeInstanceOf(InvalidOptionError);
  });

  it("a stage with requireAssignee refuses a pathway action until the task is assigned; a task is unassigned when it moves on", async () => {
    const r = runner();
    const source = new MemoryTaskSource([
      { id: "t1", data: { text: "a" } },
      { id: "t2", data: { text: "b" } },
    ]);
    await r.runAsync({ tasks: source, runId: "assign" });
    const refused = await rejection(r.act("assign", "t1", "Approve"));
    expect(refused).toBeInstanceOf(ActionNotAllowedError);
    expect(refused).toMatchObject({ code: "ACTION_NOT_ALLOWED", allowed: ["assign", "skip"] });
    expect((refused as Error).message).toMatch(/requires the task to be assigned/);
    await r.act("assign", "t1", "assign", { assignee: "ann" });
    await r.runAsync({ tasks: source, runId: "assign" });
    await r.act("assign", "t1", "Modified label"); // assigned: allowed without repeating the assignee
    await r.act("assign", "t2", "Modified label", { assignee: "bob" }); // or with one
    await r.runAsync({ tasks: source, runId: "assign" });
    const inQa = await r.tasks("assign", { stage: "QA: second look" });
    expect(inQa.map((t) => [t.taskId, t.status, t.assignee])).toEqual([
      ["t1", "NEW", undefined],
      ["t2", "NEW", undefined],
    ]);
  });
});

describe("runner.tasks: a run's tasks without a sweep", () => {
  it("filters by stage (id, title or uuid), status, state, assignee and id, from code and both CLIs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tl-tasks-"));
    const store = new LowdbStore({ dir: join(dir, ".taskloom") });
    const r = runner(store);
    const source = new MemoryTaskSource(Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, data: { text: `x${i}` } })));
    await r.runAsync({ tasks: source, runId: "query" });
    await r.act("query", "t1", "assign", { assignee: "ann" });
    await r.act("query", "t2", "assign", { assignee: "bob" });
    await r.act("query", "t3", "Approve", { assignee: "ann" });
    await r.runAsync({ tasks: source, runId: "query" });
    const ids = (tasks: { taskId: string }[]) => tasks.map((t) => t.taskId);
    expect(ids(await r.tasks("query"))).toEqual(["t0", "t1", "t2", "t3", "t4", "t5"]);
    expect(ids(await r.tasks("query", { stage: "a1f0c2d4-0000-4000-8000-000000000002" }))).toEqual(["t0", "t1", "t2", "t4", "t5"]);
    expect(ids(await r.tasks("query", { status: "ASSIGNED" }))).toEqual(["t1", "t2"]);
    // t3 completed with ann's approval: a completed task keeps who acted last.
    expect(ids(await r.tasks("query", { assignee: "ann" }))).toEqual(["t1", "t3"]);
    expect(ids(await r.tasks("query", { assignee: "ann", state: "waiting" }))).toEqual(["t1"]);
    expect(ids(await r.tasks("query", { state: "completed" }))).toEqual(["t3"]);
    expect(ids(await r.tasks("query", { status: ["NEW", "COMPLETED"], id: ["t5", "t3", "t0", "nope"] }))).toEqual(["t0", "t3", "t5"]);
    expect(await r.tasks("other-run")).toEqual([]);
    expect(await rejection(r.tasks("query", { stage: "Revue" }))).toBeInstanceOf(InvalidOptionError);
    expect(await rejection(r.tasks("query", { status: "DONE" as never }))).toBeInstanceOf(InvalidOptionError);
    expect(await rejection(r.tasks("query", { stag: "x" } as never))).toBeInstanceOf(InvalidOptionError);

    const out: string[] = [];
    const err: string[] = [];
    const io = { out: { write: (s: string) => void out.push(s) }, err: { write: (s: string) => void err.push(s) } };
    expect(await r.cli(["tasks", "--run-id", "query", "--status", "ASSIGNED"], io)).toBe(0);
    expect(out.join("").split("\n")).toEqual([
      "TASK  STAGE         STATUS    STATE    ASSIGNEE",
      "t1    Human Review  ASSIGNED  waiting  ann",
      "t2    Human Review  ASSIGNED  waiting  bob",
      "",
    ]);
    out.length = 0;
    expect(await r.cli(["tasks", "--run-id", "query", "--assignee", "bob", "--json"], io)).toBe(0);
    expect((JSON.parse(out.join("")) as { taskId: string }[]).map((t) => t.taskId)).toEqual(["t2"]);
    expect(await r.cli(["tasks", "--run-id", "query", "--status", "DONE"], io)).toBe(1);
    expect(err.join("")).toMatch(/^error\[INVALID_OPTION\]: option status must be one of/m);

    // The taskloom command reads the same store folder, with the workflow's JSON.
    await store.close();
    writeFileSync(join(dir, "workflow.json"), JSON.stringify(definition));
    const cliOut: string[] = [];
    const code = await runCli(["tasks", "query", "--workflow", "workflow.json", "--stage", "Human Review", "--state", "waiting", "--id", "t0,t1"], {
      out: { write: (s: string) => void cliOut.push(s) },
      err: { write: () => undefined },
      cwd: dir,
      env: {},
      now: Date.now,
    });
    expect(code).toBe(0);
    expect(cliOut.join("")).toMatch(/^TASK +STAGE +STATUS +STATE +ASSIGNEE\nt0 +Human Review +NEW +waiting +-\nt1 +Human Review +ASSIGNED +waiting +ann\n$/);
  });
});

describe("tasks start where they are", () => {
  it("a task whose source says it is at a stage starts there; an unknown stage fails that task only", async () => {
    let agentCalls = 0;
    const r = new StageRunner(workflow, { store: new MemoryStore() });
    r.stage("Pre label", () => {
      agentCalls++;
      return "Next Stage";
    });
    const source = new MemoryTaskSource([
      { id: "fresh", data: { text: "a" } },
      { id: "reviewed", data: { text: "b" }, stageId: "Human Review", status: "NEW" },
      { id: "by-uuid", data: { text: "c" }, stageId: "a1f0c2d4-0000-4000-8000-000000000002" },
      { id: "lost", data: { text: "d" }, stageId: "Revue" },
      { id: "qa", data: { text: "e" }, stageId: "QA: second look" },
    ]);
    const moves: string[] = [];
    r.events.on("task:move", (e) => void moves.push(e.taskId));
    const report = await r.runAsync({ tasks: source, runId: "where" });
    expect(agentCalls).toBe(1); // only the task with no stage ran the first agent
    expect(moves).toEqual(["fresh"]); // the others were first seen where they are: no move
    const at = Object.fromEntries(report.tasks.map((t) => [t.taskId, [t.stageId, t.state]]));
    expect(at).toEqual({
      fresh: ["Human Review", "waiting"],
      reviewed: ["Human Review", "waiting"],
      "by-uuid": ["Human Review", "waiting"],
      lost: ["Revue", "failed"],
      qa: ["QA: second look", "waiting"],
    });
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]?.error).toMatchObject({ name: "UnknownStageError", code: "UNKNOWN_STAGE" });
    expect(report.failed[0]?.error?.message).toMatch(/stage "Revue" in its source, which is not a stage of this workflow/);
    // From there, they move only along pathways.
    await r.act("where", "qa", "Done");
    await r.runAsync({ tasks: source, runId: "where" });
    expect(await r.task("where", "qa")).toMatchObject({ stageId: "Complete", state: "completed" });
  });
});

describe("StageRunner is generic in its task data", () => {
  it("types task.data in agents from the type parameter (strict tsc checks this file)", async () => {
    const wf = defineWorkflow({
      name: "typed",
      stages: [
        { id: "guess", kind: "agent", pathways: { done: "end" } },
        { id: "end", kind: "final" },
      ],
    });
    const guess = (text: string): string => text.slice(0, 1);
    const typed = new StageRunner<{ text: string }>(wf, { store: new MemoryStore() });
    typed.stage("guess", async (task) => ({ pathway: "done", label: guess(task.data.text) }));
    // @ts-expect-error -- `txt` is not a field of the runner's task data
    typed.stage("guess", async (task) => String(task.data.txt), { overwrite: true });
    typed.stage("guess", async (task) => ({ pathway: "done", label: guess(task.data.text) }), { overwrite: true });
    const report = await typed.runAsync({ tasks: [{ id: "x", data: { text: "hello" } }], runId: "typed" });
    // An interface works as well as a type literal (no index signature needed).
    interface Doc {
      readonly text: string;
    }
    const withInterface = new StageRunner<Doc>(wf, { store: new MemoryStore() });
    withInterface.stage("guess", (task) => ({ pathway: "done", label: guess(task.data.text) }));
    expect(report.tasks[0]).toMatchObject({ stageId: "end", data: { text: "hello", label: "h" } });
  });
});

describe("names: property", () => {
  it("any valid stage id and pathway name runs a task through, and its wait keys read back", async () => {
    const name = fc
      .string({ minLength: 1, maxLength: 40, unit: fc.constantFrom("a", "Z", "0", " ", ":", "-", "é", "/", ".", "'", "\u00a0") })
      .filter((s) => s.trim() === s && s !== "" && !s.startsWith("$"));
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(name, { minLength: 3, maxLength: 3 }), name, name, async ([agent, review, end], forward, approve) => {
        fc.pre(!["assign", "release", "skip"].includes(approve));
        const wf = defineWorkflow({
          name: "prop",
          stages: [
            { id: agent as string, kind: "agent", pathways: { [forward]: review as string } },
            { id: review as string, kind: "review", pathways: { [approve]: end as string } },
            { id: end as string, kind: "final" },
          ],
        });
        const r = new StageRunner(wf, { store: new MemoryStore() });
        r.stage(agent as string, () => forward);
        const source = new MemoryTaskSource([{ id: "t" }]);
        await r.runAsync({ tasks: source, runId: "p" });
        const waiting = await r.task("p", "t");
        expect(waiting).toMatchObject({ stageId: review, state: "waiting", waitKey: `act:${review}:1:1` });
        await r.act("p", "t", approve);
        await r.runAsync({ tasks: source, runId: "p" });
        expect(source.tasks()[0]).toMatchObject({ stageId: end, status: "COMPLETED" });
        expect(await r.task("p", "t")).toMatchObject({ stageId: end, state: "completed", pathway: approve });
      }),
      { numRuns: 40 },
    );
  });
});

describe("refresh periods in the wrong unit are not silent", () => {
  it("a refreshEveryMs under a second is reported as a warning naming the likely value", async () => {
    const r = runner();
    const warnings: string[] = [];
    r.events.on("warning", (e) => void warnings.push(e.message));
    const controller = new AbortController();
    r.events.on("sweep:end", () => controller.abort());
    await r.runAsync({ tasks: [{ id: "w", data: { text: "x" } }], runId: "short", refreshEveryMs: 30, signal: controller.signal });
    expect(warnings).toEqual([
      "refreshEveryMs is 30: the runner sweeps every 30 milliseconds. If you meant 30 seconds, pass refreshEveryMs: 30000 (the command's --refresh-every takes seconds).",
    ]);
    warnings.length = 0;
    await r.runAsync({ tasks: [{ id: "w", data: { text: "x" } }], runId: "short", refreshEveryMs: 30_000, signal: AbortSignal.abort() });
    expect(warnings).toEqual([]);
  });
});
