/**
 * `taskloom run <module>`: runs the module's graph, with live progress,
 * and prints its outputs as JSON.
 *
 * @module
 */
import { assertRunId, getRun } from "../../index.js";
import type { CommandContext } from "../context.js";
import { CliError, errorCode } from "../errors.js";
import { executeRun, graphArgs, jsonOption, runOptionsFrom, type RunFlags } from "../execute-run.js";
import { loadGraph } from "../load-graph.js";

/** Options of `taskloom run`. */
export interface RunCommandOptions extends RunFlags {
  readonly export?: string | undefined;
  readonly inputs?: string | undefined;
  readonly inputsFile?: string | undefined;
  readonly runId?: string | undefined;
}

/** True when `runId` names a stored run (which `run` then resumes with its stored inputs). */
async function storedRun(ctx: CommandContext, runId: string | undefined): Promise<boolean> {
  if (runId === undefined) return false;
  try {
    await getRun(runId, { store: ctx.store() });
    return true;
  } catch (err) {
    if (errorCode(err) === "RUN_NOT_FOUND") return false;
    throw err;
  }
}

/** Runs the command; resolves to the exit code (0 done, 2 waiting). */
export async function runCommand(ctx: CommandContext, modulePath: string, options: RunCommandOptions): Promise<number> {
  // Everything cheap to check is checked before the user's module is loaded.
  if (options.runId !== undefined) assertRunId(options.runId);
  const runOptions = runOptionsFrom(options);
  const inputs = jsonOption("--inputs", options.inputs, "--inputs-file", options.inputsFile, ctx.io.cwd);
  const loaded = await loadGraph(modulePath, { exportName: options.export, cwd: ctx.io.cwd });
  if (inputs === undefined && (loaded.graph as { inputs?: unknown }).inputs === "typed" && !(await storedRun(ctx, options.runId))) {
    // Nothing checks a type-only declaration at run time: the first node would fail on `inputs.x` and be retried for nothing.
    throw new CliError(
      "INPUTS_MISSING",
      `graph "${loaded.graph.name}" declares inputs (.input()) and none were given: pass them with --inputs '<json>' or --inputs-file <file> ` +
        `(--inputs null if it really takes none).`,
    );
  }
  return executeRun(ctx, loaded, inputs, { ...runOptions, runId: options.runId }, graphArgs(modulePath, options.export));
}
