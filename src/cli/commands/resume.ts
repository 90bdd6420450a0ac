/**
 * `taskloom resume <run-id> <module>`: continues a stored run with its
 * stored inputs; succeeded nodes do not run again.
 *
 * @module
 */
import { assertRunId, getRun } from "../../index.js";
import type { CommandContext } from "../context.js";
import { executeRun, graphArgs, runOptionsFrom, type RunFlags } from "../execute-run.js";
import { loadGraph } from "../load-graph.js";

/** Options of `taskloom resume`. */
export interface ResumeCommandOptions extends RunFlags {
  readonly export?: string | undefined;
}

/** Runs the command; resolves to the exit code (0 done, 2 waiting). */
export async function resumeCommand(ctx: CommandContext, runId: string, modulePath: string, options: ResumeCommandOptions): Promise<number> {
  assertRunId(runId);
  const runOptions = runOptionsFrom(options);
  // runAsync with an unknown id would start a new run; resuming one that does not exist is a mistake.
  await getRun(runId, { store: ctx.store() });
  const loaded = await loadGraph(modulePath, { exportName: options.export, cwd: ctx.io.cwd });
  return executeRun(ctx, loaded, undefined, { ...runOptions, runId }, graphArgs(modulePath, options.export));
}
