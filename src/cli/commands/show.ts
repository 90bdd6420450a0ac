/**
 * `taskloom show <run-id> [module]`: one stored run, as text (per-node
 * status, attempts, durations, errors with their causes, open waits), as
 * JSON, or as a Mermaid or dot drawing coloured by status. The store does
 * not keep the graph's edges: give the module to draw them.
 *
 * @module
 */
import { assertRunId, getRun, InvalidOptionError, type ErrorRecord, type RunDetails } from "../../index.js";
import type { CommandContext } from "../context.js";
import { formatDuration } from "../../core/duration.js";
import { graphView, toDot, toMermaid, type GraphShape } from "../graph-format.js";
import { graphArgs } from "../execute-run.js";
import { loadGraph } from "../load-graph.js";
import { formatTime, jsonText, table, visible } from "../text.js";

/** Formats of `taskloom show`. */
export const SHOW_FORMATS = ["text", "json", "mermaid", "dot"] as const;

/** Options of `taskloom show`. */
export interface ShowCommandOptions {
  readonly json?: boolean | undefined;
  readonly format?: (typeof SHOW_FORMATS)[number] | undefined;
  readonly export?: string | undefined;
}

/** Loads the graph of `modulePath` to draw a stored run's edges; warns when it is not the graph the run was made by. */
export async function shapeForRun(
  ctx: CommandContext,
  run: RunDetails,
  modulePath: string | undefined,
  exportName: string | undefined,
): Promise<GraphShape | undefined> {
  if (modulePath === undefined) return undefined;
  const { graph } = await loadGraph(modulePath, { exportName, cwd: ctx.io.cwd });
  if (graph.fingerprint !== run.fingerprint) {
    ctx.io.err.write(
      `note: ${modulePath} has graph "${graph.name}" (fingerprint ${graph.fingerprint.slice(0, 12)}), the run was made by "${run.graphName}" ` +
        `(${run.fingerprint.slice(0, 12)}); its edges may not be the run's.\n`,
    );
  }
  return graph;
}

/** An error and its causes, indented under `indent`. */
export function errorLines(error: ErrorRecord, indent: string): string[] {
  const lines: string[] = [];
  let e: ErrorRecord | undefined = error;
  for (let depth = 0; e && depth < 8; depth++, e = e.cause) {
    const text = `${e.name}${e.code ? ` [${e.code}]` : ""}: ${visible(e.message.replace(/\s*\n\s*/g, " "))}`;
    lines.push(depth === 0 ? `${indent}${text}` : `${indent}${"  ".repeat(depth)}caused by ${text}`);
  }
  return lines;
}

/** The status line of `show`: a crashed or stalled run says so, who held it, and since when. */
function statusLine(run: RunDetails, now: number): string {
  const h = run.holder;
  switch (run.liveness) {
    case "crashed":
      return `crashed (stored as ${run.status}; its process${h ? ` ${h.pid} on ${h.host}` : ""} is gone)`;
    case "stalled":
      return h
        ? `stalled (stored as ${run.status}; the lease of process ${h.pid} on ${h.host} expired ${formatDuration(Math.max(0, now - h.expiresAt))} ago)`
        : `stalled (stored as ${run.status}; no process holds its lease)`;
    case "live":
      return h ? `${run.status} (process ${h.pid} on ${h.host})` : run.status;
    default:
      return run.status;
  }
}

/** The text form of a stored run (`now`: when the lease of a stalled run is measured from). */
export function runText(run: RunDetails, now: number = Date.now()): string {
  const done = run.nodes.filter((n) => n.status === "succeeded" || n.status === "skipped").length;
  const failedCount = run.nodes.filter((n) => n.status === "failed").length;
  const sessions = run.sessions ?? [];
  const first = sessions[0]?.startedAt;
  const across =
    sessions.length > 1 && first !== undefined && run.endedAt !== undefined
      ? `, ${formatDuration(run.endedAt - first)} since the first start over ${sessions.length} processes`
      : "";
  const took = run.startedAt !== undefined && run.endedAt !== undefined ? ` (took ${formatDuration(run.endedAt - run.startedAt)}${across})` : "";
  const out = [
    `run       ${run.runId}${run.instance === undefined ? "" : ` (mark ${run.instance})`}`,
    `graph     ${run.graphName} (fingerprint ${run.fingerprint.slice(0, 12)})`,
    `status    ${statusLine(run, now)}`,
    `nodes     ${done}/${run.nodes.length} done${failedCount > 0 ? `, ${failedCount} failed` : ""}`,
    `created   ${formatTime(run.createdAt)}`,
    `started   ${formatTime(run.startedAt)}${run.starts > 1 ? ` (start ${run.starts})` : ""}`,
    `ended     ${formatTime(run.endedAt)}${took}`,
  ];
  if (run.error) out.push(...errorLines(run.error, "").map((l, i) => `${i === 0 ? "error     " : "          "}${l}`));
  out.push("");
  const rows = run.nodes.map((n) => [
    n.id,
    n.status,
    String(n.attempts),
    n.startedAt !== undefined && n.endedAt !== undefined ? formatDuration(n.endedAt - n.startedAt) : "-",
    formatTime(n.startedAt),
    n.error ? `${n.error.name}: ${visible(n.error.message.replace(/\s*\n\s*/g, " "))}` : "",
  ]);
  out.push(table(["NODE", "STATUS", "ATTEMPTS", "DURATION", "STARTED", "ERROR"], rows));
  const failed = run.nodes.filter((n) => n.error);
  if (failed.length > 0) {
    out.push("", "errors");
    for (const n of failed)
      if (n.error) out.push(`  ${n.id} (${n.status}, ${n.attempts} attempt${n.attempts === 1 ? "" : "s"}):`, ...errorLines(n.error, "    "));
  }
  if (run.waits.length > 0) {
    out.push("", "open waits");
    out.push(
      table(
        ["  KEY", "NODE", "SINCE", "DEADLINE"],
        run.waits.map((w) => [`  ${w.key}`, w.nodeId, formatTime(w.since), formatTime(w.deadline)]),
      ),
    );
  }
  return out.join("\n");
}

/** Runs the command; resolves to the exit code. */
export async function showCommand(ctx: CommandContext, runId: string, modulePath: string | undefined, options: ShowCommandOptions): Promise<number> {
  assertRunId(runId);
  const format = options.json ? "json" : (options.format ?? "text");
  if (options.json && options.format !== undefined && options.format !== "json") {
    throw new InvalidOptionError("--json", `and --format ${options.format} cannot be given together`);
  }
  const run = await getRun(runId, { store: ctx.store(), order: "dependency" });
  const { out } = ctx.io;
  switch (format) {
    case "json":
      out.write(`${jsonText(run)}\n`);
      break;
    case "mermaid":
    case "dot": {
      const shape = await shapeForRun(ctx, run, modulePath, options.export);
      if (!shape)
        ctx.io.err.write(
          "note: the store does not keep the graph's edges; give the graph module to draw them: taskloom show <run-id> <module> --format " + format + "\n",
        );
      const view = graphView({ shape, records: run.nodes, name: run.graphName });
      out.write(`${format === "mermaid" ? toMermaid(view) : toDot(view)}\n`);
      break;
    }
    case "text":
      out.write(`${runText(run, ctx.io.now())}\n`);
      if (run.liveness === "crashed" || run.liveness === "stalled") {
        ctx.io.err.write(
          `no live process drives this run; continue it with: ${ctx.suggest(["resume", runId, ...(modulePath === undefined ? ["<module>"] : graphArgs(modulePath, options.export))])}\n`,
        );
      }
      break;
  }
  return 0;
}
