/**
 * `taskloom runs`: the stored runs, newest first, as a table or JSON. A run
 * whose files are corrupt or unsafe is left out with a warning line on
 * stderr; the others are listed.
 *
 * @module
 */
import { InvalidOptionError, listRuns, RUN_STATUSES, type RunListing, type RunStatus, type StoreProblem } from "../../index.js";
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
  const rows = runs.map((r) => [r.runId, r.graphName, statusText(r), nodeCountText(r), formatTime(r.createdAt), formatTime(r.updatedAt)]);
  ctx.io.out.write(`${table(["RUN ID", "GRAPH", "STATUS", "NODES", "STARTED", "UPDATED"], rows)}\n`);
  const stuck = runs.filter((r) => r.liveness === "crashed" || r.liveness === "stalled");
  if (stuck.length > 0) {
    const example = stuck[0]?.runId ?? "<run-id>";
    ctx.io.err.write(
      `${stuck.length} run${stuck.length === 1 ? " has" : "s have"} no live process; continue one with: ${ctx.suggest(["resume", example, "<module>"])}\n`,
    );
  }
  return 0;
}

/**
 * The status a person should see: a run stored as running whose driver
 * died is `crashed`, one whose lease expired `stalled`; a waiting run
 * shows how many events it waits for.
 *
 * @example
 * ```ts
 * statusText({ status: "running", liveness: "crashed", waits: [] }); // "crashed"
 * ```
 */
export function statusText(r: Pick<RunListing, "status" | "liveness" | "waits">): string {
  if (r.liveness === "crashed" || r.liveness === "stalled") return r.liveness;
  return r.waits.length > 0 && r.status === "waiting" ? `waiting (${r.waits.length})` : r.status;
}

/**
 * Nodes done (succeeded or skipped) of all, and the failed ones: the same
 * counts `taskloom show` prints.
 *
 * @example
 * ```ts
 * nodeCountText({ settledCount: 3, nodeCount: 5, failedCount: 1 }); // "3/5, 1 failed"
 * ```
 */
export function nodeCountText(r: { readonly settledCount: number; readonly nodeCount: number; readonly failedCount: number }): string {
  return `${r.settledCount}/${r.nodeCount}${r.failedCount > 0 ? `, ${r.failedCount} failed` : ""}`;
}
