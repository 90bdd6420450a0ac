/**
 * The `Scheduler`: the loop that fires schedules' slots in a process.
 *
 * Why this file is long (about 435 lines): a tenth of it is this header,
 * which states the firing protocol and its crash guarantees in one place;
 * the loop's parts that have no shared state already live apart
 * (`slot-firing.ts`, `schedule-lease-keeper.ts`, `callback-delivery.ts`,
 * `scheduler-options.ts`, `scheduler-events.ts`, `unresolved-graphs.ts`).
 *
 * Every `pollMs` it reads the schedule store. For each schedule that has
 * work (active, or with an unfinished run or callback) and whose graph it
 * was given, it takes the schedule's lease (see `schedule-lease.ts`),
 * renews it while it lives, and arms a timer on the clock for the next
 * slot. Work on one schedule is serial: its runs never overlap.
 *
 * Firing a slot, in order, each step durable before the next:
 * 1. claim: under the store's atomic update, and only while holding the
 *    lease, apply the catch-up policy (`repeat.ts`), append a "run" row
 *    for the slot (status running) and advance `nextRunAt`;
 * 2. run the graph with `runAsync(graph, inputs, { runId })`, where the
 *    run id is derived from the schedule id and the slot;
 * 3. close the row with the run's status, duration and error;
 * 4. deliver the callback, recording each attempt in the row.
 *
 * A scheduler that dies after 1 leaves an unfinished row: the next one
 * resumes that run by its id (finished nodes are not run again; a run
 * that had already ended is only recorded) before it considers any other
 * slot, so a slot is never started twice. Two schedulers on one store
 * never fire the same schedule: only the lease holder claims, and a claim
 * checks the lease under the same lock.
 *
 * A stored schedule that cannot be read (an empty or corrupt file) is
 * skipped by every poll and reported once per bad content as a `warning`
 * event; the other schedules fire as usual.
 *
 * This module is the loop (poll, hold, arm, work, step, stop). Its parts:
 * the options (`scheduler-options.ts`), the events and live view
 * (`scheduler-events.ts`), the claim and run of a slot (`slot-firing.ts`),
 * lease renewal (`schedule-lease-keeper.ts`), callback delivery
 * (`callback-delivery.ts`), and graphs no scheduler has (`unresolved-graphs.ts`).
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "eventemitter3";
import { InvalidOptionError } from "../errors.js";
import type { NodeExecutor } from "../engine/node-executor.js";
import { ExecutorNotRegisteredError, ScheduleNotFoundError } from "./errors.js";
import type { Clock, TimerHandle } from "../core/clock.js";
import { CallbackDeliveries } from "./callback-delivery.js";
import { holdsLease, withLease, withoutLease } from "./schedule-lease.js";
import { ScheduleLeaseKeeper, type Held } from "./schedule-lease-keeper.js";
import { openRun, withRunRow, type RunRow, type ScheduleRecord } from "./schedule-record.js";
import type { ResolvedStores } from "./store-options.js";
import type { ScheduleProblem } from "./schedule-store.js";
import type { SchedulerEmit, SchedulerEventMap, SchedulerJobView } from "./scheduler-events.js";
import { MAX_TIMER_MS, resolveSchedulerOptions, type RunnableGraph, type SchedulerOptions, type SchedulerRunOptions } from "./scheduler-options.js";
import { UnresolvedGraphs } from "./unresolved-graphs.js";
import { claimSlot, hasWork, LeaseLost, runSlot, type RunRowMissed } from "./slot-firing.js";

export type { SchedulerEventMap, SchedulerJobView } from "./scheduler-events.js";
export type { RunnableGraph, SchedulerOptions } from "./scheduler-options.js";

/**
 * Fires stored schedules in this process. Start one per process that
 * should run scheduled work; several may share a store (each schedule is
 * fired by one of them at a time).
 *
 * @example
 * ```ts
 * const s = new Scheduler({ store, graphs: [digest] });
 * s.events.on("slot:end", (e) => console.log(e.runId, e.status));
 * await s.start();
 * process.on("SIGTERM", () => void s.stop()); // waits for running jobs
 * ```
 */
export class Scheduler {
  /** The scheduler's typed events. */
  readonly events = new EventEmitter<{ [K in keyof SchedulerEventMap]: (payload: SchedulerEventMap[K]) => void }>();
  /** This scheduler's lease owner id. */
  readonly owner = randomUUID();
  readonly #stores: ResolvedStores;
  readonly #graphs: ReadonlyMap<string, RunnableGraph>;
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #ttlMs: number;
  readonly #graceMs: number;
  readonly #runOptions: SchedulerRunOptions;
  readonly #executors: ReadonlyMap<string, NodeExecutor>;
  readonly #held = new Map<string, Held>();
  /** The bad entries warned about (by id and content), kept while they stay bad. */
  #warned = new Set<string>();
  #pollTimer: TimerHandle | undefined;
  #polling: Promise<void> | undefined;
  #state: "idle" | "running" | "stopping" | "stopped" = "idle";
  #stopController = new AbortController();
  readonly #deliveries: CallbackDeliveries;
  readonly #leases: ScheduleLeaseKeeper;
  readonly #unresolved: UnresolvedGraphs;

  constructor(options: SchedulerOptions = {}) {
    const config = resolveSchedulerOptions(options);
    this.#stores = config.stores;
    this.#graphs = config.graphs;
    this.#clock = config.clock;
    this.#pollMs = config.pollMs;
    this.#ttlMs = config.ttlMs;
    this.#graceMs = config.graceMs;
    this.#runOptions = config.runOptions;
    this.#executors = config.executors;
    const emit: SchedulerEmit = (name, payload) => this.#emit(name, payload);
    this.#deliveries = new CallbackDeliveries({
      stores: this.#stores,
      clock: this.#clock,
      signal: this.#stopController.signal,
      emit,
      owner: this.owner,
      recorded: (id, updated) => {
        const held = this.#held.get(id);
        if (held && held.busy === undefined) held.record = updated;
      },
    });
    this.#leases = new ScheduleLeaseKeeper({
      owner: this.owner,
      ttlMs: this.#ttlMs,
      clock: this.#clock,
      schedules: this.#stores.schedules,
      held: this.#held,
      drop: (id) => this.#drop(id),
      emit,
      renewing: () => this.#state === "running" || this.#state === "stopping",
    });
    this.#unresolved = new UnresolvedGraphs({
      owner: this.owner,
      graphs: this.#graphs,
      schedules: this.#stores.schedules,
      request: () => this.#leases.request(),
      emit,
    });
  }

  /** Loads every schedule with work from the store and starts firing their slots. */
  async start(): Promise<void> {
    if (this.#state !== "idle") throw new InvalidOptionError("start", `cannot be called on a scheduler that is ${this.#state}`);
    this.#state = "running";
    this.#leases.start();
    await this.#poll();
  }

  /**
   * Stops firing: no new slot starts; runs in progress finish and are
   * recorded; callbacks stop between attempts (the next scheduler
   * continues them); the leases are given back. Resolves when all that is done.
   */
  async stop(): Promise<void> {
    if (this.#state === "stopped" || this.#state === "idle") {
      this.#state = "stopped";
      return;
    }
    this.#state = "stopping";
    this.#stopController.abort(new Error("the scheduler is stopping"));
    if (this.#pollTimer !== undefined) this.#clock.clearTimeout(this.#pollTimer);
    await this.#polling;
    for (const held of this.#held.values()) if (held.timer !== undefined) this.#clock.clearTimeout(held.timer);
    await Promise.all([...this.#held.values()].map((h) => h.busy ?? Promise.resolve()));
    await this.#deliveries.settled();
    this.#leases.stop();
    // A renewal under way writes to the store: it ends before the leases are given back and stop() resolves.
    await this.#leases.idle();
    await Promise.all([...this.#held.keys()].map((id) => this.#stores.schedules.update(id, (r) => withoutLease(r, this.owner)).catch(() => undefined)));
    this.#held.clear();
    this.#state = "stopped";
  }

  /** The schedules this scheduler holds, soonest first, with the slot each is running. */
  view(): SchedulerJobView[] {
    return [...this.#held.values()]
      .map((h) => ({
        scheduleId: h.record.id,
        graphName: h.record.graphName,
        nextRunAt: h.record.status === "active" ? h.record.nextRunAt : undefined,
        ...(h.running !== undefined && { running: h.running }),
      }))
      .sort((a, b) => (a.nextRunAt ?? Infinity) - (b.nextRunAt ?? Infinity) || (a.scheduleId < b.scheduleId ? -1 : 1));
  }

  /** Reads the store now instead of at the next poll (e.g. right after `schedule()` in this process). */
  async poll(): Promise<void> {
    if (this.#state !== "running") return;
    await this.#poll();
  }

  #emit<K extends keyof SchedulerEventMap>(name: K, payload: SchedulerEventMap[K]): void {
    try {
      (this.events.emit as (n: string, p: unknown) => boolean)(name, payload);
    } catch (error) {
      // A listener's failure never stops the scheduler.
      if (name !== "error") this.#emit("error", { at: this.#clock.now(), error });
    }
  }

  #poll(): Promise<void> {
    if (this.#polling) return this.#polling;
    this.#polling = this.#pollOnce()
      .catch((error: unknown) => this.#emit("error", { at: this.#clock.now(), error }))
      .finally(() => {
        this.#polling = undefined;
        if (this.#state === "running") {
          if (this.#pollTimer !== undefined) this.#clock.clearTimeout(this.#pollTimer);
          this.#pollTimer = this.#clock.setTimeout(() => void this.#poll(), this.#pollMs, "scheduler poll of the store");
        }
      });
    return this.#polling;
  }

  async #pollOnce(): Promise<void> {
    const bad = new Set<string>();
    const records = await this.#stores.schedules.list({ onProblem: (problem) => this.#warn(problem, bad) });
    this.#warned = bad;
    const seen = new Set<string>();
    for (const record of records) {
      if (this.#state !== "running") return;
      seen.add(record.id);
      try {
        await this.#consider(record);
      } catch (error) {
        this.#emit("error", { scheduleId: record.id, at: this.#clock.now(), error });
      }
    }
    // Schedules removed from the store.
    for (const [id, held] of this.#held) {
      if (!seen.has(id) && held.busy === undefined) this.#drop(id);
    }
  }

  /** Emits a `warning` for a skipped schedule, unless this same bad content was reported already. */
  #warn(problem: ScheduleProblem, bad: Set<string>): void {
    const key = `${problem.scheduleId}\u0000${problem.digest ?? (problem.error instanceof Error ? problem.error.message : "")}`;
    bad.add(key);
    if (this.#warned.has(key)) return;
    this.#emit("warning", {
      scheduleId: problem.scheduleId,
      at: this.#clock.now(),
      ...(problem.file !== undefined && { file: problem.file }),
      error: problem.error,
    });
  }

  async #consider(record: ScheduleRecord): Promise<void> {
    const now = this.#clock.now();
    const held = this.#held.get(record.id);
    if (!hasWork(record)) {
      if (held && held.busy === undefined && !this.#deliveries.has(record.id)) {
        this.#drop(record.id);
        await this.#stores.schedules.update(record.id, (r) => withoutLease(r, this.owner));
      }
      return;
    }
    if (!this.#graphs.has(record.graphName)) {
      await this.#unresolved.report(record, now);
      return;
    }
    const executorName = record.runOptions?.executor;
    if (executorName !== undefined && !this.#executors.has(executorName)) {
      await this.#unresolved.report(record, now, new ExecutorNotRegisteredError(record.id, executorName, [...this.#executors.keys()]));
      return;
    }
    if (held) {
      if (held.busy !== undefined) {
        held.again = true;
        return;
      }
      let current = record;
      if (!holdsLease(record, this.owner, now) || (record.lease?.expiresAt ?? 0) - now < (this.#ttlMs * 2) / 3) {
        current = await this.#stores.schedules.update(record.id, (r) => withLease(r, this.#leases.request()));
        if (!holdsLease(current, this.owner, now)) {
          this.#drop(record.id);
          return;
        }
      }
      held.record = current;
      this.#arm(held);
      return;
    }
    // Another live scheduler holds it: no need to take the store's lock to learn that.
    if (withLease(record, this.#leases.request()) === record) return;
    const taken = await this.#stores.schedules.update(record.id, (r) => (hasWork(r) ? withLease(r, this.#leases.request()) : r));
    if (!holdsLease(taken, this.owner, this.#clock.now())) return;
    const entry: Held = { record: taken, timer: undefined, busy: undefined, again: false, running: undefined, blockedUntil: 0 };
    this.#held.set(record.id, entry);
    this.#emit("schedule:acquired", { scheduleId: record.id, at: this.#clock.now(), nextRunAt: taken.nextRunAt });
    this.#arm(entry);
  }

  #drop(id: string): void {
    const held = this.#held.get(id);
    if (held?.timer !== undefined) this.#clock.clearTimeout(held.timer);
    this.#held.delete(id);
  }

  /** Starts work now when something is due, else sets the timer for the next slot. */
  #arm(held: Held): void {
    if (held.timer !== undefined) this.#clock.clearTimeout(held.timer);
    held.timer = undefined;
    const r = held.record;
    for (const row of r.history) {
      if (row.kind === "run" && row.callback !== undefined && !row.callback.done && row.endedAt !== undefined) this.#deliveries.deliver(r, row);
    }
    // A poll or a step that was under way when stop() was called starts nothing new.
    if (this.#state !== "running") return;
    const now = this.#clock.now();
    const due = openRun(r) !== undefined || (r.status === "active" && (r.nextRunAt === undefined || r.nextRunAt <= now));
    const at = due ? held.blockedUntil : r.status === "active" ? r.nextRunAt : undefined;
    if (at === undefined) return;
    if (at <= now) {
      this.#work(held);
      return;
    }
    // A Node timer longer than 2^31-1 ms fires at once: wait at most that long, then look again.
    held.timer = this.#clock.setTimeout(
      () => {
        held.timer = undefined;
        if (this.#state === "running") this.#work(held);
      },
      Math.min(at - now, MAX_TIMER_MS),
      `next slot of schedule "${r.id}"`,
    );
  }

  #work(held: Held): void {
    if (held.busy !== undefined) {
      held.again = true;
      return;
    }
    held.busy = (async () => {
      do {
        held.again = false;
        await this.#step(held);
      } while (held.again && this.#state === "running" && this.#held.get(held.record.id) === held);
    })()
      .catch((error: unknown) => {
        // A lost lease or a schedule removed meanwhile (taskloom schedule rm) is no error: let it go.
        if (!(error instanceof LeaseLost) && !(error instanceof ScheduleNotFoundError)) {
          this.#emit("error", { scheduleId: held.record.id, at: this.#clock.now(), error });
        }
        this.#drop(held.record.id);
      })
      .finally(() => {
        held.busy = undefined;
        if (this.#state === "running" && this.#held.get(held.record.id) === held) this.#arm(held);
      });
  }

  /** Claims the due slot (or takes the unfinished one), runs it, records it. Sets `again` when more may be due. */
  async #step(held: Held): Promise<void> {
    const id = held.record.id;
    const now = this.#clock.now();
    let resumed = false;
    let missed: RunRowMissed | undefined;
    let completed = false;
    let stopping = false;
    const claimed = await this.#stores.schedules.update(id, (r) => {
      // stop() was called while this step waited for the store: no new slot starts (an unfinished one is left to resume).
      stopping = this.#state !== "running";
      if (stopping) return r;
      resumed = openRun(r) !== undefined;
      const next = claimSlot(r, this.owner, now, this.#graceMs);
      completed = r.status !== "completed" && next.status === "completed";
      missed = next.history.find((x): x is RunRowMissed => x.kind === "missed" && !r.history.includes(x));
      return next;
    });
    held.record = claimed;
    if (stopping) return;
    if (missed) this.#emit("slot:missed", { scheduleId: id, at: now, count: missed.count, first: missed.first, last: missed.last, policy: missed.policy });
    if (completed) {
      this.#emit("schedule:completed", { scheduleId: id, at: now });
    }
    const row = openRun(claimed);
    if (!row) return;
    const graph = this.#graphs.get(claimed.graphName);
    if (!graph) return;
    held.running = { slot: row.slot, runId: row.runId, since: this.#clock.now() };
    this.#emit("slot:start", { scheduleId: id, at: this.#clock.now(), slot: row.slot, runId: row.runId, resumed });
    const started = this.#clock.now();
    const outcome = await runSlot(
      { runs: this.#stores.runs, runOptions: this.#runOptions, executors: this.#executors, clock: this.#clock },
      graph,
      claimed,
      row,
    );
    held.running = undefined;
    if (outcome === "locked") {
      // Another process drives this run (a lease mix-up); look again after a poll interval.
      held.blockedUntil = this.#clock.now() + this.#pollMs;
      return;
    }
    const ended = this.#clock.now();
    const durationMs = ended - started;
    const callback = claimed.callbackUrl !== undefined && outcome.status !== "waiting";
    let nowCompleted = false;
    const finished = await this.#stores.schedules.update(id, (r) => {
      if (!holdsLease(r, this.owner, this.#clock.now())) throw new LeaseLost();
      let next = withRunRow(
        r,
        row.runId,
        (x) => ({
          ...x,
          status: outcome.status,
          endedAt: ended,
          durationMs,
          ...(outcome.error !== undefined && { error: outcome.error }),
          ...(callback && { callback: { url: r.callbackUrl ?? "", delivered: false, done: false, attempts: [] } }),
        }),
        ended,
      );
      nowCompleted = next.status === "active" && next.nextRunAt === undefined;
      if (nowCompleted) next = { ...next, status: "completed" };
      return next;
    });
    held.record = finished;
    this.#emit("slot:end", {
      scheduleId: id,
      at: ended,
      slot: row.slot,
      runId: row.runId,
      status: outcome.status,
      durationMs,
      ...(outcome.outputs !== undefined && { outputs: outcome.outputs }),
      ...(outcome.error !== undefined && { error: outcome.error }),
    });
    if (nowCompleted) this.#emit("schedule:completed", { scheduleId: id, at: ended });
    const closed = finished.history.find((x): x is RunRow => x.kind === "run" && x.runId === row.runId);
    if (closed?.callback !== undefined) this.#deliveries.deliver(finished, closed, outcome.outputs);
    held.again = true;
  }
}
