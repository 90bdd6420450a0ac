/**
 * The `taskloom` command line: the parser (commander) and the dispatch to
 * one module per command under `commands/`. {@link runCli} takes the
 * arguments and the streams and resolves to the exit code, so it can run
 * in process; `main.ts` is the executable that calls it.
 *
 * Exit codes: 0 done; 1 any error, printed as one line
 * `error[CODE]: message` (the stack only with `--verbose`); 2 a run that
 * stopped to wait for events (`run`, `resume`).
 *
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import { gcCommand } from "./commands/gc.js";
import { GRAPH_FORMATS, graphCommand } from "./commands/graph.js";
import { reportCommand, RENDERERS } from "./commands/report.js";
import { resolveCommand } from "./commands/resolve.js";
import { resumeCommand } from "./commands/resume.js";
import { rmCommand } from "./commands/rm.js";
import { cancelCommand } from "./commands/cancel.js";
import { runCommand } from "./commands/run.js";
import { runsCommand } from "./commands/runs.js";
import { SHOW_FORMATS, showCommand } from "./commands/show.js";
import { tasksCommand } from "./commands/tasks.js";
import { withTaskFilterOptions } from "../stages/stage-tasks-cli.js";
import { workerCommand } from "./commands/worker.js";
import { CommandContext, type CliIO, type GlobalOptions } from "./context.js";
import { CliError, errorDetails, errorLine } from "./errors.js";
import { registerScheduleCommands } from "./schedule-program.js";
import { ownVersion } from "./own-package.js";

const version = ownVersion();

/** The process's own streams and surroundings. */
export function processIO(): CliIO {
  return { out: process.stdout, err: process.stderr, cwd: process.cwd(), env: process.env, now: Date.now };
}

/** Builds the parser; `exit` receives each command's exit code. */
function buildProgram(io: CliIO, exit: (code: number) => void): Command {
  const program = new Command("taskloom");
  program
    .description("Run durable taskloom graphs and inspect, resume and report their stored runs.")
    .version(version, "-V, --version", "print the version")
    .option("--dir <path>", "the store folder (default: $TASKLOOM_DIR, else ./.taskloom)")
    .option("--verbose", "print stacks and causes with errors")
    .helpOption("-h, --help", "show help")
    // A command's own --help lists --dir and --verbose too: they work after the command name.
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.out.write(s),
      writeErr: (s) => void io.err.write(s),
      // Errors are printed once, in our one-line format, by runCli.
      outputError: () => undefined,
    });

  /** Wraps a command: a context from the global options, the exit code out, the store closed. */
  const act =
    <A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => Promise<number>) =>
    async (...args: unknown[]): Promise<void> => {
      const command = args[args.length - 1] as Command;
      const ctx = new CommandContext(io, command.optsWithGlobals<GlobalOptions>());
      try {
        exit(await fn(ctx, ...(args.slice(0, -1) as A)));
      } finally {
        await ctx.close();
      }
    };
  // A fresh Option per command: commander keeps per-command state on them.
  const exportOption = (): Option => new Option("--export <name>", "the module's export that holds the graph (default: default, else the only graph)");
  const runFlags = (cmd: Command): Command =>
    cmd
      .option("--max-concurrency <n>", "node bodies running at once (a number, or Infinity)")
      .option("--retries <n>", "retries per node after a failure (maxAttempts = n + 1)")
      .option("--allow-graph-change", "resume a run made by another version of the graph")
      .option("--timeout <duration>", "a deadline for the run, from now (e.g. 30m, 2h); a run that passed its deadline needs a new one to resume");

  runFlags(
    program
      .command("run")
      .description("run a module's graph with live progress; print its outputs as JSON (exit 2 when it waits)")
      .argument("<module>", "a .js/.mjs/.ts module exporting a graph")
      .addOption(exportOption())
      .option("--inputs <json>", "the graph inputs, as JSON")
      .option("--inputs-file <file>", "read the inputs from a JSON file (- for stdin)")
      .option("--run-id <id>", "the run id, to resume it later (default: run-<uuid>)"),
  ).action(act((ctx, modulePath: string, options: Parameters<typeof runCommand>[2]) => runCommand(ctx, modulePath, options)));

  runFlags(
    program
      .command("resume")
      .description("continue a stored run; succeeded nodes are not run again")
      .argument("<run-id>", "the stored run to continue (see taskloom runs)")
      .argument("<module>", "the module exporting the run's graph")
      .addOption(exportOption()),
  ).action(act((ctx, runId: string, modulePath: string, options: Parameters<typeof resumeCommand>[3]) => resumeCommand(ctx, runId, modulePath, options)));

  program
    .command("runs")
    .description("list stored runs, newest first")
    .option("--status <list>", "only these statuses, comma-separated (pending, running, waiting, succeeded, failed, cancelled)")
    .option("--json", "print JSON")
    .action(act((ctx, options: Parameters<typeof runsCommand>[1]) => runsCommand(ctx, options)));

  program
    .command("show")
    .description("one stored run: nodes, attempts, durations, errors and causes, open waits")
    .argument("<run-id>", "the stored run (see taskloom runs)")
    .argument("[module]", "the graph module, to draw edges with --format mermaid|dot")
    .option("--json", "print JSON (same as --format json)")
    .addOption(new Option("--format <format>", "output format").choices(SHOW_FORMATS))
    .addOption(exportOption())
    .action(
      act((ctx, runId: string, modulePath: string | undefined, options: Parameters<typeof showCommand>[3]) => showCommand(ctx, runId, modulePath, options)),
    );

  program
    .command("resolve")
    .description("deliver an event to a run waiting for <key>; then resume it")
    .argument("<run-id>", "the waiting run (see taskloom runs --status waiting)")
    .argument("<key>", "the key the run waits for (taskloom show <run-id> lists its open waits)")
    .option("--payload <json>", "the event's payload, as JSON (default: null)")
    .option("--payload-file <file>", "read the payload from a JSON file (- for stdin)")
    .option("--instance <mark>", "deliver only to the run with this mark (taskloom show prints it): refused if the run under <run-id> is a later run of the id")
    .action(act((ctx, runId: string, key: string, options: Parameters<typeof resolveCommand>[3]) => resolveCommand(ctx, runId, key, options)));

  program
    .command("graph")
    .description("print a module's graph structure")
    .argument("<module>", "a .js/.mjs/.ts module exporting a graph")
    .addOption(new Option("--format <format>", "output format").choices(GRAPH_FORMATS).default("mermaid"))
    .addOption(exportOption())
    .action(act((ctx, modulePath: string, options: Parameters<typeof graphCommand>[2]) => graphCommand(ctx, modulePath, options)));

  program
    .command("report")
    .description("write a self-contained HTML report of a run: graph coloured by status, timeline, errors")
    .argument("<run-id>", "the stored run (see taskloom runs)")
    .argument("[module]", "the graph module, to draw the graph's edges")
    .option("-o, --output <file>", "where to write it (- for stdout; default: <run-id>.html)")
    .addOption(new Option("--renderer <renderer>", "how to draw the graph").choices(RENDERERS).default("auto"))
    .addOption(exportOption())
    .action(
      act((ctx, runId: string, modulePath: string | undefined, options: Parameters<typeof reportCommand>[3]) => reportCommand(ctx, runId, modulePath, options)),
    );

  const tasks = program
    .command("tasks")
    .description("list a stage runner run's tasks from the store, without a sweep")
    .argument("<run-id>", "the runner run id")
    .requiredOption("--workflow <file>", "the workflow's JSON definition");
  withTaskFilterOptions(tasks).action(act((ctx, runId: string, options: Parameters<typeof tasksCommand>[2]) => tasksCommand(ctx, runId, options)));

  program
    .command("rm")
    .description("delete stored runs")
    .argument("<run-id...>", "the runs to delete (one or more ids)")
    .action(act((ctx, runIds: string[]) => rmCommand(ctx, runIds)));

  program
    .command("cancel")
    .description("cancel a run wherever it runs (the driving process stops it; a run nobody drives is marked cancelled)")
    .argument("<run-id>")
    .option("--reason <text>", "why (recorded in the run's error)")
    .option("--instance <mark>", "cancel only the run with this mark (taskloom show prints it): refused if the run under <run-id> is a later run of the id")
    .option("--json", "print JSON")
    .action(act((ctx, runId: string, options: Parameters<typeof cancelCommand>[2]) => cancelCommand(ctx, runId, options)));

  program
    .command("gc")
    .description("delete stored runs not updated for a while")
    .requiredOption("--older-than <age>", "e.g. 30d, 12h, 90m")
    .option("--status <list>", "only runs with these statuses, comma-separated")
    .option("--dry-run", "list what would be removed")
    .option("--json", "print JSON")
    .action(act((ctx, options: Parameters<typeof gcCommand>[1]) => gcCommand(ctx, options)));

  registerScheduleCommands(program, act, exportOption);
  program
    .command("worker")
    .description("run node bodies of a module's graphs for BullMQ coordinators (needs bullmq and ioredis)")
    .argument("<module>", "a .js/.mjs/.ts module exporting the graphs")
    .option("--redis <url>", "the Redis URL (default: $TASKLOOM_REDIS, else redis://127.0.0.1:6379)")
    .option("--concurrency <n>", "node bodies at once in this worker (default: 8)")
    .option("--queue <name>", "the BullMQ queue, as the coordinators' bullmqExecutor (default: taskloom)")
    .option("--prefix <prefix>", "the Redis key prefix, as the coordinators' (default: taskloom)")
    .action(act((ctx, modulePath: string, options: Parameters<typeof workerCommand>[2]) => workerCommand(ctx, modulePath, options)));

  pointUsageErrorsAtOwnHelp(program);
  return program;
}

/** `taskloom schedule add`: the command line that reaches `cmd`. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/**
 * Makes every command's usage errors name its own help page
 * (`see taskloom resume --help`): commander reports an error through the
 * command it arose in, so each command gets an exit override that tags
 * the error with its path.
 */
function pointUsageErrorsAtOwnHelp(cmd: Command): void {
  const path = commandPath(cmd);
  cmd.exitOverride((err) => {
    throw Object.assign(err, { commandPath: path });
  });
  for (const sub of cmd.commands) pointUsageErrorsAtOwnHelp(sub);
}

/**
 * Runs the command line `argv` (without `node` and the script) and
 * resolves to the exit code. Never throws: errors are printed on `io.err`.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(["runs", "--json"]);
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => void (code = c));
  const verbose = argv.includes("--verbose");
  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (err) {
    let error: unknown = err;
    if (err instanceof CommanderError) {
      // --help, --version, and help shown for a bare `taskloom`.
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return err.exitCode;
      const path = (err as CommanderError & { commandPath?: string }).commandPath ?? "taskloom";
      error = new CliError("USAGE", `${err.message.replace(/^error:\s*/i, "")} (see ${path} --help)`);
    }
    io.err.write(`${errorLine(error, verbose)}\n`);
    if (verbose) io.err.write(`${errorDetails(error)}\n`);
    return 1;
  }
}
