/**
 * Names of stages and pathways as people write them: `"Next Stage"`,
 * `"Modified label"`, `"Human review"`. Any non-empty name is accepted,
 * within what the graph needs of a node id or a route name (see
 * `graph/validate-graph.ts`): at most 100 characters, no spaces at either
 * end, and for stage ids no `#` (it separates a node's visits, `review#2`)
 * and no leading `$` (kept for the runner's own nodes, such as `$enter`).
 *
 * Stages and pathways may also carry a stable `uuid` (as annotation
 * platforms give them): a stage is found by id, title or uuid, a pathway
 * by name or uuid, so a platform's ids work wherever a name does.
 *
 * Invariants: a name that passes here is a valid node id (stage) or route
 * name (pathway); uuids never shadow another stage's id or title.
 *
 * @module
 */

/** Why `value` is not a valid name of at most `max` characters, or undefined when it is. */
export function nameProblem(value: unknown, max: number): string | undefined {
  if (typeof value !== "string" || value.trim() === "") return "a name must be a non-empty string";
  if (value.length > max) return `at most ${max} characters (got ${value.length})`;
  if (value.trim() !== value) return "no spaces at either end";
  return undefined;
}

/** Why `value` is not a valid stage id, or undefined when it is. */
export function stageIdProblem(value: unknown): string | undefined {
  const problem = nameProblem(value, 100);
  if (problem !== undefined) return problem;
  const id = value as string;
  if (id.includes("#")) return "no # in a stage id: it numbers a stage's visits (review#2); put the name with # in the title";
  if (id.startsWith("$")) return "a stage id must not start with $ (kept for the runner's own steps)";
  return undefined;
}

/** What {@link uuidClashes} needs of a stage. */
interface NamedStage {
  readonly id: string;
  readonly uuid?: string;
}

/** Problems with stage uuids: used twice, or equal to another stage's id or title. */
export function uuidClashes(stages: readonly NamedStage[], titles: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const owner = new Map<string, string>();
  const ids = new Set(stages.map((s) => s.id));
  for (const s of stages) {
    if (s.uuid === undefined) continue;
    const other = owner.get(s.uuid);
    if (other !== undefined) problems.push(`stages "${other}" and "${s.id}" have the same uuid "${s.uuid}"`);
    owner.set(s.uuid, s.id);
    if (s.uuid !== s.id && ids.has(s.uuid)) problems.push(`stage "${s.id}" has the uuid "${s.uuid}", which is another stage's id`);
    const titled = titles.get(s.uuid);
    if (titled !== undefined && titled !== s.id) problems.push(`stage "${s.id}" has the uuid "${s.uuid}", which is stage "${titled}"'s title`);
  }
  return problems;
}

/** What {@link pathwayName} needs of a stage. */
interface StageWithPathways {
  readonly pathways: readonly { readonly name: string; readonly uuid?: string }[];
}

/** The name of the stage's pathway with this name or uuid; undefined when it has none. */
export function pathwayName(stage: StageWithPathways, nameOrUuid: string): string | undefined {
  return (stage.pathways.find((p) => p.name === nameOrUuid) ?? stage.pathways.find((p) => p.uuid !== undefined && p.uuid === nameOrUuid))?.name;
}
