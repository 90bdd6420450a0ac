/**
 * Which agent stages a stage runner serves: the stages named in its
 * `serves` option, else the stages it has a registered agent for. Every
 * non-agent stage (human, final) is served by every runner.
 *
 * Invariants: `serves` names agent stages only (by id or title), checked
 * when the runner is made; a served stage must have an agent by the time
 * the runner runs. A runner with no agent at all serves no agent stage:
 * it is a coordinator whose agent stages are fed by queue workers
 * (`tasksAt`, `apply`) or served by other runners.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";
import type { AgentRegistry } from "./agents.js";
import { nameList, StageRegistrationError } from "./stage-errors.js";
import type { Workflow } from "./workflow.js";

/** The stage ids of a `serves` option; throws `InvalidOptionError` for anything but agent stages' ids or titles. */
export function servedStages(workflow: Workflow, serves: unknown): ReadonlySet<string> {
  const agentStages = workflow.stages.filter((s) => s.kind === "agent").map((s) => s.id);
  if (!Array.isArray(serves) || serves.length === 0) {
    throw new InvalidOptionError("serves", `must be a non-empty array of agent stage ids or titles (agent stages: ${nameList(agentStages)})`);
  }
  const ids = new Set<string>();
  for (const name of serves as unknown[]) {
    const stage = typeof name === "string" ? workflow.stage(name) : undefined;
    if (stage?.kind !== "agent") {
      throw new InvalidOptionError(
        "serves",
        `${JSON.stringify(name)} is not an agent stage of workflow "${workflow.name}" (agent stages: ${nameList(agentStages)})`,
      );
    }
    ids.add(stage.id);
  }
  return ids;
}

/** Whether a runner with these agents and `serves` calls the agent of `stageId`. */
export function servesStage(workflow: Workflow, agents: AgentRegistry, serves: ReadonlySet<string> | undefined, stageId: string): boolean {
  const stage = workflow.stage(stageId);
  if (stage?.kind !== "agent") return true;
  return serves ? serves.has(stage.id) : agents.get(stage.id) !== undefined;
}

/** Throws `StageRegistrationError` when a served stage has no agent. */
export function assertServable(agents: AgentRegistry, serves: ReadonlySet<string> | undefined): void {
  const unserved = [...(serves ?? [])].filter((id) => agents.get(id) === undefined);
  if (unserved.length > 0) {
    throw new StageRegistrationError(
      unserved[0] as string,
      `the runner serves ${nameList(unserved)} but has no agent for it; register one with runner.stage(id, fn)`,
    );
  }
}
