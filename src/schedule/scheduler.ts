/**
 * The `Scheduler`: the loop that fires schedules' slots in a process.
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
 * @module
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "eventemitter3";
import { assertKnownKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { RunCancelledError } from "../engine/errors.js";
import { RunLockedError, SnapshotCorruptError } from "../persistence/errors.js";
import { GraphHasPendingWaits } from "../runner/errors.js";
import { ScheduleNotFoundError } from "./errors.js";
import { TaskGraph } from "../graph/task-graph.js";
import type { RunStore } from "../persistence/run-store.js";
import { runAsync, type GraphFnLike } from "../runner/run.js";
import { validateRunOptions, type RunOptions } from "../runner/run-options.js";
import { systemClock, type Clock, type TimerHandle } from "../core/clock.js";
import { toErrorRecord } from "../state/error-record.js";
import type { ErrorRecord } from "../state/records.js";
import { callbackBody, deliverCallback, payloadError } from "./callback.js";
import { compactSlot, decideCatchUp, type CatchUp } from "./repeat.js";
import { holdsLease, leaseHost, withLease, withoutLease } from "./schedule-lease.js";
import { processIdentity } from "../persistence/lease-rules.js";
import {
  openRun,
  slotRunId,
  withRow,
  withRunRow,
  type CallbackAttempt,
  type RunRow,
  type ScheduleRecord,
  type SlotRunStatus,
} from "./schedule-record.js";
import { callbackUrlProblem, storesOf, type ResolvedStores, type ScheduleStoreOption } from "./schedule.js";
import type { ScheduleProblem } from "./schedule-store.js";
import { valueText } from "../core/text.js";

/**
 * A graph the scheduler can run: a `TaskGraph` or a `graphFn`, of any
 * input and output types (a schedule's inputs are data read back from the
 * store, checked by the graph's own validator when it has one).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- inputs are stored data; the graph's validator checks them
export type RunnableGraph = TaskGraph<any, any> | GraphFnLike<any, any>;

/**
 * Options of {@link Scheduler}.
 *
 * @example
 * ```ts
 * const s = new Scheduler({ store, graphs: [digest, relabel], pollMs: 5_000 });
 * ```
 */
export interface SchedulerOptions extends ScheduleStoreOption {
  /** The graphs it may run, by their names (an array, or a record whose keys are ignored). */
  readonly graphs?: readonly RunnableGraph[] | Readonly<Record<string, RunnableGraph>>;
  /** The clock (tests pass a `ManualClock`). @default the system clock */
  readonly clock?: Clock;
  /** How often the store is read for new, paused, resumed and orphaned schedules (ms). @default 1_000 */
  readonly pollMs?: number;
  /** How long a schedule's lease lasts without renewal (ms). @default 30_000 */
  readonly leaseTtlMs?: number;
  /** The latest due slot still counts as on time this long after it (for `catchUp: "skip"`) (ms). @default 60_000 */
  readonly graceMs?: number;
  /** Options for every run (`maxConcurrency`, `retry`, …); `runId`, `store`, `clock` and `signal` are the scheduler's. */
  readonly runOptions?: Omit<RunOptions, "runId" | "store" | "clock" | "signal">;
}

/** Events of a {@link Scheduler}; every payload has `scheduleId` and `at` (epoch ms). */
export interface SchedulerEventMap {
  /** This scheduler took a schedule's lease: it fires its slots from now on. */
  "schedule:acquired": { readonly scheduleId: string; readonly at: number; readonly nextRunAt: number | undefined };
  /** A slot's run starts (or, `resumed`, continues after a scheduler died while it ran). */
  "slot:start": { readonly scheduleId: string; readonly at: number; readonly slot: number; readonly runId: string; readonly resumed: boolean };
  /** A slot's run ended and was recorded. */
  "slot:end": {
    readonly scheduleId: string;
    readonly at: number;
    readonly slot: number;
    readonly runId: string;
    readonly status: Exclude<SlotRunStatus, "running">;
    readonly durationMs: number;
    readonly outputs?: unknown;
    readonly error?: ErrorRecord;
  };
  /** Due slots were dropped by the catch-up policy. */
  "slot:missed": { readonly scheduleId: string; readonly at: number; readonly count: number; readonly first: number; readonly last: number; readonly policy: CatchUp };
  /** A callback POST was made. */
  "callback:attempt": {
    readonly scheduleId: string;
    readonly at: number;
    readonly runId: string;
    readonly attempt: CallbackAttempt;
    readonly number: number;
    readonly delivered: boolean;
    readonly done: boolean;
  };
  /** The schedule has no slot left and is now `completed`. */
  "schedule:completed": { readonly scheduleId: string; readonly at: number };
  /** A due schedule's graph was not given to any live scheduler on this store (a history row says so). */
  "schedule:unresolved": { readonly scheduleId: string; readonly at: number; readonly graphName: string; readonly slot: number };
  /**
   * A stored schedule cannot be read (an empty or corrupt file) and is
   * skipped; the others fire. Emitted once per bad content, not at every poll.
   */
  warning: { readonly scheduleId?: string; readonly at: number; readonly file?: string; readonly error: unknown };
  /** Something failed outside any run (the store could not be read or written); the scheduler goes on. */
  error: { readonly scheduleId?: string; readonly at: number; readonly error: unknown };
}

/** What a live view shows about one schedule this scheduler holds. */
export interface SchedulerJobView {
  readonly scheduleId: string;
  readonly graphName: string;
  readonly nextRunAt: number | undefined;
  /** The slot being run, with its run id and since when. */
  readonly running?: { readonly slot: number; readonly runId: string; readonly since: number };
}

/** The longest delay a Node timer keeps (ms); a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type RunRowMissed = Extract<ScheduleRecord["history"][number], { kind: "missed" }>;

/** Thrown inside a claim when the lease is gone; never escapes the scheduler. */
class LeaseLost extends Error {}

interface Held {
  record: ScheduleRecord;
  timer: TimerHandle | undefined;
  busy: Promise<void> | undefined;
  /** Set when new work appeared while busy. */
  again: boolean;
  running: { slot: number; runId: string; since: number } | undefined;
  /** No new attempt before this (set when the slot's run was locked by another process). */
  blockedUntil: number;
}

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
  readonly #graphs = new Map<string, RunnableGraph>();
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #ttlMs: number;
  readonly #graceMs: number;
  readonly #runOptions: Omit<RunOptions, "runId" | "store" | "clock" | "signal">;
  readonly #held = new Map<string, Held>();
  readonly #delivering = new Map<string, Promise<void>>();
  readonly #reported = new Set<string>();
  /** The bad entries warned about (by id and content), kept while they stay bad. */
  #warned = new Set<string>();
  #pollTimer: TimerHandle | undefined;
  #renewTimer: TimerHandle | undefined;
  #polling: Promise<void> | undefined;
  #state: "idle" | "running" | "stopping" | "stopped" = "idle";
  #stopController = new AbortController();

  constructor(options: SchedulerOptions = {}) {
    if (options === null || typeof options !== "object") throw new InvalidOptionError("options", "must be an object");
    assertKnownKeys("Scheduler", options, ["store", "schedules", "graphs", "clock", "pollMs", "leaseTtlMs", "graceMs", "runOptions"]);
    this.#stores = storesOf(options);
    this.#clock = options.clock ?? systemClock;
    this.#pollMs = positive(options.pollMs, "pollMs", 1_000);
    this.#ttlMs = positive(options.leaseTtlMs, "leaseTtlMs", 30_000);
    this.#graceMs = positive(options.graceMs, "graceMs", 60_000, true);
    if (options.runOptions !== undefined) {
      for (const key of ["runId", "store", "clock", "signal"]) {
        if (key in options.runOptions) throw new InvalidOptionError(`runOptions.${key}`, "is set by the scheduler for each run");
      }
      validateRunOptions(options.runOptions);
    }
    this.#runOptions = options.runOptions ?? {};
    const list = options.graphs === undefined ? [] : Array.isArray(options.graphs) ? options.graphs : Object.values(options.graphs);
    for (const g of list as RunnableGraph[]) {
      const graph: unknown = typeof g === "function" ? g.graph : g;
      if (!(graph instanceof TaskGraph)) throw new InvalidOptionError("graphs", "must hold TaskGraphs (graph(name)...build()) or graphFns");
      const other = this.#graphs.get(graph.name);
      if (other && other !== g) throw new InvalidOptionError("graphs", `holds two graphs named "${graph.name}"; schedules find their graph by name`);
      this.#graphs.set(graph.name, g);
    }
  }

  /** Loads every schedule with work from the store and starts firing their slots. */
  async start(): Promise<void> {
    if (this.#state !== "idle") throw new InvalidOptionError("start", `cannot be called on a scheduler that is ${this.#state}`);
    this.#state = "running";
    this.#scheduleRenewal();
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
    await Promise.all([...this.#delivering.values()]);
    if (this.#renewTimer !== undefined) this.#clock.clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    await Promise.all(
      [...this.#held.keys()].map((id) => this.#stores.schedules.update(id, (r) => withoutLease(r, this.owner)).catch(() => undefined)),
    );
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
          this.#pollTimer = this.#clock.setTimeout(() => void this.#poll(), this.#pollMs);
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
      if (held && held.busy === undefined && !this.#delivering.has(record.id)) {
        this.#drop(record.id);
        await this.#stores.schedules.update(record.id, (r) => withoutLease(r, this.owner));
      }
      return;
    }
    if (!this.#graphs.has(record.graphName)) {
      await this.#reportUnresolved(record, now);
      return;
    }
    if (held) {
      if (held.busy !== undefined) {
        held.again = true;
        return;
      }
      let current = record;
      if (!holdsLease(record, this.owner, now) || (record.lease?.expiresAt ?? 0) - now < (this.#ttlMs * 2) / 3) {
        current = await this.#stores.schedules.update(record.id, (r) => withLease(r, this.#leaseRequest()));
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
    if (withLease(record, this.#leaseRequest()) === record) return;
    const taken = await this.#stores.schedules.update(record.id, (r) => (hasWork(r) ? withLease(r, this.#leaseRequest()) : r));
    if (!holdsLease(taken, this.owner, this.#clock.now())) return;
    const entry: Held = { record: taken, timer: undefined, busy: undefined, again: false, running: undefined, blockedUntil: 0 };
    this.#held.set(record.id, entry);
    this.#emit("schedule:acquired", { scheduleId: record.id, at: this.#clock.now(), nextRunAt: taken.nextRunAt });
    this.#arm(entry);
  }

  /** Renews every held lease each third of the TTL, busy or not (a long run must not lose its schedule). */
  #scheduleRenewal(): void {
    this.#renewTimer = this.#clock.setTimeout(() => {
      void this.#renewAll().finally(() => {
        if (this.#state === "running" || this.#state === "stopping") this.#scheduleRenewal();
      });
    }, Math.max(1, Math.floor(this.#ttlMs / 3)));
  }

  async #renewAll(): Promise<void> {
    for (const [id, held] of [...this.#held]) {
      try {
        const renewed = await this.#stores.schedules.update(id, (r) => (r.lease?.owner === this.owner ? withLease(r, this.#leaseRequest()) : r));
        if (!holdsLease(renewed, this.owner, this.#clock.now())) {
          if (held.busy === undefined) this.#drop(id);
          continue;
        }
        if (held.busy === undefined) held.record = renewed;
      } catch (error) {
        if (error instanceof ScheduleNotFoundError || error instanceof SnapshotCorruptError) {
          // Removed meanwhile, or its file went bad (the poll warns about it): the work on it (if any) lets it go when it ends.
          if (held.busy === undefined) this.#drop(id);
          continue;
        }
        this.#emit("error", { scheduleId: id, at: this.#clock.now(), error });
      }
    }
  }

  #leaseRequest() {
    // The identity lets a dead scheduler be replaced at once only when it is provably dead (lease-rules.ts).
    return { owner: this.owner, pid: process.pid, host: leaseHost(), ttlMs: this.#ttlMs, now: this.#clock.now(), identity: processIdentity() };
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
      if (row.kind === "run" && row.callback !== undefined && !row.callback.done && row.endedAt !== undefined) this.#deliver(r, row);
    }
    const now = this.#clock.now();
    const due = openRun(r) !== undefined || (r.status === "active" && (r.nextRunAt === undefined || r.nextRunAt <= now));
    const at = due ? held.blockedUntil : r.status === "active" ? r.nextRunAt : undefined;
    if (at === undefined) return;
    if (at <= now) {
      this.#work(held);
      return;
    }
    // A Node timer longer than 2^31-1 ms fires at once: wait at most that long, then look again.
    held.timer = this.#clock.setTimeout(() => {
      held.timer = undefined;
      if (this.#state === "running") this.#work(held);
    }, Math.min(at - now, MAX_TIMER_MS));
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
    const claimed = await this.#stores.schedules.update(id, (r) => {
      resumed = openRun(r) !== undefined;
      const next = this.#claim(r, now);
      completed = r.status !== "completed" && next.status === "completed";
      missed = next.history.find((x): x is RunRowMissed => x.kind === "missed" && !r.history.includes(x));
      return next;
    });
    held.record = claimed;
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
    const outcome = await this.#runSlot(graph, claimed, row);
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
    if (closed?.callback !== undefined) this.#deliver(finished, closed, outcome.outputs);
    held.again = true;
  }

  /** The claim, under the store's lock: the record with the due slot's run row appended, or as it is. */
  #claim(r: ScheduleRecord, now: number): ScheduleRecord {
    if (!holdsLease(r, this.owner, now)) throw new LeaseLost();
    if (openRun(r) !== undefined) return r;
    if (r.status !== "active") return r;
    if (r.nextRunAt === undefined) return { ...r, status: "completed", updatedAt: now };
    if (r.nextRunAt > now) return r;
    if (r.times !== undefined && r.fired >= r.times) {
      const { nextRunAt: _none, ...rest } = r;
      return { ...rest, status: "completed", updatedAt: now };
    }
    const decision = decideCatchUp({ when: r.when, everyMs: r.everyMs, until: r.until }, r.catchUp, r.nextRunAt, now, this.#graceMs);
    let next: ScheduleRecord = r;
    if (decision.missed) next = withRow(next, { kind: "missed", ...decision.missed, policy: r.catchUp, at: now }, now);
    let fired = next.fired;
    if (decision.fire !== undefined) {
      const runId = slotRunId(r, compactSlot(decision.fire));
      next = withRow(next, { kind: "run", slot: decision.fire, runId, status: "running", startedAt: now }, now);
      fired += 1;
    }
    const exhausted = r.times !== undefined && fired >= r.times;
    const nextRunAt = exhausted ? undefined : decision.nextRunAt;
    const { nextRunAt: _old, ...rest } = next;
    return {
      ...rest,
      fired,
      ...(nextRunAt !== undefined && { nextRunAt }),
      ...(nextRunAt === undefined && decision.fire === undefined && { status: "completed" as const }),
      updatedAt: now,
    };
  }

  /** Runs (or resumes, or only reads) the slot's run. */
  async #runSlot(
    graph: RunnableGraph,
    record: ScheduleRecord,
    row: RunRow,
  ): Promise<{ status: Exclude<SlotRunStatus, "running">; outputs?: unknown; error?: ErrorRecord } | "locked"> {
    const runs: RunStore = this.#stores.runs;
    try {
      // A run that ended before a scheduler died is recorded as it ended, never run again.
      const stored = await runs.load(row.runId);
      const meta = stored?.state.meta;
      if (meta?.status === "failed" || meta?.status === "cancelled") {
        return { status: meta.status, ...(meta.error !== undefined && { error: meta.error }) };
      }
      if (meta?.status === "waiting") return { status: "waiting" };
      const outputs = await runAsync(graph as unknown as TaskGraph<unknown, unknown>, stored ? undefined : record.inputs, {
        ...this.#runOptions,
        runId: row.runId,
        store: runs,
        clock: this.#clock,
      });
      return { status: "succeeded", outputs };
    } catch (error) {
      if (error instanceof RunLockedError) return "locked";
      if (error instanceof GraphHasPendingWaits) return { status: "waiting" };
      if (error instanceof RunCancelledError) return { status: "cancelled", error: toErrorRecord(error) };
      return { status: "failed", error: toErrorRecord(error) };
    }
  }

  /** Delivers (or continues delivering) a run row's callback, once per row at a time. */
  #deliver(record: ScheduleRecord, row: RunRow, outputs?: unknown): void {
    const key = row.runId;
    if (this.#delivering.has(key) || row.callback === undefined || row.callback.done || record.callbackUrl === undefined) return;
    const id = record.id;
    const task = (async () => {
      let out = outputs;
      if (out === undefined && row.status === "succeeded") {
        out = (await this.#stores.runs.load(row.runId))?.state.meta.outputs;
      }
      const body = callbackBody({
        scheduleId: id,
        runId: row.runId,
        slot: new Date(row.slot).toISOString(),
        status: row.status === "running" ? "failed" : row.status,
        ...(row.status === "succeeded" && { outputs: out }),
        ...(row.error !== undefined && { error: payloadError(row.error) }),
        durationMs: row.durationMs ?? 0,
      });
      let number = row.callback?.attempts.length ?? 0;
      const url = record.callbackUrl ?? "";
      await deliverCallback({
        url,
        refused: callbackUrlProblem(url),
        body,
        secret: record.callbackSecret,
        retry: record.callbackRetry,
        clock: this.#clock,
        previous: row.callback?.attempts ?? [],
        signal: this.#stopController.signal,
        headers: { "X-Taskloom-Schedule": id, "X-Taskloom-Run": row.runId },
        onAttempt: async (attempt, done, delivered) => {
          number += 1;
          const updated = await this.#stores.schedules.update(id, (r) =>
            withRunRow(
              r,
              row.runId,
              (x) => ({
                ...x,
                callback: { url: x.callback?.url ?? record.callbackUrl ?? "", delivered, done, attempts: [...(x.callback?.attempts ?? []), attempt] },
              }),
              this.#clock.now(),
            ),
          );
          const held = this.#held.get(id);
          if (held && held.busy === undefined) held.record = updated;
          this.#emit("callback:attempt", { scheduleId: id, at: this.#clock.now(), runId: row.runId, attempt, number, delivered, done });
        },
      });
    })()
      .catch((error: unknown) => this.#emit("error", { scheduleId: id, at: this.#clock.now(), error }))
      .finally(() => this.#delivering.delete(key));
    this.#delivering.set(key, task);
  }

  /** Writes one history row per due slot whose graph no live scheduler has. */
  async #reportUnresolved(record: ScheduleRecord, now: number): Promise<void> {
    if (record.status !== "active" || record.nextRunAt === undefined || record.nextRunAt > now) return;
    const slot = record.nextRunAt;
    const key = `${record.id}@${slot}`;
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    const probe = withLease(record, { ...this.#leaseRequest(), owner: `probe-${this.owner}` });
    if (probe === record) return; // a live scheduler holds it: it has the graph, or reports it itself
    const known = [...this.#graphs.keys()];
    const error: ErrorRecord = {
      name: "ScheduleError",
      code: "GRAPH_NOT_REGISTERED",
      message:
        `schedule "${record.id}" runs graph "${record.graphName}", which this scheduler was not given (it has ${known.length ? known.map((k) => `"${k}"`).join(", ") : "none"}). ` +
        `Pass the graph in new Scheduler({ graphs: [...] })${record.modulePath ? `, or run taskloom scheduler start ${record.modulePath}` : ""}; the slot stays due until then.`,
    };
    await this.#stores.schedules.update(record.id, (r) =>
      r.history.some((x) => x.kind === "error" && x.slot === slot) ? r : withRow(r, { kind: "error", slot, at: now, error }, now),
    );
    this.#emit("schedule:unresolved", { scheduleId: record.id, at: now, graphName: record.graphName, slot });
  }
}

/** Whether a schedule needs a scheduler: active, or with a run or callback left to finish. */
function hasWork(r: ScheduleRecord): boolean {
  if (r.status === "active") return true;
  return r.history.some((x) => x.kind === "run" && (x.endedAt === undefined || (x.callback !== undefined && !x.callback.done)));
}

function positive(value: unknown, name: string, fallback: number, zeroOk = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < (zeroOk ? 0 : 1) || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(name, `must be a number of ms of at least ${zeroOk ? 0 : 1} and at most ${MAX_TIMER_MS} (got ${valueText(value)})`);
  }
  return value;
}
