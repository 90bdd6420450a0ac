/**
 * `taskloom resolve <run-id> <key>`: delivers an event to a waiting run;
 * `taskloom resume` then continues it.
 *
 * @module
 */
import { assertRunId, resolveWait } from "../../index.js";
import type { CommandContext } from "../context.js";
import { jsonOption } from "../execute-run.js";

/** Options of `taskloom resolve`. */
export interface ResolveCommandOptions {
  readonly payload?: string | undefined;
  readonly payloadFile?: string | undefined;
  /** The run mark the event is meant for (`resolveWait`'s `instance`). */
  readonly instance?: string | undefined;
}

/** Runs the command; resolves to the exit code. */
export async function resolveCommand(ctx: CommandContext, runId: string, key: string, options: ResolveCommandOptions): Promise<number> {
  assertRunId(runId);
  const payload = jsonOption("--payload", options.payload, "--payload-file", options.payloadFile, ctx.io.cwd) ?? null;
  await resolveWait(runId, key, payload, { store: ctx.store(), ...(options.instance !== undefined && { instance: options.instance }) });
  ctx.io.err.write(`resolved "${key}" of run ${runId}\ncontinue: ${ctx.suggest(["resume", runId, "<module>"])}\n`);
  return 0;
}
