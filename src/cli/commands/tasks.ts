/**
 * `taskloom tasks <run-id> --workflow <file>`: a stage runner run's tasks,
 * read from the store (`--dir`) without a sweep, filtered by stage,
 * status, state, assignee and id, as `runner.tasks(runId, filter)` does.
 * The workflow file is the JSON definition (`loadWorkflow`): it names the
 * stages a task can be in.
 *
 * @module
 */
import { resolve } from "node:path";
import { loadWorkflow, StageRunner } from "../../index.js";
import { formatTaskLines, taskFilterOf, type TaskQueryFlags } from "../../stages/stage-tasks-cli.js";
import type { CommandContext } from "../context.js";
import { jsonText } from "../text.js";

/** Options of `taskloom tasks`. */
export interface TasksCommandOptions extends TaskQueryFlags {
  readonly workflow: string;
  readonly json?: boolean | undefined;
}

/** Runs the command; resolves to the exit code. */
export async function tasksCommand(ctx: CommandContext, runId: string, options: TasksCommandOptions): Promise<number> {
  const workflow = await loadWorkflow(resolve(ctx.io.cwd, options.workflow));
  const runner = new StageRunner(workflow, { store: ctx.store() });
  const tasks = await runner.tasks(runId, taskFilterOf(options));
  ctx.io.out.write(options.json === true ? `${jsonText(tasks)}\n` : formatTaskLines(tasks));
  return 0;
}
