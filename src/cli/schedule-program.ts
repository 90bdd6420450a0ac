/**
 * The `schedule` and `scheduler` commands, registered on the program by
 * `program.ts` (one call) so the schedule code lives apart from the run
 * commands.
 *
 * @module
 */
import { Command, Option } from "commander";
import { CATCH_UP_POLICIES } from "../index.js";
import {
  scheduleAddCommand,
  scheduleChangeCommand,
  scheduleHistoryCommand,
  scheduleLsCommand,
  type ScheduleAddOptions,
  type ScheduleHistoryOptions,
  type ScheduleLsOptions,
} from "./commands/schedule.js";
import { schedulerStartCommand, type SchedulerStartOptions } from "./commands/scheduler.js";
import type { CommandContext } from "./context.js";

/** Wraps a command function as a commander action (see `program.ts`). */
export type Act = <A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => Promise<number>) => (...args: unknown[]) => Promise<void>;

/** Adds `schedule …` and `scheduler start` to `program`. */
export function registerScheduleCommands(program: Command, act: Act, exportOption: () => Option): void {
  const scheduleCmd = program.command("schedule").description("add, list, pause, resume, remove scheduled runs and read their history");

  scheduleCmd
    .command("add")
    .description("schedule a module's graph: once, on a fixed rate, or on a cron pattern (prints the schedule id)")
    .argument("<module>", "a .js/.mjs/.ts module exporting a graph")
    .option("--when <when>", 'when: "now", a delay (90s, 5m, 2h, 1d), an ISO time, or a phrase ("tomorrow at 9am")')
    .option("--cron <pattern>", 'a cron pattern, 5 fields (or 6 with seconds first), e.g. "0 9 * * 1-5"')
    .option("--repeat <every>", "repeat at a fixed rate from the first run, e.g. 1h")
    .option("--times <n>", "at most n runs")
    .option("--until <time>", "no run after this time")
    .addOption(new Option("--catch-up <policy>", 'slots missed while no scheduler ran (default "one")').choices(CATCH_UP_POLICIES))
    .option("--timezone <tz>", "the IANA time zone for phrases, wall-clock times and cron (default: this machine's)")
    .option("--callback <url>", "POST each run's result to this URL")
    .option("--callback-secret <secret>", "sign callbacks with HMAC-SHA256 (default: $TASKLOOM_CALLBACK_SECRET when --callback is given)")
    .option("--inputs <json>", "the graph inputs, as JSON")
    .option("--inputs-file <file>", "read the inputs from a JSON file (- for stdin)")
    .option("--run-id-prefix <prefix>", "run ids are <prefix>-<slot> (default: the schedule id)")
    .option("--id <id>", "the schedule id (default: sch-<random>)")
    .addOption(exportOption())
    .action(act((ctx, modulePath: string, options: ScheduleAddOptions) => scheduleAddCommand(ctx, modulePath, options)));

  scheduleCmd
    .command("ls")
    .description("list schedules: status, when, next run, runs so far, last result")
    .option("--status <list>", "only these statuses, comma-separated (active, paused, cancelled, completed)")
    .option("--json", "print JSON (without callback secrets)")
    .action(act((ctx, options: ScheduleLsOptions) => scheduleLsCommand(ctx, options)));

  for (const action of ["pause", "resume", "rm"] as const) {
    const what = {
      pause: "stop firing slots until resumed",
      resume: "fire slots again (missed ones follow the catch-up policy)",
      rm: "delete schedules and their history (their runs stay)",
    }[action];
    scheduleCmd
      .command(action)
      .description(what)
      .argument("<id...>", "schedule ids (see taskloom schedule ls)")
      .action(act((ctx, ids: string[]) => scheduleChangeCommand(ctx, action, ids)));
  }

  scheduleCmd
    .command("history")
    .description("a schedule's fired slots, newest first: run id, status, duration, callback attempts, errors")
    .argument("<id>", "the schedule id (see taskloom schedule ls)")
    .option("--limit <n>", "at most n rows (default 20)")
    .option("--json", "print JSON")
    .action(act((ctx, id: string, options: ScheduleHistoryOptions) => scheduleHistoryCommand(ctx, id, options)));

  program
    .command("scheduler")
    .description("run the scheduler loop")
    .command("start")
    .description("fire the stored schedules of these modules' graphs, in the foreground, with a live view (Ctrl-C stops)")
    .argument("<module...>", "modules exporting the graphs to run")
    .addOption(exportOption())
    .option("--poll <duration>", "how often to read the store (default 1s)")
    .option("--exit-when-idle", "stop once no schedule of these graphs has work left")
    .action(act((ctx, modulePaths: string[], options: SchedulerStartOptions) => schedulerStartCommand(ctx, modulePaths, options)));
}
