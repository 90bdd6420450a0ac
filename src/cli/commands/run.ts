/**
 * `taskloom run <module>`: runs the module's graph, with live progress,
 * and prints its outputs as JSON.
 *
 * @module
 */
import { assertRunId } from "../../index.js";
import type { CommandContext } from "../context.js";
import { executeRun, jsonOption, runOptionsFrom, type RunFlags } from "../execute-run.js";
import { loadGraph } from "../load-graph.js";

/** Options of `taskloom run`. */
export interface RunCommandOptions extends RunFlags {
  readonly export?: string | undefined;
  readonly inputs?: string | undefined;
  readonly inputsFile?: string | undefined;
  readonly runId?: string | undefined;
}

/** Runs the command; resolves to the exit code (0 done, 2 waiting). */
export async function runCommand(ctx: CommandContext, modulePath: string, options: RunCommandOptions): Promise<number> {
  // Everything cheap to check is checked before the user's module is loaded.
  if (options.runId !== undefined) assertRunId(options.runId);
  const runOptions = runOptionsFrom(options);
  const inputs = jsonOption("--inputs", options.inputs, "--inputs-file", options.inputsFile, ctx.io.cwd);
  const loaded = await loadGraph(modulePath, { exportName: options.export, cwd: ctx.io.cwd });
  return executeRun(ctx, loaded, inputs, { ...runOptions, runId: options.runId }, modulePath);
}
