/**
 * `taskloom scheduler start <module...>`: runs a `Scheduler` in the
 * foreground on the store folder, with the modules' graphs, until Ctrl-C
 * (or SIGTERM), which stops it gracefully: running jobs finish and are
 * recorded, the leases are given back. A second Ctrl-C quits at once.
 *
 * The view: on a terminal, a block redrawn every second with the
 * upcoming slots and the running jobs, and lasting lines for what
 * happened (runs ended, missed slots, callbacks, errors). Elsewhere, only
 * the lasting lines, one per event.
 *
 * `--exit-when-idle` stops once no schedule of these graphs has anything
 * left to do (every one completed, cancelled or paused, no callback
 * pending): for scripts, smoke tests and CI.
 *
 * @module
 */
import { InvalidOptionError, type Scheduler as OwnScheduler, type SchedulerEventMap, type SchedulerJobView } from "../../index.js";
import { MAX_TIMER_MS } from "../../graph/retry-options.js";
import type { CommandContext } from "../context.js";
import { formatDuration, parseDuration } from "../../core/duration.js";
import { CliError } from "../errors.js";
import { copyFor, loadGraph, type LoadedGraph } from "../load-graph.js";
import { formatTime, table, visible } from "../text.js";

/** Options of `taskloom scheduler start`. */
export interface SchedulerStartOptions {
  readonly export?: string | undefined;
  readonly poll?: string | undefined;
  readonly exitWhenIdle?: boolean | undefined;
}

type SchedulerModule = {
  Scheduler: new (options: Record<string, unknown>) => OwnScheduler;
  LowdbStore: new (options: { dir: string }) => { close(): Promise<void> };
  listSchedules: (
    options: Record<string, unknown>,
  ) => Promise<{ record: { graphName: string; status: string; history: readonly { kind: string; endedAt?: number; callback?: { done: boolean } }[] } }[]>;
};

/** Runs the command; resolves to the exit code once the scheduler has stopped. */
export async function schedulerStartCommand(ctx: CommandContext, modulePaths: readonly string[], options: SchedulerStartOptions): Promise<number> {
  // Checked before any module is loaded; a timer cannot wait longer than MAX_TIMER_MS (it would fire at once, again and again).
  const pollMs = options.poll === undefined ? 1_000 : parseDuration(options.poll, "--poll");
  if (pollMs < 1 || pollMs > MAX_TIMER_MS) {
    throw new InvalidOptionError("--poll", `must be a duration from 1ms to 24d, such as 1s or 30s (got "${options.poll}")`);
  }
  const loaded: LoadedGraph[] = [];
  for (const path of modulePaths) loaded.push(await loadGraph(path, { exportName: options.export, cwd: ctx.io.cwd }));
  // The scheduler, its store and the graphs must come from one copy of taskloom (instanceof checks).
  const copies = await Promise.all(loaded.map((l) => copyFor(l)));
  const mod = copies[0] as unknown as SchedulerModule;
  if (copies.some((c) => c !== copies[0])) {
    throw new CliError("FOREIGN_GRAPH", "the modules' graphs were built by different copies of taskloom; give the scheduler modules that import the same one.");
  }
  const store = new mod.LowdbStore({ dir: ctx.dir });
  const names = new Set(loaded.map((l) => l.graph.name));
  const scheduler = new mod.Scheduler({ store, graphs: loaded.map((l) => l.graph), pollMs });
  const view = new SchedulerView(ctx, scheduler);
  view.attach();
  ctx.io.err.write(`scheduler on ${ctx.dir} · graphs ${[...names].join(", ")} · pid ${process.pid} (Ctrl-C stops it after the running jobs)\n`);

  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    view.note(`stopping (${why}); waiting for running jobs…`);
    void scheduler.stop().then(done, done);
  };
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    stop(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let idleTimer: NodeJS.Timeout | undefined;
  try {
    await scheduler.start();
    if (options.exitWhenIdle) {
      const check = async (): Promise<void> => {
        if (stopping) return;
        const jobs = await mod.listSchedules({ store });
        const busy = jobs.some(
          ({ record: r }) =>
            names.has(r.graphName) &&
            (r.status === "active" || r.history.some((x) => x.kind === "run" && (x.endedAt === undefined || (x.callback !== undefined && !x.callback.done)))),
        );
        if (!busy) stop("idle");
        else idleTimer = setTimeout(() => void check(), pollMs);
      };
      await check();
    }
    await finished;
  } finally {
    if (idleTimer) clearTimeout(idleTimer);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    view.detach();
    await store.close();
  }
  ctx.io.err.write("scheduler stopped\n");
  return 0;
}

/** The live view of a scheduler on stderr. */
class SchedulerView {
  readonly #ctx: CommandContext;
  readonly #scheduler: OwnScheduler;
  readonly #tty: boolean;
  #timer: NodeJS.Timeout | undefined;
  #drawn = 0;
  readonly #off: (() => void)[] = [];

  constructor(ctx: CommandContext, scheduler: OwnScheduler) {
    this.#ctx = ctx;
    this.#scheduler = scheduler;
    this.#tty = ctx.io.err.isTTY === true;
  }

  attach(): void {
    const on = <K extends keyof SchedulerEventMap>(name: K, fn: (e: SchedulerEventMap[K]) => string | undefined): void => {
      const listener = (e: SchedulerEventMap[K]): void => {
        const line = fn(e);
        if (line !== undefined) this.note(line);
      };
      this.#scheduler.events.on(name, listener as never);
      this.#off.push(() => this.#scheduler.events.off(name, listener as never));
    };
    on("schedule:acquired", (e) => `◆ ${e.scheduleId} held by this scheduler · next run ${formatTime(e.nextRunAt)}`);
    on("slot:start", (e) => `▶ ${e.scheduleId} slot ${formatTime(e.slot)} · run ${e.runId}${e.resumed ? " (resumed after a crash)" : ""}`);
    on("slot:end", (e) => {
      const mark = e.status === "succeeded" ? "✓" : e.status === "waiting" ? "⏸" : "✗";
      return `${mark} ${e.scheduleId} run ${e.runId} ${e.status} in ${formatDuration(e.durationMs)}${e.error ? ` · ${e.error.name}: ${visible(e.error.message)}` : ""}`;
    });
    on(
      "slot:missed",
      (e) =>
        `↷ ${e.scheduleId} dropped ${e.count} missed slot${e.count === 1 ? "" : "s"} (${formatTime(e.first)} to ${formatTime(e.last)}, catch-up "${e.policy}")`,
    );
    on("callback:attempt", (e) => {
      const result = e.attempt.status !== undefined ? `HTTP ${e.attempt.status}` : (e.attempt.error ?? "error");
      return `${e.delivered ? "↗" : "↺"} ${e.scheduleId} callback for ${e.runId}: ${result} (attempt ${e.number}${e.done && !e.delivered ? ", giving up" : ""})`;
    });
    on("schedule:completed", (e) => `■ ${e.scheduleId} completed: no slot left`);
    on("schedule:unresolved", (e) => `? ${e.scheduleId} is due but its graph "${e.graphName}" was not given to this scheduler`);
    on("warning", (e) => `⚠ ${e.scheduleId ?? "scheduler"} skipped: ${visible(e.error instanceof Error ? e.error.message : String(e.error))}`);
    on("error", (e) => `! ${e.scheduleId ?? "scheduler"}: ${visible(e.error instanceof Error ? e.error.message : String(e.error))}`);
    if (this.#tty) {
      this.#timer = setInterval(() => this.#draw(), 1_000);
      this.#timer.unref();
    }
  }

  detach(): void {
    for (const off of this.#off.splice(0)) off();
    if (this.#timer) clearInterval(this.#timer);
    this.#clear();
  }

  /** A lasting line (above the live block on a terminal). */
  note(line: string): void {
    this.#clear();
    this.#ctx.io.err.write(`${formatTime(this.#ctx.io.now())} ${line}\n`);
    if (this.#tty) this.#draw();
  }

  #clear(): void {
    if (!this.#tty || this.#drawn === 0) return;
    this.#ctx.io.err.write(`\x1b[${this.#drawn}F\x1b[J`);
    this.#drawn = 0;
  }

  #draw(): void {
    this.#clear();
    const jobs: SchedulerJobView[] = this.#scheduler.view();
    const now = this.#ctx.io.now();
    const rows = jobs
      .slice(0, 10)
      .map((j) => [
        j.scheduleId,
        j.graphName,
        j.running ? `running ${j.running.runId} for ${formatDuration(now - j.running.since)}` : "waiting",
        j.nextRunAt === undefined ? "-" : `${formatTime(j.nextRunAt)} (in ${formatDuration(Math.max(0, j.nextRunAt - now))})`,
      ]);
    const text = rows.length === 0 ? "no schedule held yet (watching the store)" : table(["SCHEDULE", "GRAPH", "NOW", "NEXT RUN"], rows);
    const block = `${text}${jobs.length > 10 ? `\n… and ${jobs.length - 10} more` : ""}\n`;
    this.#ctx.io.err.write(block);
    this.#drawn = block.split("\n").length - 1;
  }
}
