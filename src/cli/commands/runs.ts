/**
 * `taskloom runs`: the stored runs, newest first, as a table or JSON.
 *
 * @module
 */
import { InvalidOptionError, listRuns, RUN_STATUSES, type RunStatus } from "../../index.js";
import type { CommandContext } from "../context.js";
import { formatTime, jsonText, table } from "../text.js";

/** Options of `taskloom runs`. */
export interface RunsCommandOptions {
  readonly status?: string | undefined;
  readonly json?: boolean | undefined;
}

/** Parses `--status failed,cancelled`. */
export function parseStatuses(text: string | undefined, option = "--status"): RunStatus[] | undefined {
  if (text === undefined) return undefined;
  const list = text.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((s) => !(RUN_STATUSES as readonly string[]).includes(s));
  if (list.length === 0 || bad.length > 0) {
    throw new InvalidOptionError(option, `must be one or more of ${RUN_STATUSES.join(", ")}, separated by commas (got "${text}")`);
  }
  return list as RunStatus[];
}

/** Runs the command; resolves to the exit code. */
export async function runsCommand(ctx: CommandContext, options: RunsCommandOptions): Promise<number> {
  const status = parseStatuses(options.status);
  const runs = await listRuns({ store: ctx.store(), ...(status !== undefined && { status }) });
  if (options.json) {
    ctx.io.out.write(`${jsonText(runs)}\n`);
    return 0;
  }
  if (runs.length === 0) {
    ctx.io.err.write(`no${status ? ` ${status.join(" or ")}` : ""} runs in ${ctx.dir}\n`);
    return 0;
  }
  const rows = runs.map((r) => [
    r.runId,
    r.graphName,
    r.waits.length > 0 && r.status === "waiting" ? `waiting (${r.waits.length})` : r.status,
    `${r.settledCount}/${r.nodeCount}`,
    formatTime(r.createdAt),
    formatTime(r.updatedAt),
  ]);
  ctx.io.out.write(`${table(["RUN ID", "GRAPH", "STATUS", "NODES", "STARTED", "UPDATED"], rows)}\n`);
  return 0;
}
