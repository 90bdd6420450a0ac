/**
 * Workflow definitions: validation names each culprit (unknown targets,
 * unreachable stages, no final stage, duplicates, dead ends), JSON files
 * load and are checked the same way, including keys repeated in the file
 * that JSON.parse would silently drop.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { defineWorkflow, GraphDefinitionError, isWorkflow, loadWorkflow, parseWorkflow, type WorkflowDefinition } from "../src/index.js";
import { rejection } from "./support/async.js";

const labeling: WorkflowDefinition = {
  name: "labeling",
  stages: [
    { id: "pre-label", title: "Pre-label", kind: "agent", pathways: { review: "review", skip: "archive" } },
    { id: "review", title: "Review", kind: "review", pathways: { approve: "complete", reject: "pre-label" }, maxVisits: 3 },
    { id: "complete", title: "Complete", kind: "final" },
    { id: "archive", kind: "final" },
  ],
};

function problemsOf(def: unknown): readonly string[] {
  try {
    defineWorkflow(def as WorkflowDefinition);
  } catch (error) {
    expect(error).toBeInstanceOf(GraphDefinitionError);
    return (error as GraphDefinitionError).problems;
  }
  throw new Error("expected the workflow to be refused");
}

const dir = mkdtempSync(join(tmpdir(), "taskloom-stages-wf-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("defineWorkflow", () => {
  it("validates a workflow and looks stages up by id or title", () => {
    const wf = defineWorkflow(labeling);
    expect(isWorkflow(wf)).toBe(true);
    expect(wf.start).toBe("pre-label");
    expect(wf.stages.map((s) => s.id)).toEqual(["pre-label", "review", "complete", "archive"]);
    expect(wf.stage("Review")?.id).toBe("review");
    expect(wf.stage("review")?.pathways).toEqual([
      { name: "approve", to: "complete" },
      { name: "reject", to: "pre-label" },
    ]);
    expect(wf.stage("archive")?.title).toBe("archive");
    expect(wf.stage("nope")).toBeUndefined();
    expect(defineWorkflow(wf)).toBe(wf);
    expect(Object.isFrozen(wf.stages)).toBe(true);
  });

  it("names an unknown pathway target and lists the stages", () => {
    const problems = problemsOf({
      name: "w",
      stages: [
        { id: "a", kind: "agent", pathways: { next: "b", oops: "nowhere" } },
        { id: "b", kind: "final" },
      ],
    });
    expect(problems).toEqual([`stage "a": pathway "oops" leads to "nowhere", which is not a stage of this workflow (stages: "a", "b")`]);
  });

  it("names unreachable stages", () => {
    const problems = problemsOf({
      name: "w",
      stages: [
        { id: "a", kind: "agent", pathways: { done: "end" } },
        { id: "island", kind: "review", pathways: { approve: "end" } },
        { id: "end", kind: "final" },
      ],
    });
    expect(problems).toEqual([`stage "island" is unreachable: no pathway from "a" leads to it`]);
  });

  it("refuses a workflow without a final stage", () => {
    const problems = problemsOf({
      name: "w",
      stages: [
        { id: "a", kind: "agent", pathways: { again: "b" } },
        { id: "b", kind: "agent", pathways: { back: "a" } },
      ],
    });
    expect(problems).toContain("the workflow has no final stage, so no task could ever end");
  });

  it("names duplicate stage ids, titles and pathway names", () => {
    const problems = problemsOf({
      name: "w",
      stages: [
        {
          id: "a",
          title: "Same",
          kind: "agent",
          pathways: [
            { name: "go", to: "b" },
            { name: "go", to: "c" },
          ],
        },
        { id: "a", kind: "final" },
        { id: "b", title: "Same", kind: "final" },
        { id: "c", kind: "final" },
      ],
    });
    expect(problems).toEqual(
      expect.arrayContaining([`stage id "a" is used twice`, `stages "a" and "b" have the same title "Same"`, `stage "a": pathway "go" is defined twice`]),
    );
  });

  it("names a stage that can never reach a final stage, a final stage with pathways, a stage without pathways", () => {
    const problems = problemsOf({
      name: "w",
      stages: [
        { id: "a", kind: "agent", pathways: { loop: "b", done: "end" } },
        { id: "b", kind: "agent", pathways: { loop: "c" } },
        { id: "c", kind: "agent", pathways: { loop: "b" } },
        { id: "end", kind: "final" },
      ],
    });
    expect(problems).toEqual([
      `stage "b" can never reach a final stage: a task there could never end`,
      `stage "c" can never reach a final stage: a task there could never end`,
    ]);
    expect(
      problemsOf({
        name: "w",
        stages: [
          { id: "a", kind: "agent" },
          { id: "end", kind: "final", pathways: { back: "a" } },
        ],
      }),
    ).toEqual(expect.arrayContaining([`stage "a" has no pathways; only final stages end a task`, `final stage "end" has pathways; a final stage ends a task`]));
  });

  it("refuses bad ids, kinds, maxVisits, start, and human pathways named like status actions", () => {
    const problems = problemsOf({
      name: "w",
      start: "zzz",
      stages: [
        { id: "a#b", kind: "agent", pathways: { x: "end" } },
        { id: "r", kind: "robot", pathways: { x: "end" } },
        { id: "h", kind: "review", pathways: { skip: "end" }, maxVisits: 0 },
        { id: "end", kind: "final" },
      ],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^stage #1 has id "a#b", which is not valid \(no # in a stage id/),
        `stage "r" has kind "robot" (kinds: "agent", "annotation", "review", "final")`,
        `stage "h": maxVisits must be a whole number of at least 1 (got 0)`,
        `stage "h": pathway "skip" has the name of a status action ("assign", "release", "skip"); rename it`,
        `start "zzz" is not a stage of this workflow (stages: "r", "h", "end")`,
      ]),
    );
  });

  it("starts at the declared start stage", () => {
    const wf = defineWorkflow({ ...labeling, start: "review" });
    expect(wf.start).toBe("review");
  });
});

describe("loadWorkflow", () => {
  it("loads and validates a JSON file", async () => {
    const file = join(dir, "labeling.json");
    writeFileSync(file, JSON.stringify(labeling));
    const wf = await loadWorkflow(file);
    expect(wf.name).toBe("labeling");
    expect(wf.stage("Pre-label")?.pathways.map((p) => p.name)).toEqual(["review", "skip"]);
  });

  it("reports a pathway written twice in the file, which JSON.parse would drop", () => {
    const text = `{"name":"w","stages":[{"id":"a","kind":"agent","pathways":{"go":"end","go":"a"}},{"id":"end","kind":"final"}]}`;
    const error = (() => {
      try {
        parseWorkflow(text, "w.json");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(GraphDefinitionError);
    expect((error as GraphDefinitionError).problems).toEqual([`the key "stages[0].pathways.go" appears twice in w.json`]);
  });

  it("names the file for unreadable files, bad JSON and invalid workflows", async () => {
    const missing = await rejection(loadWorkflow(join(dir, "missing.json")));
    expect(missing).toBeInstanceOf(GraphDefinitionError);
    expect((missing as Error).message).toContain("missing.json");

    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{ nope");
    expect(((await rejection(loadWorkflow(bad))) as GraphDefinitionError).problems[0]).toMatch(/^it is not valid JSON/);

    const invalid = join(dir, "invalid.json");
    writeFileSync(invalid, JSON.stringify({ name: "w", stages: [{ id: "a", kind: "agent", pathways: { go: "b" } }] }));
    const err = (await rejection(loadWorkflow(invalid))) as GraphDefinitionError;
    expect(err.message).toContain("invalid.json");
    expect(err.problems).toEqual(expect.arrayContaining([expect.stringContaining(`pathway "go" leads to "b"`)]));
  });
});
