/**
 * `taskloom schedule add|ls|pause|resume|rm|history`: schedules kept in
 * the store folder (`<dir>/schedules/`), fired by `taskloom scheduler
 * start` (or any `Scheduler` on the same folder).
 *
 * `add` loads the module only to learn the graph's name (and to fail now
 * rather than at the first slot); it records the module's path and export
 * so the scheduler view can say what to start. It prints the new id on
 * stdout, so `id=$(taskloom schedule add …)` works.
 *
 * @module
 */
import {
  CATCH_UP_POLICIES,
  InvalidOptionError,
  SCHEDULE_STATUSES,
  getSchedule,
  listSchedules,
  removeSchedule,
  schedule,
  ScheduleNotFoundError,
  systemClock,
  type CatchUp,
  type HistoryRow,
  type ScheduleRecord,
  type ScheduleStatus,
} from "../../index.js";
import type { CommandContext } from "../context.js";
import { errorDetails, errorLine } from "../errors.js";
import { formatDuration } from "../../core/duration.js";
import { jsonOption } from "../execute-run.js";
import { loadGraph } from "../load-graph.js";
import { truncate } from "../../core/text.js";
import { formatTime, jsonText, table } from "../text.js";

/** Options of `taskloom schedule add`. */
export interface ScheduleAddOptions {
  readonly when?: string | undefined;
  readonly cron?: string | undefined;
  readonly repeat?: string | undefined;
  readonly times?: string | undefined;
  readonly until?: string | undefined;
  readonly catchUp?: string | undefined;
  readonly timezone?: string | undefined;
  readonly callback?: string | undefined;
  readonly callbackSecret?: string | undefined;
  readonly inputs?: string | undefined;
  readonly inputsFile?: string | undefined;
  readonly export?: string | undefined;
  readonly runIdPrefix?: string | undefined;
  readonly id?: string | undefined;
}

/** Runs `schedule add`; resolves to the exit code. */
export async function scheduleAddCommand(ctx: CommandContext, modulePath: string, options: ScheduleAddOptions): Promise<number> {
  if ((options.when === undefined) === (options.cron === undefined)) {
    throw new InvalidOptionError("--when", 'or --cron is required, and only one of them (e.g. --when "tomorrow at 9am", --when 5m, --cron "0 9 * * 1-5")');
  }
  const times = options.times === undefined ? undefined : /^\d+$/.test(options.times.trim()) ? Number(options.times) : NaN;
  if (times !== undefined && !(Number.isSafeInteger(times) && times >= 1))
    throw new InvalidOptionError("--times", `must be a whole number of at least 1 (got "${options.times}")`);
  if (options.catchUp !== undefined && !(CATCH_UP_POLICIES as readonly string[]).includes(options.catchUp)) {
    throw new InvalidOptionError("--catch-up", `must be one of ${CATCH_UP_POLICIES.join(", ")} (got "${options.catchUp}")`);
  }
  const inputs = jsonOption("--inputs", options.inputs, "--inputs-file", options.inputsFile, ctx.io.cwd);
  const repeat =
    options.repeat !== undefined || times !== undefined || options.until !== undefined
      ? {
          ...(options.repeat !== undefined && { every: options.repeat }),
          ...(times !== undefined && { times }),
          ...(options.until !== undefined && { until: options.until }),
        }
      : undefined;
  const secret = options.callbackSecret ?? (options.callback !== undefined ? ctx.io.env.TASKLOOM_CALLBACK_SECRET || undefined : undefined);
  const loaded = await loadGraph(modulePath, { exportName: options.export, cwd: ctx.io.cwd });
  const job = await schedule(loaded.graph, inputs, {
    when: options.cron !== undefined ? { cron: options.cron } : (options.when ?? ""),
    ...(repeat !== undefined && { repeat }),
    ...(options.catchUp !== undefined && { catchUp: options.catchUp as CatchUp }),
    ...(options.timezone !== undefined && { timezone: options.timezone }),
    ...(options.callback !== undefined && { callbackUrl: options.callback }),
    ...(secret !== undefined && { callbackSecret: secret }),
    ...(options.runIdPrefix !== undefined && { runIdPrefix: options.runIdPrefix }),
    ...(options.id !== undefined && { id: options.id }),
    modulePath: loaded.file,
    exportName: loaded.exportName,
    store: ctx.store(),
    clock: { ...systemClock, now: () => ctx.io.now() },
  });
  const next = job.nextRunAt?.getTime();
  ctx.io.err.write(
    `scheduled ${job.id} · graph ${loaded.graph.name} · ${describeRule(job.record)} · next run ${formatTime(next)}${next !== undefined ? ` (in ${formatDuration(Math.max(0, next - ctx.io.now()))})` : ""}\n` +
      `runs fire while a scheduler runs on this store: ${ctx.suggest(["scheduler", "start", modulePath])}\n`,
  );
  ctx.io.out.write(`${job.id}\n`);
  return 0;
}

/** Options of `taskloom schedule ls`. */
export interface ScheduleLsOptions {
  readonly status?: string | undefined;
  readonly json?: boolean | undefined;
}

/** Runs `schedule ls`; resolves to the exit code. */
export async function scheduleLsCommand(ctx: CommandContext, options: ScheduleLsOptions): Promise<number> {
  const status = parseScheduleStatuses(options.status);
  // A schedule whose file cannot be read is skipped with a line on stderr; the others are listed.
  const jobs = await listSchedules({
    store: ctx.store(),
    ...(status !== undefined && { status }),
    onProblem: (p) => ctx.io.err.write(`warning[${p.error.code}]: skipped schedule ${p.scheduleId}: ${p.error.message}\n`),
  });
  if (options.json) {
    ctx.io.out.write(`${jsonText(jobs.map((j) => publicRecord(j.record)))}\n`);
    return 0;
  }
  if (jobs.length === 0) {
    ctx.io.err.write(`no${status ? ` ${status.join(" or ")}` : ""} schedules in ${ctx.dir}\n`);
    return 0;
  }
  const rows = jobs.map(({ record: r }) => {
    const last = [...r.history].reverse().find((x) => x.kind === "run");
    return [
      r.id,
      r.graphName,
      r.status,
      truncate(describeRule(r), 40),
      r.status === "active" || r.status === "paused" ? formatTime(r.nextRunAt) : "-",
      String(r.fired),
      last?.kind === "run" ? `${last.status} ${formatTime(last.slot)}` : "-",
    ];
  });
  ctx.io.out.write(`${table(["ID", "GRAPH", "STATUS", "WHEN", "NEXT RUN", "RUNS", "LAST"], rows)}\n`);
  return 0;
}

/**
 * Runs `schedule pause|resume|rm`; resolves to the exit code. Every id is
 * tried, as `taskloom rm` does: one that fails (unknown, already paused)
 * is its own error line while the others are changed, and the exit code
 * is 1 when any failed.
 */
export async function scheduleChangeCommand(ctx: CommandContext, action: "pause" | "resume" | "rm", ids: readonly string[]): Promise<number> {
  let failed = false;
  for (const id of ids) {
    try {
      await changeSchedule(ctx, action, id);
    } catch (err) {
      ctx.io.err.write(`${errorLine(err, ctx.verbose)}\n`);
      if (ctx.verbose) ctx.io.err.write(`${errorDetails(err)}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

async function changeSchedule(ctx: CommandContext, action: "pause" | "resume" | "rm", id: string): Promise<void> {
  if (action === "rm") {
    if (!(await removeSchedule(id, { store: ctx.store() }))) throw new ScheduleNotFoundError(id);
    ctx.io.err.write(`removed ${id} (its runs stay in the store)\n`);
    return;
  }
  const job = await getSchedule(id, { store: ctx.store() });
  if (action === "pause") await job.pause();
  else await job.resume();
  ctx.io.err.write(
    `${action === "pause" ? "paused" : "resumed"} ${id}${action === "resume" && job.nextRunAt ? ` · next run ${formatTime(job.nextRunAt.getTime())}` : ""}\n`,
  );
}

/** Options of `taskloom schedule history`. */
export interface ScheduleHistoryOptions {
  readonly limit?: string | undefined;
  readonly json?: boolean | undefined;
}

/** Runs `schedule history`; resolves to the exit code. */
export async function scheduleHistoryCommand(ctx: CommandContext, id: string, options: ScheduleHistoryOptions): Promise<number> {
  const limit = options.limit === undefined ? 20 : /^\d+$/.test(options.limit.trim()) ? Number(options.limit) : NaN;
  if (!(Number.isSafeInteger(limit) && limit >= 1)) throw new InvalidOptionError("--limit", `must be a whole number of at least 1 (got "${options.limit}")`);
  const job = await getSchedule(id, { store: ctx.store() });
  const rows = await job.history({ limit });
  if (options.json) {
    ctx.io.out.write(`${jsonText(rows)}\n`);
    return 0;
  }
  ctx.io.err.write(
    `schedule ${id} · graph ${job.record.graphName} · ${job.status} · ${describeRule(job.record)} · next run ${formatTime(job.record.nextRunAt)}\n`,
  );
  if (rows.length === 0) {
    ctx.io.err.write("no slot has fired yet\n");
    return 0;
  }
  ctx.io.out.write(`${table(["SLOT", "RUN ID", "STATUS", "DURATION", "CALLBACK", "DETAIL"], rows.map(historyCells))}\n`);
  return 0;
}

function historyCells(row: HistoryRow): string[] {
  switch (row.kind) {
    case "run": {
      const cb = row.callback;
      const callback =
        cb === undefined
          ? "-"
          : `${cb.delivered ? "delivered" : cb.done ? "failed" : "pending"} (${cb.attempts.map((a) => a.status ?? a.error ?? "?").join(", ") || "0 attempts"})`;
      return [
        formatTime(row.slot),
        row.runId,
        row.status,
        row.durationMs === undefined ? "-" : formatDuration(row.durationMs),
        callback,
        row.error ? truncate(`${row.error.name}: ${row.error.message}`, 80) : "",
      ];
    }
    case "missed":
      return [
        formatTime(row.last),
        "-",
        "missed",
        "-",
        "-",
        `${row.count} slot${row.count === 1 ? "" : "s"} from ${formatTime(row.first)} dropped (catch-up "${row.policy}")`,
      ];
    case "error":
      return [formatTime(row.slot), "-", "error", "-", "-", truncate(row.error.message, 100)];
  }
}

/** A one-line description of when a schedule fires. */
export function describeRule(r: ScheduleRecord): string {
  const base =
    r.when.kind === "cron" ? `cron "${r.when.cron}" (${r.timezone})` : r.everyMs !== undefined ? `every ${formatDuration(r.everyMs)}` : `once, ${r.whenText}`;
  const extra = [r.times !== undefined ? `${r.times} times` : "", r.until !== undefined ? `until ${formatTime(r.until)}` : ""].filter(Boolean);
  return extra.length ? `${base}, ${extra.join(", ")}` : base;
}

/** A record without its callback secret, for printing. */
function publicRecord(r: ScheduleRecord): Omit<ScheduleRecord, "callbackSecret" | "lease"> & { callbackSigned: boolean } {
  const { callbackSecret, lease: _lease, ...rest } = r;
  return { ...rest, callbackSigned: callbackSecret !== undefined };
}

function parseScheduleStatuses(text: string | undefined): ScheduleStatus[] | undefined {
  if (text === undefined) return undefined;
  const list = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((s) => !(SCHEDULE_STATUSES as readonly string[]).includes(s));
  if (list.length === 0 || bad.length > 0) {
    throw new InvalidOptionError("--status", `must be one or more of ${SCHEDULE_STATUSES.join(", ")}, separated by commas (got "${text}")`);
  }
  return list as ScheduleStatus[];
}
