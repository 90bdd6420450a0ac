/**
 * What `run` and `resume` share: reading the run options given on the
 * command line, driving the run with live progress on stderr, and the
 * ending: the outputs as JSON on stdout and exit code 0; the open waits
 * and exit code 2 when the run stops to wait; anything else is thrown and
 * becomes one error line and exit code 1. Ctrl-C cancels the run (it is
 * saved as cancelled and can be resumed); a second Ctrl-C quits at once.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { getRun, InvalidOptionError, type PendingWait, type RetryOptions, type TaskGraph } from "../index.js";
import type { CommandContext } from "./context.js";
import { formatDuration, parseDurationText } from "../core/duration.js";
import { MAX_RUN_TIMEOUT_MS } from "../runner/run-options.js";
import { AdvisedError, errorCode, oneLine } from "./errors.js";
import { runnerFor, type LoadedGraph } from "./load-graph.js";
import { Progress } from "./progress.js";
import { formatTime, jsonText } from "./text.js";

/** Command-line options that become run options. */
export interface RunFlags {
  readonly maxConcurrency?: string | undefined;
  readonly retries?: string | undefined;
  readonly allowGraphChange?: boolean | undefined;
  readonly timeout?: string | undefined;
}

/** Run options the command line can set. */
export interface RunFlagOptions {
  maxConcurrency?: number;
  retry?: RetryOptions;
  allowGraphChange?: boolean;
  timeoutMs?: number;
}

/** The run options the flags ask for (`--retries N` is `retry.maxAttempts = N + 1`, `--timeout 30m` is `timeoutMs`). */
export function runOptionsFrom(flags: RunFlags): RunFlagOptions {
  const out: RunFlagOptions = {};
  if (flags.maxConcurrency !== undefined) {
    const text = flags.maxConcurrency.trim();
    const n = /^inf(inity)?$/i.test(text) ? Infinity : /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(n === Infinity || (Number.isSafeInteger(n) && n >= 1))) {
      throw new InvalidOptionError("--max-concurrency", `must be a whole number of at least 1, or Infinity (got "${flags.maxConcurrency}")`);
    }
    out.maxConcurrency = n;
  }
  if (flags.retries !== undefined) {
    const text = flags.retries.trim();
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(Number.isSafeInteger(n) && n >= 0)) {
      throw new InvalidOptionError("--retries", `must be a whole number of at least 0 (got "${flags.retries}")`);
    }
    out.retry = { maxAttempts: n + 1 };
  }
  if (flags.allowGraphChange === true) out.allowGraphChange = true;
  if (flags.timeout !== undefined) {
    const ms = parseDurationText(flags.timeout);
    if (ms === undefined || ms < 1 || ms > MAX_RUN_TIMEOUT_MS) {
      throw new InvalidOptionError("--timeout", `must be a duration from 1ms to 24d, such as 30m, 2h or 1d12h (got "${flags.timeout}")`);
    }
    out.timeoutMs = Math.round(ms);
  }
  return out;
}

/**
 * Parses a JSON option (`--inputs`, `--payload`) or reads it from a file
 * (`-` for stdin); `undefined` when neither is given.
 */
export function jsonOption(option: string, text: string | undefined, fileOption: string, file: string | undefined, cwd: string): unknown {
  if (text !== undefined && file !== undefined) throw new InvalidOptionError(option, `and ${fileOption} cannot be given together`);
  let source = text;
  let what = option;
  if (file !== undefined) {
    what = `${fileOption} ${file}`;
    try {
      source = file === "-" ? readFileSync(0, "utf8") : readFileSync(resolve(cwd, file), "utf8");
    } catch (err) {
      throw new InvalidOptionError(fileOption, `names a file that cannot be read (${(err as Error).message})`);
    }
  }
  if (source === undefined) return undefined;
  try {
    return JSON.parse(source) as unknown;
  } catch (err) {
    throw new InvalidOptionError(what, `is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * The words that name a graph on the command line, for the commands the
 * CLI suggests: the module, and `--export <name>` when one was given (a
 * resume without it would load another export and stop with GRAPH_CHANGED).
 */
export function graphArgs(modulePath: string, exportName: string | undefined): string[] {
  return exportName === undefined ? [modulePath] : [modulePath, "--export", exportName];
}

/** Runs (or resumes) a graph with progress; resolves to the exit code. `moduleArgs`: see {@link graphArgs}. */
export async function executeRun(
  ctx: CommandContext,
  loaded: LoadedGraph,
  inputs: unknown,
  options: { runId?: string | undefined } & RunFlagOptions,
  moduleArgs: readonly string[],
): Promise<number> {
  const run = await runnerFor(loaded);
  const { err, out } = ctx.io;
  const total = loaded.graph.nodeIds().length;
  const started = ctx.io.now();
  const handle = run(loaded.graph as TaskGraph, inputs, {
    ...(options.runId !== undefined && { runId: options.runId }),
    ...(options.maxConcurrency !== undefined && { maxConcurrency: options.maxConcurrency }),
    ...(options.retry !== undefined && { retry: options.retry }),
    ...(options.allowGraphChange !== undefined && { allowGraphChange: options.allowGraphChange }),
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    store: ctx.store(),
  });
  err.write(`run ${handle.runId} · graph ${loaded.graph.name} · ${total} node${total === 1 ? "" : "s"}\n`);
  const progress = new Progress(err, { total, now: () => ctx.io.now() });
  progress.attach(handle.events);

  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress.finish();
    err.write("cancelling the run (Ctrl-C again to quit at once)…\n");
    handle.cancel("interrupted (SIGINT)");
  };
  process.on("SIGINT", onSigint);
  try {
    const outputs = await handle.result();
    progress.finish();
    const c = progress.counts;
    const extra = [c.retries ? `${c.retries} ${c.retries === 1 ? "retry" : "retries"}` : ""].filter(Boolean).join(", ");
    err.write(`✓ run ${handle.runId} succeeded in ${formatDuration(ctx.io.now() - started)}${extra ? ` (${extra})` : ""}\n`);
    out.write(`${jsonText(outputs)}\n`);
    return 0;
  } catch (error) {
    progress.finish();
    if (errorCode(error) !== "PENDING_WAITS") throw await withCliAdvice(ctx, error, handle.runId, moduleArgs);
    const waits = (error as { waits?: readonly PendingWait[] }).waits ?? [];
    printWaits(ctx, handle.runId, waits, moduleArgs);
    out.write(`${jsonText({ runId: handle.runId, status: "waiting", waits })}\n`);
    return 2;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

/**
 * Advice in library messages that speaks the API (`runAsync`, option
 * objects), with what replaces it on the command line; the resume and
 * graph-change advice is then added by {@link withCliAdvice}.
 */
const API_ADVICE: readonly (readonly [RegExp, string])[] = [
  [/ ?Fix the cause and call runAsync again with runId "[^"]*": succeeded nodes are kept\.$/, ""],
  [/ ?Use a new runId, or pass \{ allowGraphChange: true \} to resume it with the new graph\.$/, ""],
  [/ ?Call runAsync with runId "[^"]*" to continue it\.$/, ""],
  [/ ?Pass the same inputs, omit them \(undefined\) to reuse the stored ones, or use a new runId\.$/, ""],
  [/ ?Resume it with runAsync\(graph, undefined, \{ runId: "[^"]*", timeoutMs \}\) to give it a new deadline\.$/, ""],
  [/call runAsync again/g, "run the command again"],
];

/**
 * The error a failed `run` or `resume` ends with, with the command line's
 * advice in place of the API's: for `GRAPH_CHANGED`, the
 * `--allow-graph-change` flag; for a run saved as failed or cancelled, the
 * `taskloom resume` command that continues it.
 */
async function withCliAdvice(ctx: CommandContext, error: unknown, runId: string, moduleArgs: readonly string[]): Promise<unknown> {
  const resume = ["resume", runId, ...moduleArgs];
  const original = oneLine(error);
  const text = API_ADVICE.reduce((t, [pattern, replacement]) => t.replace(pattern, replacement), original);
  if (errorCode(error) === "GRAPH_CHANGED") {
    return new AdvisedError(
      error,
      `${text} To continue it with this graph: ${ctx.suggest([...resume, "--allow-graph-change"])}; or start afresh with another --run-id.`,
    );
  }
  if (errorCode(error) === "RUN_INPUTS_MISMATCH") {
    return new AdvisedError(
      error,
      `${text} Pass the same --inputs, leave --inputs out to continue it with its stored ones (${ctx.suggest(resume)}), or start afresh with another --run-id.`,
    );
  }
  if (errorCode(error) === "RUN_TIMEOUT") {
    // Resumed without a new deadline, it would fail at once again.
    return new AdvisedError(error, `${text} Continue it with a new deadline (counted from the resume): ${ctx.suggest([...resume, "--timeout", "<duration>"])}`);
  }
  let status: string | undefined;
  try {
    status = (await getRun(runId, { store: ctx.store() })).status;
  } catch {
    status = undefined; // never stored (inputs refused, say), or unreadable: nothing to resume
  }
  if (status === "failed" || status === "cancelled") {
    return new AdvisedError(error, `${text} The run is saved as ${status}: fix the cause, then continue it with: ${ctx.suggest(resume)}`);
  }
  return text === original ? error : new AdvisedError(error, text);
}

function printWaits(ctx: CommandContext, runId: string, waits: readonly PendingWait[], moduleArgs: readonly string[]): void {
  const { err } = ctx.io;
  err.write(`⏸ run ${runId} is saved and waiting for ${waits.length} event${waits.length === 1 ? "" : "s"}:\n`);
  for (const w of waits) {
    const deadline = w.deadline !== undefined ? `, deadline ${formatTime(w.deadline)}` : "";
    err.write(`  ${w.key}  (node ${w.nodeId}, since ${formatTime(w.since)}${deadline})\n`);
  }
  const key = waits.length === 1 && waits[0] ? waits[0].key : "<key>";
  err.write(`resolve:  ${ctx.suggest(["resolve", runId, key, "--payload", "<json>"])}\n`);
  err.write(`continue: ${ctx.suggest(["resume", runId, ...moduleArgs])}\n`);
}
