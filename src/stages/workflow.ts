/**
 * Workflow definitions: stages joined by named pathways, as in the task
 * agents of annotation platforms. A stage is an `agent` (code decides the
 * pathway), a human stage (`annotation`, `review`: a person's action
 * decides it) or `final` (the task ends there). A task enters at the
 * `start` stage and moves only along pathways.
 *
 * {@link defineWorkflow} validates a definition once and returns an
 * immutable {@link Workflow}; every problem is collected and thrown as one
 * `GraphDefinitionError`, each naming its culprit: unknown pathway targets,
 * stages no pathway reaches, stages that can never reach a final stage, a
 * workflow without a final stage, duplicate stage ids, titles or pathway
 * names, pathways that would shadow a status action, and fields that are
 * not part of a definition (a typo such as `maxVisit`, with the nearest
 * known field).
 *
 * @module
 */
import { optionKeys, unknownKeyProblems } from "../core/known-keys.js";
import { GraphDefinitionError } from "../graph/errors.js";
import { nameList } from "./stage-errors.js";
import { nameProblem, stageIdProblem, uuidClashes } from "./stage-names.js";
import { STATUS_ACTIONS } from "./task-status.js";

/** Every kind of stage. */
export const STAGE_KINDS = ["agent", "annotation", "review", "final"] as const;

/** The kind of a stage: who decides where a task goes next. */
export type StageKind = (typeof STAGE_KINDS)[number];

/** One pathway out of a stage. */
export interface PathwayDefinition {
  /** The pathway's name: what an agent returns, or the action a person takes. */
  readonly name: string;
  /** The id of the stage it leads to. */
  readonly to: string;
  /** A stable id (such as a platform's uuid) the pathway can also be chosen by; unique in the workflow. */
  readonly uuid?: string;
}

/**
 * One stage as written by hand or in JSON.
 *
 * @example
 * ```ts
 * { id: "review", title: "Human review", kind: "review", pathways: { approve: "complete", reject: "pre-label" }, maxVisits: 3 }
 * ```
 */
export interface StageDefinition {
  /**
   * Unique id: any name of 1 to 100 characters as people write it (`"pre-label"`, `"Human review"`),
   * without `#`, not starting with `$`, and without spaces at either end.
   */
  readonly id: string;
  /** A stable id (such as a platform's uuid) the stage can also be addressed by; unique in the workflow. */
  readonly uuid?: string;
  /** A name for people; agents may be registered by it. @default the id */
  readonly title?: string;
  /** What kind of stage it is. */
  readonly kind: StageKind;
  /** Pathway name → target stage id (or a list, where duplicates are caught). Final stages have none. */
  readonly pathways?: Readonly<Record<string, string>> | readonly PathwayDefinition[];
  /** How many times one task may visit this stage (loops). @default the runner's maxVisits (100) */
  readonly maxVisits?: number;
  /**
   * Human stages: a task must be assigned (`assign`, or the pathway action's `assignee`) before a pathway
   * action moves it on; otherwise `act` throws `ActionNotAllowedError`. @default false
   */
  readonly requireAssignee?: boolean;
}

/**
 * A workflow as written by hand or in JSON.
 *
 * @example
 * ```ts
 * const def: WorkflowDefinition = {
 *   name: "labeling",
 *   stages: [
 *     { id: "pre-label", kind: "agent", pathways: { review: "review" } },
 *     { id: "review", kind: "review", pathways: { approve: "complete", reject: "pre-label" } },
 *     { id: "complete", kind: "final" },
 *   ],
 * };
 * ```
 */
export interface WorkflowDefinition {
  /** The workflow's name (also the compiled graph's name). */
  readonly name: string;
  /** The stage every task enters. @default the first stage */
  readonly start?: string;
  /** The stages. */
  readonly stages: readonly StageDefinition[];
}

/** A validated stage. */
export interface Stage {
  readonly id: string;
  /** Its stable id, when the definition gave one. */
  readonly uuid?: string;
  readonly title: string;
  readonly kind: StageKind;
  /** Its pathways, in definition order. */
  readonly pathways: readonly PathwayDefinition[];
  readonly maxVisits?: number;
  /** Human stages: a pathway action needs an assignee. */
  readonly requireAssignee?: boolean;
}

/** A validated, immutable workflow. Make one with {@link defineWorkflow}. */
export interface Workflow {
  readonly name: string;
  /** The id of the stage tasks enter. */
  readonly start: string;
  /** The stages, in definition order. */
  readonly stages: readonly Stage[];
  /** The stage with this id, title or uuid; undefined when none. */
  stage(idOrTitle: string): Stage | undefined;
}

const WORKFLOW_FIELDS = optionKeys<WorkflowDefinition>({ name: true, start: true, stages: true });
const STAGE_FIELDS = optionKeys<StageDefinition>({
  id: true,
  uuid: true,
  title: true,
  kind: true,
  pathways: true,
  maxVisits: true,
  requireAssignee: true,
});
const PATHWAY_FIELDS = optionKeys<PathwayDefinition>({ name: true, to: true, uuid: true });
const MARK = Symbol("taskloom.workflow");

/** True for human stages (`annotation`, `review`): a person's action moves the task. */
export function isHumanStage(stage: Stage): boolean {
  return stage.kind === "annotation" || stage.kind === "review";
}

/** True when `value` is a {@link Workflow} made by {@link defineWorkflow}. */
export function isWorkflow(value: unknown): value is Workflow {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARK] === true;
}

/** The pathway names of a stage. */
export function pathwayNames(stage: Stage): string[] {
  return stage.pathways.map((p) => p.name);
}

/**
 * Validates a workflow definition and returns it as an immutable
 * {@link Workflow}. Throws `GraphDefinitionError` listing every problem.
 * A `Workflow` passed in is returned as it is.
 *
 * @example
 * ```ts
 * const workflow = defineWorkflow({
 *   name: "labeling",
 *   stages: [
 *     { id: "pre-label", title: "Pre-label", kind: "agent", pathways: { review: "review" } },
 *     { id: "review", title: "Review", kind: "review", pathways: { approve: "complete", reject: "pre-label" }, maxVisits: 3 },
 *     { id: "complete", title: "Complete", kind: "final" },
 *   ],
 * });
 * ```
 */
export function defineWorkflow(definition: WorkflowDefinition | Workflow): Workflow {
  if (isWorkflow(definition)) return definition;
  const problems: string[] = [];
  const def = definition as Partial<WorkflowDefinition> | null;
  if (def === null || typeof def !== "object") throw new GraphDefinitionError("workflow", ["a workflow must be an object"]);
  const name = typeof def.name === "string" && def.name.trim() !== "" ? def.name : "workflow";
  if (name !== def.name) problems.push("the workflow needs a non-empty string name");
  problems.push(...unknownKeyProblems("the workflow", def, WORKFLOW_FIELDS, "field"));
  if (!Array.isArray(def.stages) || def.stages.length === 0) {
    throw new GraphDefinitionError(name, [...problems, "stages must be a non-empty array"]);
  }

  const stages: Stage[] = [];
  const ids = new Set<string>();
  const titles = new Map<string, string>();
  // Array.from, not forEach: a hole in the list (`[, { … }]`) is a stage that is not an object, never skipped silently.
  Array.from(def.stages as readonly unknown[]).forEach((raw: unknown, index) => {
    const s = raw as Partial<StageDefinition> | null;
    const where = `stage #${index + 1}`;
    if (s === null || typeof s !== "object") return void problems.push(`${where} is not an object`);
    const bad = stageIdProblem(s.id);
    if (bad !== undefined) return void problems.push(`${where} has id ${JSON.stringify(s.id)}, which is not valid (${bad})`);
    const id = s.id as string;
    problems.push(...unknownKeyProblems(`stage "${id}"`, s, STAGE_FIELDS, "field"));
    if (ids.has(id)) problems.push(`stage id "${id}" is used twice`);
    ids.add(id);
    if (!(STAGE_KINDS as readonly unknown[]).includes(s.kind)) {
      problems.push(`stage "${id}" has kind ${JSON.stringify(s.kind)} (kinds: ${nameList(STAGE_KINDS)})`);
    }
    if (s.title !== undefined && (typeof s.title !== "string" || s.title.trim() === ""))
      problems.push(`stage "${id}" has a title that is not a non-empty string`);
    const title = typeof s.title === "string" && s.title.trim() !== "" ? s.title : id;
    const other = titles.get(title);
    if (other !== undefined && other !== id) problems.push(`stages "${other}" and "${id}" have the same title "${title}"`);
    titles.set(title, id);
    if (s.maxVisits !== undefined && !(Number.isInteger(s.maxVisits) && s.maxVisits >= 1)) {
      problems.push(`stage "${id}": maxVisits must be a whole number of at least 1 (got ${String(s.maxVisits)})`);
    }
    if (s.requireAssignee !== undefined && typeof s.requireAssignee !== "boolean") problems.push(`stage "${id}": requireAssignee must be true or false`);
    if (s.requireAssignee === true && s.kind !== "annotation" && s.kind !== "review") {
      problems.push(`stage "${id}": requireAssignee applies to human stages (annotation, review), not to a ${String(s.kind)} stage`);
    }
    const uuidProblem = s.uuid === undefined ? undefined : nameProblem(s.uuid, 100);
    if (uuidProblem !== undefined) problems.push(`stage "${id}": uuid ${JSON.stringify(s.uuid)} is not valid (${uuidProblem})`);
    const pathways = readPathways(id, s.pathways, problems);
    stages.push({
      id,
      title,
      kind: s.kind as StageKind,
      pathways,
      ...(s.uuid !== undefined && uuidProblem === undefined && { uuid: s.uuid }),
      ...(s.maxVisits !== undefined && { maxVisits: s.maxVisits }),
      ...(s.requireAssignee === true && { requireAssignee: true }),
    });
  });

  const byId = new Map(stages.map((s) => [s.id, s]));
  for (const [title, id] of titles) {
    if (title !== id && byId.has(title)) problems.push(`stage "${id}" has the title "${title}", which is another stage's id`);
  }
  problems.push(...uuidClashes(stages, titles));
  const start = def.start ?? stages[0]?.id;
  if (def.start !== undefined && (typeof def.start !== "string" || !byId.has(def.start))) {
    problems.push(`start ${JSON.stringify(def.start)} is not a stage of this workflow (stages: ${nameList([...byId.keys()])})`);
  }
  for (const s of stages) {
    if (s.kind === "final" && s.pathways.length > 0) problems.push(`final stage "${s.id}" has pathways; a final stage ends a task`);
    if (s.kind !== "final" && s.pathways.length === 0 && STAGE_KINDS.includes(s.kind)) {
      problems.push(`stage "${s.id}" has no pathways; only final stages end a task`);
    }
    if (s.kind === "annotation" || s.kind === "review") {
      for (const p of s.pathways) {
        if ((STATUS_ACTIONS as readonly string[]).includes(p.name)) {
          problems.push(`stage "${s.id}": pathway "${p.name}" has the name of a status action (${nameList(STATUS_ACTIONS)}); rename it`);
        }
      }
    }
    for (const p of s.pathways) {
      if (!byId.has(p.to)) {
        problems.push(`stage "${s.id}": pathway "${p.name}" leads to "${p.to}", which is not a stage of this workflow (stages: ${nameList([...byId.keys()])})`);
      }
    }
  }
  if (!stages.some((s) => s.kind === "final")) problems.push("the workflow has no final stage, so no task could ever end");

  if (problems.length === 0 && start !== undefined) {
    const reached = reach([start], (id) => byId.get(id)?.pathways.map((p) => p.to) ?? []);
    for (const s of stages) if (!reached.has(s.id)) problems.push(`stage "${s.id}" is unreachable: no pathway from "${start}" leads to it`);
    const predecessors = new Map<string, string[]>(stages.map((s) => [s.id, []]));
    for (const s of stages) for (const p of s.pathways) predecessors.get(p.to)?.push(s.id);
    const ending = reach(
      stages.filter((s) => s.kind === "final").map((s) => s.id),
      (id) => predecessors.get(id) ?? [],
    );
    for (const s of stages) {
      if (reached.has(s.id) && !ending.has(s.id)) problems.push(`stage "${s.id}" can never reach a final stage: a task there could never end`);
    }
  }
  if (problems.length > 0) throw new GraphDefinitionError(name, problems);

  const frozen = stages.map((s) => Object.freeze({ ...s, pathways: Object.freeze(s.pathways.map((p) => Object.freeze(p))) }));
  const lookup = new Map<string, Stage>();
  for (const s of frozen) if (s.uuid !== undefined) lookup.set(s.uuid, s);
  for (const s of frozen) lookup.set(s.title, s);
  for (const s of frozen) lookup.set(s.id, s);
  const workflow: Workflow = {
    name,
    start: start as string,
    stages: Object.freeze(frozen),
    stage: (idOrTitle) => lookup.get(idOrTitle),
  };
  Object.defineProperty(workflow, MARK, { value: true });
  return Object.freeze(workflow);
}

function readPathways(stageId: string, raw: unknown, problems: string[]): PathwayDefinition[] {
  if (raw === undefined) return [];
  const list: PathwayDefinition[] = [];
  if (Array.isArray(raw)) {
    for (const p of raw as unknown[]) {
      const q = p as Partial<PathwayDefinition> | null;
      if (q === null || typeof q !== "object" || typeof q.name !== "string" || typeof q.to !== "string") {
        problems.push(`stage "${stageId}": each pathway in a list must be { name, to } with strings`);
        continue;
      }
      problems.push(...unknownKeyProblems(`stage "${stageId}": pathway "${q.name}"`, q, PATHWAY_FIELDS, "field"));
      const uuidProblem = q.uuid === undefined ? undefined : nameProblem(q.uuid, 100);
      if (uuidProblem !== undefined)
        problems.push(`stage "${stageId}": pathway "${q.name}" has uuid ${JSON.stringify(q.uuid)}, which is not valid (${uuidProblem})`);
      list.push({ name: q.name, to: q.to, ...(q.uuid !== undefined && uuidProblem === undefined && { uuid: q.uuid }) });
    }
  } else if (typeof raw === "object" && raw !== null) {
    for (const [name, to] of Object.entries(raw)) {
      if (typeof to !== "string") {
        problems.push(`stage "${stageId}": pathway "${name}" must name a target stage id (got ${typeof to})`);
        continue;
      }
      list.push({ name, to });
    }
  } else {
    problems.push(`stage "${stageId}": pathways must be an object (name → stage id) or a list of { name, to }`);
    return [];
  }
  const seen = new Set<string>();
  for (const p of list) {
    const bad = nameProblem(p.name, 100);
    if (bad !== undefined) problems.push(`stage "${stageId}": pathway name ${JSON.stringify(p.name)} is not valid (${bad})`);
    if (seen.has(p.name)) problems.push(`stage "${stageId}": pathway "${p.name}" is defined twice`);
    seen.add(p.name);
  }
  for (const p of list) {
    if (p.uuid !== undefined && p.uuid !== p.name && seen.has(p.uuid)) {
      problems.push(`stage "${stageId}": pathway "${p.name}" has the uuid "${p.uuid}", which is another pathway's name`);
    }
  }
  return list;
}

function reach(from: readonly string[], next: (id: string) => readonly string[]): Set<string> {
  const seen = new Set<string>(from);
  const todo = [...from];
  for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
    for (const n of next(id)) {
      if (!seen.has(n)) {
        seen.add(n);
        todo.push(n);
      }
    }
  }
  return seen;
}
