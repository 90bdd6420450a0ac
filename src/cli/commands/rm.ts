/**
 * `taskloom rm <run-id...>`: deletes stored runs. A run that a live
 * process drives is refused (`RUN_LOCKED`); an unknown id is an error.
 *
 * @module
 */
import { assertRunId, deleteRun, RunNotFoundError } from "../../index.js";
import type { CommandContext } from "../context.js";

/** Runs the command; resolves to the exit code. */
export async function rmCommand(ctx: CommandContext, runIds: readonly string[]): Promise<number> {
  for (const id of runIds) assertRunId(id);
  for (const id of runIds) {
    if (!(await deleteRun(id, { store: ctx.store() }))) throw new RunNotFoundError(id);
    ctx.io.err.write(`removed ${id}\n`);
  }
  return 0;
}
