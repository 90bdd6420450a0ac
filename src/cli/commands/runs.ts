/**
 * `taskloom runs`: the stored runs, newest first, as a table or JSON. A run
 * whose files are corrupt or unsafe is left out with a warning line on
 * stderr; the others are listed.
 *
 * @module
 */
import { InvalidOptionError, listRuns, RUN_STATUSES, type RunStatus, type StoreProblem } from "../../index.js";
import type { CommandContext } from "../context.js";
import { errorCode, oneLine } from "../errors.js";
import { formatTime, jsonText, table } from "../text.js";

/** Options of `taskloom runs`. */
export interface RunsCommandOptions {
  readonly status?: string | undefined;
  readonly json?: boolean | undefined;
}

/** Parses `--status failed,cancelled`. */
export function parseStatuses(text: string | undefined, option = "--status"): RunStatus[] | undefined {
  if (text === undefined) return undefined;
  const list = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((s) => !(RUN_STATUSES as readonly string[]).includes(s));
  if (list.length === 0 || bad.length > 0) {
    throw new InvalidOptionError(option, `must be one or more of ${RUN_STATUSES.join(", ")}, separated by commas (got "${text}")`);
  }
  return list as RunStatus[];
}

/**
 * The line printed on stderr for a stored run that cannot be read or is
 * unsafe: the command goes on with the other runs.
 */
export function warningLine(problem: unknown, what = "skipped this run"): string {
  return `warning[${errorCode(problem)}]: ${what}: ${oneLine(problem)}\n`;
}

/** An `onProblem` for `listRuns` that prints {@link warningLine}. */
export function warnOnProblem(ctx: CommandContext): (problem: StoreProblem) => void {
  return (problem) => ctx.io.err.write(warningLine(problem));
}

/** Runs the command; resolves to the exit code. */
export async function runsCommand(ctx: CommandContext, options: RunsCommandOptions): Promise<number> {
  const status = parseStatuses(options.status);
  const runs = await listRuns({ store: ctx.store(), onProblem: warnOnProblem(ctx), ...(status !== undefined && { status }) });
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
