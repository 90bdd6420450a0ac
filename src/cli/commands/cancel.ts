/**
 * `taskloom cancel <run-id> [--reason <text>] [--instance <mark>] [--json]`: cancels a run
 * wherever it runs (`cancelRun`): the process that drives it stops it
 * within a lease-renewal interval; a run nobody drives is marked
 * cancelled at once; its unfinished child runs are cancelled too. A run
 * that had ended already is left as it is (exit code 0, said so).
 *
 * @module
 */
import { cancelRun, type CancelRunResult } from "../../index.js";
import type { CommandContext } from "../context.js";
import { jsonText } from "../text.js";

/** Options of `taskloom cancel`. */
export interface CancelCommandOptions {
  readonly reason?: string | undefined;
  readonly json?: boolean | undefined;
  /** The run mark of the run to cancel (`cancelRun`'s `instance`). */
  readonly instance?: string | undefined;
}

/** Runs the command; resolves to the exit code. */
export async function cancelCommand(ctx: CommandContext, runId: string, options: CancelCommandOptions): Promise<number> {
  const result = await cancelRun(runId, {
    store: ctx.store(),
    ...(options.reason !== undefined && { reason: options.reason }),
    ...(options.instance !== undefined && { instance: options.instance }),
  });
  if (options.json) ctx.io.out.write(`${jsonText(result)}\n`);
  else for (const line of describeResult(result, "")) ctx.io.err.write(`${line}\n`);
  return 0;
}

function describeResult(result: CancelRunResult, indent: string): string[] {
  const what =
    result.by === "ended"
      ? `${result.runId} had ended already (${result.status})`
      : result.by === "driver"
        ? `${result.runId} ${result.status === "cancelled" ? "cancelled by the process that drove it" : `ended ${result.status} before the cancel reached it`}`
        : `${result.runId} cancelled (no process was driving it)`;
  return [`${indent}${what}`, ...result.children.flatMap((c) => describeResult(c, `${indent}  child `))];
}
