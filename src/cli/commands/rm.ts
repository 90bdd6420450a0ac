/**
 * `taskloom rm <run-id...>`: deletes stored runs. Every id is tried: a run
 * that a live process drives is refused (`RUN_LOCKED`, with the command to
 * run once it is free), an unknown id is an error, and either is printed
 * as its own error line while the other runs are removed; the exit code is
 * 1 when any id failed. So `rm a b c` run twice does what it can each time.
 *
 * @module
 */
import { assertRunId, deleteRun, RunNotFoundError } from "../../index.js";
import type { CommandContext } from "../context.js";
import { AdvisedError, errorCode, errorDetails, errorLine, oneLine } from "../errors.js";

/** Runs the command; resolves to the exit code. */
export async function rmCommand(ctx: CommandContext, runIds: readonly string[]): Promise<number> {
  // A malformed id is a usage mistake: nothing is removed.
  for (const id of runIds) assertRunId(id);
  let failed = false;
  for (const id of runIds) {
    try {
      if (!(await deleteRun(id, { store: ctx.store() }))) throw new RunNotFoundError(id);
      ctx.io.err.write(`removed ${id}\n`);
    } catch (err) {
      const error = withRmAdvice(ctx, err, id);
      ctx.io.err.write(`${errorLine(error, ctx.verbose)}\n`);
      if (ctx.verbose) ctx.io.err.write(`${errorDetails(error)}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

/** A RUN_LOCKED error with the command line's advice in place of the API's ("call runAsync again"). */
function withRmAdvice(ctx: CommandContext, err: unknown, id: string): unknown {
  if (errorCode(err) !== "RUN_LOCKED") return err;
  const text = oneLine(err).replace(/,? then call runAsync again\.$/, "");
  return new AdvisedError(err, `${text}; then remove it with: ${ctx.suggest(["rm", id])} (or stop it first: ${ctx.suggest(["cancel", id])})`);
}
