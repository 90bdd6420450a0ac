/**
 * `runner.cli(["tasks", …])`: a run's tasks from the store, without a
 * sweep, filtered as `runner.tasks(runId, filter)` filters them. One line
 * per task (`id  stage  status  state  assignee`), or JSON with `--json`.
 * The `taskloom tasks` command prints the same lines through
 * {@link formatTaskLines}.
 *
 * Exit code 0 (even when no task matches), 1 on a usage error, printed as
 * one line `error[INVALID_OPTION]: …`.
 *
 * @module
 */
import type { Command } from "commander";
import { lazyModule } from "../core/lazy-module.js";
import { InvalidOptionError, isTaskloomError } from "../errors.js";
import type { TaskReport } from "./task-report.js";
import type { TaskFilter } from "./task-query.js";

/** What the command needs of a runner. */
export interface TasksCliRunner {
  tasks(runId: string, filter?: TaskFilter): Promise<TaskReport[]>;
}

/** Where the command writes. */
interface TasksIO {
  readonly out: { write(text: string): unknown };
  readonly err: { write(text: string): unknown };
}

/** The flags of a task query, as the commands take them. */
export interface TaskQueryFlags {
  readonly stage?: string;
  readonly status?: string;
  readonly state?: string;
  readonly assignee?: string;
  readonly id?: string;
}

const commander = lazyModule<typeof import("commander")>("commander");

/** A comma-separated flag as a list (one value stays a string). */
function listFlag(text: string | undefined): string | string[] | undefined {
  if (text === undefined) return undefined;
  const list = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return list.length === 1 ? list[0] : list;
}

/**
 * The filter the flags describe (lists are comma-separated); the values are checked by `runner.tasks`.
 *
 * @example
 * ```ts
 * taskFilterOf({ stage: "review", status: "NEW,REOPENED" }); // { stage: "review", status: ["NEW", "REOPENED"] }
 * ```
 */
export function taskFilterOf(flags: TaskQueryFlags): TaskFilter {
  const status = listFlag(flags.status);
  const state = listFlag(flags.state);
  const id = listFlag(flags.id);
  return {
    ...(flags.stage !== undefined && { stage: flags.stage }),
    ...(status !== undefined && { status: status as TaskFilter["status"] }),
    ...(state !== undefined && { state: state as TaskFilter["state"] }),
    ...(flags.assignee !== undefined && { assignee: flags.assignee }),
    ...(id !== undefined && { id }),
  };
}

/**
 * One aligned line per task: id, stage, status, state, assignee (or `-`), and the error when it failed.
 *
 * @example
 * ```ts
 * process.stdout.write(formatTaskLines(await runner.tasks("labeling-1", { stage: "review" })));
 * ```
 */
export function formatTaskLines(tasks: readonly TaskReport[]): string {
  if (tasks.length === 0) return "no tasks match\n";
  const rows = [["TASK", "STAGE", "STATUS", "STATE", "ASSIGNEE"], ...tasks.map((t) => [t.taskId, t.stageId, t.status, t.state, t.assignee ?? "-"])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  const lines = rows.map((r, n) => {
    const line = r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] as number))).join("  ");
    const error = n > 0 ? tasks[n - 1]?.error : undefined;
    return error ? `${line}  ${error.code ?? error.name}: ${error.message}` : line;
  });
  return `${lines.join("\n")}\n`;
}

/**
 * Adds the task filter options (`--stage`, `--status`, `--state`,
 * `--assignee`, `--id`) and `--json` to `command`: `runner.cli(["tasks"])`
 * and `taskloom tasks` take the same ones, read by {@link taskFilterOf}.
 */
export function withTaskFilterOptions(command: Command): Command {
  return command
    .option("--stage <stage>", "only tasks in this stage (id, title or uuid)")
    .option("--status <list>", "only these statuses, comma-separated (NEW, ASSIGNED, RELEASED, REOPENED, SKIPPED, COMPLETED)")
    .option("--state <list>", "only these states, comma-separated (waiting, queued, staying, failed, completed, interrupted)")
    .option("--assignee <name>", "only tasks assigned to this person")
    .option("--id <list>", "only these task ids, comma-separated")
    .option("--json", "print JSON");
}

function program(io: TasksIO): Command {
  const cmd = new (commander().Command)("tasks")
    .description("List a run's tasks from the store, without a sweep.")
    .requiredOption("--run-id <id>", "the runner run id");
  return withTaskFilterOptions(cmd)
    .helpOption("-h, --help", "show this help")
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.err.write(s), writeErr: (s) => void io.err.write(s), outputError: () => undefined });
}

/** Runs `tasks` for `runner`; resolves to the exit code. */
export async function runTasksCli(runner: TasksCliRunner, argv: readonly string[], io: TasksIO): Promise<number> {
  const cmd = program(io);
  try {
    try {
      cmd.parse([...argv], { from: "user" });
    } catch (error) {
      if (!(error instanceof commander().CommanderError)) throw error;
      if (error.code === "commander.helpDisplayed" || error.code === "commander.help") return 0;
      const flag = /'(--[a-z-]+)/.exec(error.message)?.[1] ?? "arguments";
      throw new InvalidOptionError(flag, error.message.replace(/^error: /, ""));
    }
    const o = cmd.opts<TaskQueryFlags & { runId: string; json?: boolean }>();
    const tasks = await runner.tasks(o.runId, taskFilterOf(o));
    // A BigInt in a task's data (the store keeps it exactly) is printed as its digits: JSON.stringify throws on it.
    const json = (): string => JSON.stringify(tasks, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value), 2);
    io.out.write(o.json === true ? `${json()}\n` : formatTaskLines(tasks));
    return 0;
  } catch (error) {
    const code = isTaskloomError(error) ? error.code : "UNEXPECTED";
    io.err.write(`error[${code}]: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
