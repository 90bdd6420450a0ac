/**
 * `runner.cli(argv)`: a stage runner as a command. The flags map one to
 * one onto `runAsync` options and are checked at the boundary: a bad
 * value is one line, `error[INVALID_OPTION]: …`, and exit code 1.
 *
 * Progress goes to stderr: on a terminal one line redrawn in place with
 * the tasks done per stage; elsewhere (a pipe, a CI log) one plain line
 * per move and per failure. The report goes to stdout as JSON. With
 * `--refresh-every`, the runner sweeps until SIGINT or SIGTERM, then
 * finishes the batch in hand and prints the report.
 *
 * commander is loaded on first use (`core/lazy-module.ts`), so importing
 * taskloom does not pay for it.
 *
 * @module
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { parseDuration } from "../core/duration.js";
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { lazyModule } from "../core/lazy-module.js";
import { truncate } from "../core/text.js";
import { InvalidOptionError, isTaskloomError } from "../errors.js";
import type { StageEventMap, StageEvents } from "./stage-events.js";
import type { StageRunOptions, StageRunReport } from "./stage-run-options.js";
import { JsonFileTaskSource } from "./task-source.js";
import { runTasksCli, type TasksCliRunner } from "./stage-tasks-cli.js";
import type { Workflow } from "./workflow.js";

/** Where the command writes: a stream, with `isTTY` and `columns` when it is a terminal. */
export interface StageOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** The streams and surroundings of `runner.cli`, injectable for tests. */
export interface StageCliIO {
  /** The JSON report. */
  readonly out: StageOutput;
  /** Progress, help and errors. */
  readonly err: StageOutput;
  /** The folder `--tasks` is resolved against. @default process.cwd() */
  readonly cwd?: string;
  /** Stops a `--refresh-every` runner. @default SIGINT or SIGTERM */
  readonly signal?: AbortSignal;
}

/** The command's options, parsed and checked. */
export interface StageCliOptions {
  readonly runId: string | undefined;
  readonly numRetries: number;
  readonly maxConcurrency: number;
  readonly batchSize: number;
  readonly maxTasksPerStage: number | undefined;
  readonly refreshEveryMs: number | undefined;
  readonly tasks: string;
}

const commander = lazyModule<typeof import("commander")>("commander");

const int =
  (min: number) =>
  (text: string): number => {
    if (!/^\d+$/.test(text.trim()) || Number(text) < min)
      throw new (commander().InvalidArgumentError)(`must be a whole number of at least ${min} (got "${text}")`);
    return Number(text);
  };

/**
 * `--refresh-every`: a bare number is SECONDS, as in the runners users come from (`3600` is an hour);
 * a duration with a unit (`90s`, `5m`, `1h`, `500ms`) says its own unit. The result is milliseconds.
 */
export function parseRefreshEvery(text: string): number {
  let ms: number;
  try {
    ms = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) * 1_000 : parseDuration(text, "--refresh-every");
  } catch {
    throw new (commander().InvalidArgumentError)(`must be seconds (a bare number, 3600 is an hour) or a duration such as 90s, 5m or 1h (got "${text}")`);
  }
  if (!(ms > 0)) throw new (commander().InvalidArgumentError)(`must be above 0 (got "${text}")`);
  if (!Number.isFinite(ms)) throw new (commander().InvalidArgumentError)(`must be a finite period (got "${text}")`);
  return ms;
}

/** A period for people: `1h`, `1h 30m`, `90s` → `1m 30s`, `500ms`. */
export function formatPeriod(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1_000);
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (rest >= size) parts.push(`${Math.floor(rest / size)}${unit}`);
    rest %= size;
  }
  return parts.join(" ");
}

function program(name: string, io: StageCliIO): Command {
  return new (commander().Command)(name)
    .description("Run tasks through the workflow's stages, durably; the same --run-id resumes. `tasks --help`: list a run's tasks.")
    .requiredOption("--tasks <file>", "the tasks: a JSON file with an array of { id, data } (moves are written back to it)")
    .option("--run-id <id>", "the runner run id (the same id resumes; default: a new one, printed)")
    .option("--num-retries <n>", "retries of a failed agent call", int(0), 3)
    .option("--max-concurrency <n>", "agent calls at once, across all tasks", int(1), 8)
    .option("--batch-size <n>", "tasks processed together, one write to the tasks file per batch", int(1), 300)
    .option("--task-batch-size <n>", "the same as --batch-size", int(1))
    .option("--max-tasks-per-stage <n>", "at most this many tasks per stage per sweep", int(1))
    .option("--refresh-every <duration>", "sweep again this often until Ctrl-C: seconds (3600 is an hour), or 90s, 5m, 1h", parseRefreshEvery)
    .helpOption("-h, --help", "show this help")
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.err.write(s),
      writeErr: (s) => void io.err.write(s),
      outputError: () => undefined,
    });
}

/**
 * Parses the command's arguments. Resolves to the options, or to `"help"`
 * when help was printed; throws `InvalidOptionError` for a bad flag.
 *
 * @example
 * ```ts
 * parseStageArgs(["--tasks", "tasks.json", "--max-concurrency", "4"], "labeling", io);
 * ```
 */
export function parseStageArgs(argv: readonly string[], name: string, io: StageCliIO): StageCliOptions | "help" {
  const cmd = program(name, io);
  try {
    cmd.parse([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof commander().CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.help") return "help";
      const flag = /'(--[a-z-]+)/.exec(error.message)?.[1];
      if (error.code === "commander.invalidArgument" && flag) throw new InvalidOptionError(flag, error.message.replace(/^.*? is invalid\. /, ""));
      if (error.code === "commander.unknownOption" && flag) throw new InvalidOptionError(flag, "is not an option of this command (see --help)");
      if (error.code === "commander.missingMandatoryOptionValue" && flag) throw new InvalidOptionError(flag, "is required (the JSON file of tasks)");
      throw new InvalidOptionError("arguments", error.message.replace(/^error: /, ""));
    }
    throw error;
  }
  const o = cmd.opts<{
    tasks: string;
    runId?: string;
    numRetries: number;
    maxConcurrency: number;
    batchSize: number;
    taskBatchSize?: number;
    maxTasksPerStage?: number;
    refreshEvery?: number;
  }>();
  const batchSizeGiven = cmd.getOptionValueSource("batchSize") === "cli";
  if (o.taskBatchSize !== undefined && batchSizeGiven && o.taskBatchSize !== o.batchSize) {
    throw new InvalidOptionError("--task-batch-size", `is another name of --batch-size; give one of them (got ${o.taskBatchSize} and ${o.batchSize})`);
  }
  return {
    runId: o.runId,
    numRetries: o.numRetries,
    maxConcurrency: o.maxConcurrency,
    batchSize: o.taskBatchSize ?? o.batchSize,
    maxTasksPerStage: o.maxTasksPerStage,
    refreshEveryMs: o.refreshEvery,
    tasks: o.tasks,
  };
}

/**
 * What the command needs of a stage runner. `StageRunner` is one; naming the
 * port here lets `stage-runner.ts` import this module without a cycle.
 */
export interface StageCliRunner extends TasksCliRunner {
  readonly workflow: Workflow;
  readonly events: StageEvents;
  runAsync(options: StageRunOptions): Promise<StageRunReport>;
}

/** Runs the command for `runner`; resolves to the exit code. */
export async function runStageCli(runner: StageCliRunner, argv: readonly string[], io?: StageCliIO): Promise<number> {
  if (io !== undefined) assertKnownKeys("StageRunner.cli io", io, optionKeys<StageCliIO>({ out: true, err: true, cwd: true, signal: true }));
  const streams: StageCliIO = io ?? { out: process.stdout, err: process.stderr };
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === "string")) {
    const error = new InvalidOptionError("argv", "must be an array of strings, such as process.argv.slice(2)");
    streams.err.write(`error[${error.code}]: ${error.message}\n`);
    return 1;
  }
  if (argv[0] === "tasks") return runTasksCli(runner, argv.slice(1), streams);
  let stop: (() => void) | undefined;
  try {
    const parsed = parseStageArgs(argv, runner.workflow.name, streams);
    if (parsed === "help") return 0;
    if (parsed.refreshEveryMs !== undefined) {
      // Said once, in words, so a period in the wrong unit cannot go unnoticed.
      streams.err.write(`sweeping every ${formatPeriod(parsed.refreshEveryMs)} until Ctrl-C\n`);
    }
    let signal = streams.signal;
    if (!signal && parsed.refreshEveryMs !== undefined) {
      const controller = new AbortController();
      const onSignal = (): void => controller.abort("stopped by a signal");
      process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
      stop = () => void process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
      signal = controller.signal;
    }
    const options: StageRunOptions = {
      tasks: new JsonFileTaskSource(resolve(streams.cwd ?? process.cwd(), parsed.tasks)),
      numRetries: parsed.numRetries,
      maxConcurrency: parsed.maxConcurrency,
      batchSize: parsed.batchSize,
      ...(parsed.runId !== undefined && { runId: parsed.runId }),
      ...(parsed.maxTasksPerStage !== undefined && { maxTasksPerStage: parsed.maxTasksPerStage }),
      ...(parsed.refreshEveryMs !== undefined && { refreshEveryMs: parsed.refreshEveryMs }),
      ...(signal !== undefined && { signal }),
    };
    const progress = new StageProgress(streams.err, runner.workflow);
    progress.attach(runner.events);
    let report;
    try {
      report = await runner.runAsync(options);
    } finally {
      progress.finish();
    }
    streams.out.write(
      `${JSON.stringify(
        {
          runId: report.runId,
          sweeps: report.sweeps,
          completed: report.completed,
          waiting: report.waiting,
          byStage: report.byStage,
          failed: report.failed.map((f) => ({ taskId: f.taskId, stageId: f.stageId, error: f.error })),
        },
        null,
        2,
      )}\n`,
    );
    return report.failed.length > 0 ? 1 : 0;
  } catch (error) {
    const code = isTaskloomError(error) ? error.code : "UNEXPECTED";
    streams.err.write(`error[${code}]: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    stop?.();
  }
}

/**
 * Progress of a stage runner: tasks done per stage. On a terminal one
 * line redrawn in place; elsewhere one plain line per move and failure.
 *
 * @example
 * ```ts
 * const progress = new StageProgress(process.stderr, runner.workflow);
 * progress.attach(runner.events);
 * try { await runner.runAsync(options) } finally { progress.finish() }
 * ```
 */
export class StageProgress {
  readonly #stream: StageOutput;
  readonly #workflow: Workflow;
  readonly #live: boolean;
  /** Tasks that left each stage (non-final) or reached it (final), by stage id. */
  readonly done = new Map<string, number>();
  #failed = 0;
  #waiting = 0;
  #sweep = 0;
  #drawn = false;
  #detach: (() => void) | undefined;

  constructor(stream: StageOutput, workflow: Workflow, options: { live?: boolean } = {}) {
    this.#stream = stream;
    this.#workflow = workflow;
    this.#live = options.live ?? stream.isTTY === true;
    for (const s of workflow.stages) this.done.set(s.id, 0);
  }

  /** Starts listening to a runner's events. */
  attach(events: StageEvents): void {
    const onSweep = (e: StageEventMap["sweep:start"]): void => {
      this.#sweep = e.sweep;
      this.#waiting = 0;
      if (!this.#live) this.#line(`sweep ${e.sweep}: ${e.runnable} of ${e.tasks} tasks to process`);
      this.#draw();
    };
    const onMove = (e: StageEventMap["task:move"]): void => {
      this.done.set(e.from, (this.done.get(e.from) ?? 0) + 1);
      if (this.#workflow.stage(e.to)?.kind === "final") this.done.set(e.to, (this.done.get(e.to) ?? 0) + 1);
      if (!this.#live) this.#line(`${e.taskId} ${e.from} → ${e.to} (${e.pathway})`);
      this.#draw();
    };
    const onEnd = (e: StageEventMap["task:end"]): void => {
      if (e.task.state === "failed") {
        this.#failed++;
        this.#lasting(`✗ ${e.task.taskId} in ${e.task.stageId}: ${e.task.error?.name ?? "Error"}: ${e.task.error?.message ?? ""}`);
      }
      if (e.task.state === "waiting") this.#waiting++;
      this.#draw();
    };
    events.on("sweep:start", onSweep).on("task:move", onMove).on("task:end", onEnd);
    this.#detach = () => void events.off("sweep:start", onSweep).off("task:move", onMove).off("task:end", onEnd);
  }

  /** The live line: `sweep 1 · pre-label 120 · review 40 · complete 38 · 3 waiting · 1 failed`. */
  statusLine(): string {
    const stages = this.#workflow.stages.map((s) => `${s.id} ${this.done.get(s.id) ?? 0}`);
    return [`sweep ${this.#sweep}`, ...stages, `${this.#waiting} waiting`, `${this.#failed} failed`].join(" · ");
  }

  /** Stops listening and clears the live line. */
  finish(): void {
    this.#detach?.();
    this.#detach = undefined;
    if (this.#live && this.#drawn) this.#stream.write("\r\x1b[2K");
    this.#drawn = false;
  }

  #line(text: string): void {
    this.#stream.write(`${text}\n`);
  }

  #lasting(text: string): void {
    if (this.#live && this.#drawn) this.#stream.write("\r\x1b[2K");
    this.#drawn = false;
    this.#line(text);
  }

  #draw(): void {
    if (!this.#live) return;
    const columns = this.#stream.columns ?? 0;
    this.#stream.write(`\r\x1b[2K${truncate(this.statusLine(), columns > 20 ? columns - 1 : 100)}`);
    this.#drawn = true;
  }
}
