/**
 * Why this file is 465 lines (121 of them comments, this one 55; 344 of
 * code): it is one concept, one run's lifetime in phases, and the order of
 * its steps (lease, registration, load, first write, engine, final write,
 * releases in reverse) is the crash and liveness argument, so it stays
 * in one place. Each step that stands alone is its own module: preparing
 * a run (`prepare-run.ts`), ending it (`run-ending.ts`), the lease
 * (`lease-keeper.ts`), the deadline (`run-deadline.ts`), child runs
 * (`child-runs.ts`), the registry of runs driven here (`active-runs.ts`,
 * `live-runs-channel.ts`). The twenty-ninth pass added about 20 lines: the
 * run is noted as being acquired while its lease is taken, and a cancelled
 * run cancels its stored unfinished children. The events audit added about
 * 25: `run:start` comes first, an end that could not be saved emits
 * `run:error`, and a cancel from a listener waits for the engine's step.
 * The thirty-second pass added 3: a child run is given its parent's mark
 * (`parentInstance`), checked against the child stored under its id. The
 * thirty-third added 3: an event that names a run mark is refused by
 * another run of the id (`deliver`).
 *
 * A run session: everything between `run()` and the engine for one run. It
 * owns the run's lease (a {@link LeaseKeeper}), its journal, its engine and
 * its state, and goes through these phases, in order:
 *
 * - `acquiring`: takes the run's lease (then registers the run as driven
 *   here, so `resolveWait` finds it, until the lease is given back);
 * - `preparing`: loads the stored run and prepares it (prepare-run.ts); a
 *   stored succeeded run ends here with its stored outputs;
 * - `running`: saves the run as it starts (a snapshot; for a resume, the
 *   records that changed since it was loaded), emits `run:start`, lets the
 *   engine work;
 * - `saving`: records how the run ended (run-ending.ts) and writes it;
 * - `stopped`: every resource is released, `stopped` has settled.
 *
 * Resources are released through a list of release functions, last taken
 * first released (graphile-worker's `releasers`): stop renewing the lease
 * (and tell the executor the run stopped, with whether the lease is still
 * ours), tell deliveries waiting for the engine that there will be none,
 * give the lease back and unregister the run.
 *
 * Invariants. Cancellation is decided in one place: a cancel that comes
 * before the engine exists is honoured when the session enters `running`
 * (`RunCancelledError`, nothing written); from then on it goes straight to
 * the engine. A cancel may come from the caller, from `cancelRun` in
 * another process (a lease renewal brings the request, lease-keeper.ts),
 * or from the run's deadline (run-deadline.ts: saved with
 * `RunTimeoutError`; a resume after it fails at once). Child runs started
 * by `ctx.run` (child-runs.ts) are kept: the lease is given back only once
 * they stopped, and a cancelled run cancels them. A lost lease fails the
 * engine (`LeaseLostError`), and a run that ended otherwise after losing it
 * ends failed with that error. The
 * run's status is `pending` until `running`, and its final status once the
 * final write (its end appended, or a snapshot) was attempted.
 *
 * @module
 */
import { endEvents, holdEvents, isEmitting, RunEvents } from "../events/run-events.js";
import type { TaskGraph } from "../graph/task-graph.js";
import { PersistenceObserver } from "../persistence/persistence-observer.js";
import type { Lease, RunStore } from "../persistence/run-store.js";
import { ForwardScheduler, type SchedulerOutcome } from "../engine/forward-scheduler.js";
import { setRunDeadline, setRunStatus, type RunState } from "../state/run-state.js";
import type { RunStatus } from "../state/status.js";
import type { ActiveRun } from "./active-runs.js";
import { LeaseKeeper } from "./lease-keeper.js";
import { registerAcquiringRun, registerLiveRun } from "./live-runs-channel.js";
import { prepareRun, type PreparedRun } from "./prepare-run.js";
import { graphIndex } from "../graph/graph-index.js";
import { endRun, finalChange, unhandled } from "./run-ending.js";
import type { RunConfig } from "./run-options.js";
import { GraphHasPendingWaits, RunTimeoutError } from "./errors.js";
import { assertMarkedRun } from "./run-mark.js";
import { PersistenceError, RunCancelledError } from "../engine/errors.js";
import { toErrorRecord } from "../state/error-record.js";
import { DeadlineTimer, deadlineReason, runDeadline } from "./run-deadline.js";
import type { ChildRunner } from "../engine/child-runs.js";
import { childRunner, surfaceChildWaits } from "./child-runs.js";
import { cancelRun } from "./cancel-run.js";
import { childRunsOf } from "./run-children.js";
import { isRunFinal } from "../state/status.js";

/** The phases of a {@link RunSession}, in order. */
export type SessionPhase = "acquiring" | "preparing" | "running" | "saving" | "stopped";

/** A resource's release, run once when the session stops. */
type Releaser = () => void | Promise<void>;

/** What a session is started with. */
export interface SessionParams {
  readonly graph: TaskGraph<unknown, unknown>;
  /** The inputs given (`undefined` to resume with the stored ones). */
  readonly inputs: unknown;
  /** The run's options, validated and resolved once by `run()`. */
  readonly config: RunConfig;
  readonly events: RunEvents;
  /** The parent run, for a child run started with `ctx.run` (recorded when the run is created). */
  readonly parentRunId?: string | undefined;
  /** The parent run's mark, for a child run (recorded when the run is created, checked when it is stored). */
  readonly parentInstance?: string | undefined;
}

/** Drives one run from its lease to its saved end (see the module comment). */
export class RunSession<O> implements ActiveRun {
  readonly runId: string;
  readonly events: RunEvents;
  /** The store the run is kept in. */
  readonly store: RunStore;
  readonly #params: SessionParams;
  #phase: SessionPhase = "acquiring";
  #status: RunStatus = "pending";
  #state: RunState | undefined;
  #engine: ForwardScheduler<unknown> | undefined;
  #cancelReason: string | undefined;
  readonly #releasers: Releaser[] = [];
  /** Child runs (`ctx.run`) this session started: its lease is given back only once they stopped. */
  readonly #children = new Map<string, RunSession<unknown>>();
  readonly #live = deferred<ForwardScheduler<unknown> | undefined>();
  readonly #stopped = deferred<void>();
  readonly #result: Promise<O>;

  /** Starts the session on the next tick: a cancel or listener added before then is seen. */
  constructor(params: SessionParams) {
    this.#params = params;
    this.runId = params.config.runId;
    this.events = params.events;
    this.store = params.config.store;
    this.#result = Promise.resolve()
      .then(() => this.#drive())
      .catch((error: unknown) => {
        if (this.#status === "pending" || this.#status === "running") {
          this.#status = error instanceof RunCancelledError || error instanceof RunTimeoutError ? "cancelled" : "failed";
        }
        throw error;
      });
    // The caller may never ask for the result; a failed run must not become an unhandled rejection.
    this.#result.catch(() => undefined);
  }

  get phase(): SessionPhase {
    return this.#phase;
  }

  /** The run's status now. */
  get status(): RunStatus {
    return this.#status;
  }

  /** The run's latest state, once loaded or created. */
  get state(): RunState | undefined {
    return this.#phase === "running" && this.#engine ? this.#engine.state : this.#state;
  }

  /** Settles once the session has saved the run and given its lease back. */
  get stopped(): Promise<void> {
    return this.#stopped.promise;
  }

  /** The outputs, or the run's error. */
  result(): Promise<O> {
    return this.#result;
  }

  /** Cancels the run (the first reason wins; see the module comment). */
  cancel(reason: string): void {
    if (this.#cancelReason !== undefined) return;
    this.#cancelReason = reason;
    const engine = this.#phase === "running" ? this.#engine : undefined;
    if (engine === undefined) return;
    // From a listener (inside an emit), the engine is in the middle of a step (a node starting, a wait opening, a retry
    // sleep being set up): cancelled then, that step missed the stop and its node was never aborted. Once it is over.
    if (isEmitting(this.events)) queueMicrotask(() => engine.cancel(reason));
    else engine.cancel(reason);
  }

  /** {@link ActiveRun.deliver}: hands the event to the engine once it runs; false when it never will. */
  async deliver(key: string, payload: unknown, instance?: string): Promise<boolean> {
    const engine = await this.#live.promise;
    if (!engine) return false;
    // Meant for a deleted run of this id (its mark): this run is another one.
    assertMarkedRun(this.#params.config.runId, this.#state?.meta, instance);
    return engine.deliver(key, payload);
  }

  async #drive(): Promise<O> {
    const { config, events, graph, inputs } = this.#params;
    const { store, runId, clock, executor } = config;
    try {
      // Noted as being acquired until it is registered: the store may hold our lease before `acquireLease` returns
      // to us, and a resolveWait of this process that finds it then waits for the registration.
      const acquired = registerAcquiringRun(store, runId);
      let keeper: LeaseKeeper;
      let unregister: () => void;
      try {
        keeper = await LeaseKeeper.acquire(store, runId, { ttlMs: config.leaseTtlMs, clock, events, takeover: config.takeover });
        // Registered while we hold the lease, from before the run is loaded until the lease is given back:
        // a resolveWait that arrives before the engine runs waits for it, and one that arrives while the run
        // is being saved waits for `stopped`; neither finds our own lease held (RunLockedError).
        unregister = registerLiveRun(store, runId, this);
      } finally {
        acquired();
      }
      this.#releasers.push(async () => {
        await keeper.release();
        unregister();
      });
      this.#releasers.push(() => this.#live.resolve(undefined));
      keeper.keep(
        (lost) => this.#engine?.fail(lost),
        (request) => this.cancel(request.reason),
      );
      this.#releasers.push(async () => {
        keeper.stopRenewing();
        if (executor?.runStopped) {
          // Renewing tells whether the run is still ours: a driver that lost it must leave its remote work to the new holder.
          const leaseLost = !(await keeper.stillHeld());
          await executor.runStopped(runId, { leaseLost }).catch(() => undefined);
        }
      });

      this.#releasers.push(async () => {
        await Promise.all([...this.#children.values()].map((child) => child.stopped));
      });

      this.#phase = "preparing";
      const { parentRunId, parentInstance } = this.#params;
      const options = parentRunId === undefined ? config : { ...config, parentRunId, parentInstance };
      // The graph's node order and map of positions: a stored run of this graph that holds its nodes so is indexed by that map, not by one built for the load.
      const stored = await store.load(runId, { layout: { order: graph.order, positions: graphIndex(graph).position } });
      const prepared = await prepareRun(graph, runId, inputs, stored, options, () => clock.now());
      if (prepared.kind === "done") {
        this.#state = prepared.state;
        this.#status = "succeeded";
        return prepared.outputs as O;
      }
      return await this.#run(prepared, keeper, stored?.state, stored?.journalRecords);
    } finally {
      for (const release of this.#releasers.splice(0).reverse()) await release();
      this.#phase = "stopped";
      this.#stopped.resolve();
    }
  }

  /** Runs a prepared run; `stored` is the state it was loaded as (a resume), which the store holds already. */
  async #run(
    prepared: Extract<PreparedRun, { kind: "run" }>,
    keeper: LeaseKeeper,
    stored: RunState | undefined,
    journalRecords: number | undefined,
  ): Promise<O> {
    const { config, events, graph } = this.#params;
    const { runId, clock } = config;
    // The one place a cancel that came before the engine is honoured; later ones reach the engine directly.
    if (this.#cancelReason !== undefined) throw new RunCancelledError(runId, this.#cancelReason);
    const deadline = runDeadline(config.timeoutMs, prepared.state.meta.deadline, clock.now());
    if (deadline !== undefined && deadline <= clock.now()) return this.#expired(prepared, keeper, deadline);
    this.#state = setRunDeadline(setRunStatus(prepared.state, "running", clock.now()), deadline);
    // Field by field, not `...this.#params` and more: a literal that starts with a spread and adds keys gets a hidden
    // class of its own each time in V8 11 (Node 20), some 2 µs apiece (docs/architecture.md, "Hidden classes").
    const { journal, engine } = startEngine({
      graph,
      config,
      events,
      state: this.#state,
      seq: prepared.seq,
      journalRecords,
      inputs: prepared.inputs,
      lease: keeper.taken,
      getState: () => this.state as RunState,
      childRuns: childRunner({ config, start: (g, i, c, parent) => this.#startChild(g, i, c, parent) }),
    });
    this.#engine = engine;
    this.#phase = "running";
    this.#status = "running";
    // A resume appends only what changed since the run was loaded (the reset nodes, the run meta). The store holds
    // the run before `run:start`, which is still the first event: the write's own events (`snapshot`) wait for it.
    const release = holdEvents(events);
    try {
      await journal.start(stored, prepared.counts);
    } catch (error) {
      release();
      throw error;
    }
    release(() => events.emit("run:start", { runId, at: clock.now(), graphName: graph.name, resumed: prepared.resumed, kept: prepared.kept }));
    const startedAt = clock.now();
    this.#live.resolve(engine);
    const timer = new DeadlineTimer(clock, deadline, (d) => engine.cancel(deadlineReason(d)));
    let outcome: SchedulerOutcome;
    try {
      outcome = await engine.execute();
    } finally {
      // Disarmed however the engine ends: an armed deadline would keep the process alive until it fires.
      timer.disarm();
    }
    this.#state = engine.state;
    this.#phase = "saving";
    if (keeper.lost !== undefined && outcome.status !== "failed") {
      outcome = { status: "failed", state: outcome.state, error: keeper.lost };
    }

    const ending = endRun(outcome, graph, prepared.inputs, runId);
    if (ending.notDurable !== undefined) {
      events.emit("warning", {
        runId,
        at: clock.now(),
        code: "OUTPUT_NOT_DURABLE",
        message: `the outputs of run "${runId}" cannot be stored exactly (${ending.notDurable}); a resume by its run id computes them again`,
      });
    }
    const now = clock.now();
    // Timed out only when the deadline's cancel is the one the engine took: a caller's cancel that came first wins.
    const timedOut =
      timer.fired !== undefined && ending.outcome.status === "cancelled" && ending.outcome.reason === deadlineReason(timer.fired)
        ? new RunTimeoutError(runId, timer.fired)
        : undefined;
    const final = finalChange(ending, runId, engine.inbox(), timedOut);
    this.#state = setRunStatus(ending.outcome.state, final.status, now, final.change);
    let saveError: Error | undefined;
    try {
      // A run whose journal is short (a new run's, a resume that changed little) appends its end instead of rewriting the run (PersistenceObserver.finish).
      await journal.finish();
    } catch (error) {
      // The observer's failures are typed already (PersistenceError, LeaseLostError, ValueNotStorableError).
      saveError = error instanceof Error ? error : new PersistenceError(runId, error);
    }
    // A succeeded or waiting run whose end could not be saved fails with the save's error (its status and `run:error` say so).
    const unsaved = final.status === "succeeded" || final.status === "waiting" ? saveError : undefined;
    this.#status = unsaved !== undefined ? "failed" : final.status;

    const { outputs } = ending;
    const waits = ending.outcome.status === "waiting" ? await surfaceChildWaits(config.store, ending.outcome.waits) : [];
    if (ending.outcome.status === "cancelled") await this.#cancelChildren(ending.outcome.reason);
    // From here on, a node event (a body that ignored its abort) would come after the run's end: it is dropped.
    endEvents(events);
    if (unsaved !== undefined) {
      events.emit("run:error", { runId, at: now, error: unsaved });
      throw unsaved;
    }
    // A switch, not a ts-pattern match: once per run, and a match chain allocates its patterns and closures each time.
    const o = ending.outcome;
    switch (o.status) {
      case "succeeded":
        events.emit("run:success", { runId, at: now, outputs, durationMs: now - startedAt });
        return outputs as O;
      case "failed":
        events.emit("run:error", { runId, at: now, error: o.error });
        throw o.error;
      case "cancelled":
        events.emit("run:cancel", { runId, at: now, reason: o.reason });
        throw timedOut ?? new RunCancelledError(runId, o.reason);
      case "waiting":
        events.emit("run:waiting", { runId, at: now, waits });
        throw new GraphHasPendingWaits(runId, waits);
      default:
        return unhandled(o);
    }
  }

  /** Starts a child run's session (`ctx.run`, child-runs.ts), kept until it stopped. */
  #startChild(graph: TaskGraph<unknown, unknown>, inputs: unknown, config: RunConfig, parentRunId: string): RunSession<unknown> {
    const parentInstance = this.#state?.meta.instance;
    const child = childSession({ graph, inputs, config, events: new RunEvents(config.onListenerError), parentRunId, parentInstance });
    this.#children.set(config.runId, child);
    return child;
  }

  /**
   * A cancelled run cancels its unfinished child runs: those this session
   * started, and the stored ones it did not reach again (a resume that was
   * cancelled, or whose deadline had passed, before the node that started
   * them ran again). A waiting child is not driven: it is marked in the store.
   */
  async #cancelChildren(reason: string): Promise<void> {
    const { store, runId } = this.#params.config;
    const stored = await childRunsOf(store, runId, this.#state?.meta.instance).catch(() => []);
    const ids = new Set([...this.#children.keys(), ...stored.filter((c) => !isRunFinal(c.status)).map((c) => c.runId)]);
    for (const childId of ids) {
      await cancelRun(childId, { store, reason: `its parent run "${runId}" was cancelled: ${reason}` }).catch(() => undefined);
    }
  }

  /** A run resumed after its deadline: saved `cancelled` with `RunTimeoutError`, nothing runs (run-deadline.ts). */
  async #expired(prepared: Extract<PreparedRun, { kind: "run" }>, keeper: LeaseKeeper, deadline: number): Promise<never> {
    const { config, events } = this.#params;
    const { runId, clock, store } = config;
    const error = new RunTimeoutError(runId, deadline);
    const now = clock.now();
    this.#state = setRunStatus(prepared.state, "cancelled", now, { error: toErrorRecord(error) });
    await store.writeSnapshot(this.#state, prepared.seq, keeper.taken).catch((e: unknown) => {
      throw e instanceof Error ? e : new PersistenceError(runId, e);
    });
    await this.#cancelChildren(deadlineReason(deadline));
    // Still a run's sequence of events: it starts (and is cancelled at once).
    events.emit("run:start", { runId, at: now, graphName: this.#params.graph.name, resumed: prepared.resumed, kept: prepared.kept });
    endEvents(events);
    events.emit("run:cancel", { runId, at: now, reason: deadlineReason(deadline) });
    throw error;
  }
}

/**
 * A child run's session (`ctx.run`). A function of its own, not `new
 * RunSession` inside the class: a class body that names its class is
 * renamed by the build (scripts/build.mjs).
 */
function childSession(params: SessionParams): RunSession<unknown> {
  return new RunSession<unknown>(params);
}

/**
 * Builds the run's journal and engine, wired together: the one place that
 * knows how (the engine pushes what changed to the journal, which writes
 * it to the store under the session's lease).
 */
export function startEngine(params: {
  readonly graph: TaskGraph<unknown, unknown>;
  readonly config: RunConfig;
  readonly events: RunEvents;
  /** The run's state as it starts running. */
  readonly state: RunState;
  readonly inputs: unknown;
  /** The last journal sequence number stored. */
  readonly seq: number;
  /** The journal records the store holds after its snapshot (a resume). */
  readonly journalRecords?: number | undefined;
  readonly lease: Lease;
  /** The session's current state (the engine's while it runs, the final one after). */
  readonly getState: () => RunState;
  /** Runs `ctx.run` child runs. @default `ctx.run` rejects */
  readonly childRuns?: ChildRunner | undefined;
}): { readonly journal: PersistenceObserver; readonly engine: ForwardScheduler<unknown> } {
  const { graph, config, events, state, getState } = params;
  const { store, runId, clock } = config;
  const built: { engine?: ForwardScheduler<unknown> } = {};
  const journal = new PersistenceObserver({
    store,
    runId,
    policy: config.snapshot,
    clock,
    events,
    getState,
    seq: params.seq,
    journalRecords: params.journalRecords,
    nodeCount: graph.size,
    // Every write carries the lease: once another driver takes the run over, the store refuses them (LeaseLostError).
    lease: params.lease,
  });
  const engine = new ForwardScheduler<unknown>(graph, state, params.inputs, journal, events, {
    maxConcurrency: config.maxConcurrency,
    retry: config.retry,
    continueOnError: config.continueOnError,
    clock,
    random: config.random,
    inbox: state.meta.inbox,
    maxVisits: config.maxVisits,
    executor: config.executor,
    childRuns: params.childRuns,
  });
  built.engine = engine;
  return { journal, engine };
}

function deferred<T>(): { readonly promise: Promise<T>; readonly resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
