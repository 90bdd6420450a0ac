/**
 * Why this file is 456 lines (125 of them comments, this one 57; 331 of
 * code): it is one concept, the settle of an attempt and what follows from
 * it (record, barrier, next dispatch, retry, stop, outcome), and its
 * counter `#outstanding` must change in the same steps as each of them, so
 * splitting the settle from the dispatch would put the counter's
 * invariant in two files. What stands alone is elsewhere: what may start
 * (`frontier.ts`, `ready-set.ts`), the slots (`slot-queue.ts`), attempts
 * (`attempts.ts`), retry sleeps (`retry-sleeps.ts`), the record buffer
 * (`record-buffer.ts`). The twenty-ninth pass added about 30 lines: a
 * `retryOn` that throws, and an error whose fields throw when read
 * (`isReadable`), no longer leave a run hanging. The thirty-second pass
 * added 3: a map node counts apart from the busy ones (`MapNodes`), so a
 * run whose map elements all wait ends waiting instead of hanging. The
 * thirty-third added 12: `onEnd` hooks, so that what outlives an attempt
 * (a timed-out body's watch, `lingering-bodies.ts`) ends with the run.
 *
 * The run loop: counts what is outstanding, dispatches activations,
 * settles each attempt's result, stops the run, and decides when it is
 * over. Every feature plugs in through a narrow interface: the
 * {@link Frontier} says what may start next, {@link ActivationOwner}s
 * (graphFn steps, map fan-out) hear of the activations they own, retry
 * sleeps take a failed attempt that may retry, and stop hooks (a list of
 * release functions, as graphile-worker frees resources) run once when
 * the run stops.
 *
 * Each node activation moves through
 * `pending → ready → running → (retrying → running)* → succeeded | failed | cancelled`,
 * and `running → waiting → running` around a `ctx.waitFor`.
 *
 * Durability. When a body succeeds the node is recorded and the frontier
 * works out which activations that unblocks; the loop waits for the
 * journal's barrier before it starts them (or hands the result to a
 * graphFn body or map node), so (under the default snapshot policy) a
 * node's result is durable before anything uses it. It waits through the
 * journal's `whenDurable` callback (no promise per success; a journal
 * without it through `barrier()`). A success nothing
 * waits for (a leaf, a fan-out branch whose join still waits for others)
 * waits for no barrier: its record goes with the next group commit, and the
 * run's final snapshot waits for that. At a million branches that is a
 * million suspended settles and barrier waiters fewer.
 *
 * Invariants:
 * - `#outstanding` counts activations dispatched and not yet settled
 *   (queued, running, sleeping before a retry, or waiting), plus a running
 *   graphFn body; the run is over when it reaches zero, or when every
 *   outstanding one is waiting ("nothing left but waits"), the graphFn
 *   body and the map nodes (busy only through their steps and elements)
 *   left out.
 * - Once `#stopping` is set (first failure without `continueOnError`,
 *   cancellation, a store failure) nothing new starts: the stop hooks
 *   abort running and waiting attempts, end queued ones at once, and wake
 *   and cancel sleeping retries.
 * - The outcome is resolved once (`#finished`).
 *
 * @module
 */
import type { Clock } from "../core/clock.js";
import { checkDurable } from "../core/value-codec.js";
import { describe as describeError } from "../errors.js";
import type { RunEvents } from "../events/run-events.js";
import type { TaskGraph } from "../graph/task-graph.js";
import { MAX_CAUSE_DEPTH, toErrorRecord } from "../state/error-record.js";
import { markCancelled, markFailed, markReady, markSucceeded } from "../state/node-transitions.js";
import type { ActivationDefs } from "./activation-defs.js";
import type { ActivationNames } from "./activation-names.js";
import type { Frontier } from "./frontier.js";
import { unroute, type Unrouted } from "./frontier.js";
import type { RunJournal } from "./journal-port.js";
import type { RecordBuffer } from "./record-buffer.js";
import { shouldRetry } from "./retry-policy.js";
import type { RetrySleeps } from "./retry-sleeps.js";
import type { ActivationOwner, AttemptResult, Coordinator, MapNodes, SchedulerOutcome, Stop } from "./loop-types.js";
import { LeaseLostError, NodeFailedError, PersistenceError, RunCancelledError, ValueNotStorableError } from "./errors.js";
import { type PendingWait } from "../state/waits.js";

/** The parts the loop is plugged with. */
export interface LoopParts {
  readonly frontier: Frontier;
  readonly defs: ActivationDefs;
  readonly retries: RetrySleeps;
  readonly owners: readonly ActivationOwner[];
  readonly coordinator: Coordinator;
  readonly maps: MapNodes;
  /** The open waits, their timers stopped: the run ends as waiting. */
  readonly closeWaits: () => PendingWait[];
  /** Queues one activation. */
  readonly enqueue: (id: string) => void;
  /** Queues the graph node at `position` (of `graph.order`). */
  readonly enqueueAt: (position: number) => void;
}

const READY = markReady();
/** What `settle` returns when it finished at once. */
const DONE: Promise<void> = Promise.resolve();

/** The loop over one run's activations. */
export class RunLoop {
  readonly #graph: TaskGraph<unknown, unknown>;
  readonly #runId: string;
  readonly #clock: Clock;
  readonly #events: RunEvents;
  readonly #names: ActivationNames;
  readonly #buffer: RecordBuffer;
  readonly #journal: RunJournal;
  readonly #continueOnError: boolean;
  readonly #stopHooks: ((reason: RunCancelledError) => void)[] = [];
  readonly #endHooks: (() => void)[] = [];
  #parts!: LoopParts;
  #outstanding = 0;
  #waiting = 0;
  #stopping: Stop | undefined;
  #firstFailure: Error | undefined;
  #finished = false;
  #resolve!: (outcome: SchedulerOutcome) => void;
  /** The outcome, once the run is over. */
  readonly done: Promise<SchedulerOutcome>;

  constructor(env: {
    readonly graph: TaskGraph<unknown, unknown>;
    readonly runId: string;
    readonly clock: Clock;
    readonly events: RunEvents;
    readonly names: ActivationNames;
    readonly buffer: RecordBuffer;
    readonly journal: RunJournal;
    readonly continueOnError: boolean;
  }) {
    this.#graph = env.graph;
    this.#runId = env.runId;
    this.#clock = env.clock;
    this.#events = env.events;
    this.#names = env.names;
    this.#buffer = env.buffer;
    this.#journal = env.journal;
    this.#continueOnError = env.continueOnError;
    this.done = new Promise((resolve) => (this.#resolve = resolve));
  }

  /** Plugs the features in (they are built with the loop, so after it). */
  plug(parts: LoopParts): void {
    this.#parts = parts;
  }

  /** Adds a hook run once when the run stops, in the order added. */
  onStop(hook: (reason: RunCancelledError) => void): void {
    this.#stopHooks.push(hook);
  }

  /** Adds a hook run once when the run ends (whatever its outcome), before its outcome is handed over. */
  onEnd(hook: () => void): void {
    this.#endHooks.push(hook);
  }

  /** The run ended: nothing more happens in it. */
  #ended(): void {
    this.#finished = true;
    for (const hook of this.#endHooks) hook();
  }

  get stopping(): Stop | undefined {
    return this.#stopping;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Counts `n` more outstanding (a graphFn body: 1). */
  hold(n: number): void {
    this.#outstanding += n;
  }

  /** One outstanding thing ended without an attempt result (a graphFn body). */
  release(): void {
    this.#outstanding -= 1;
  }

  /** An attempt suspended in `waitFor`. */
  suspended(): void {
    this.#waiting += 1;
  }

  /** A suspended attempt goes on (or ended). */
  resumed(): void {
    this.#waiting -= 1;
  }

  /**
   * Queues activations. All of them count as outstanding before the first
   * is queued: p-queue may run a task synchronously inside `add`, and a
   * node that settles at once must not see the run as finished while its
   * siblings are still to be queued.
   */
  dispatch(ids: readonly string[]): void {
    this.#outstanding += ids.length;
    for (const id of ids) this.#buffer.change(id, READY);
    for (const id of ids) this.#parts.enqueue(id);
  }

  /**
   * {@link dispatch} of graph nodes given by their positions in
   * `graph.order` (what the ready set says): each node's record is looked
   * for at its position and its attempt queued with it, with no id lookup
   * (see `ready-set.ts`); a pending one gets its ready record only when
   * the state is next read (`RecordBuffer.readyAt`).
   */
  dispatchAt(positions: readonly number[]): void {
    const order = this.#graph.order;
    this.#outstanding += positions.length;
    for (const p of positions) this.#buffer.readyAt(order[p]!, p);
    for (const p of positions) this.#parts.enqueueAt(p);
  }

  /** Stops the run: nothing new starts, and the stop hooks abort what runs. */
  stop(stop: Stop): void {
    if (this.#stopping) return;
    this.#stopping = stop;
    const reason = new RunCancelledError(this.#runId, stop.kind === "cancelled" ? stop.reason : `another node failed: ${describeError(stop.error)}`);
    for (const hook of this.#stopHooks) hook(reason);
  }

  /** A node failed the run: stops it, or with `continueOnError` lets the rest finish and fails it then. */
  nodeFailed(error: Error): void {
    if (this.#stopping) return;
    if (this.#continueOnError) this.#firstFailure ??= error;
    else this.stop({ kind: "failed", error });
  }

  warn(nodeId: string, code: string, message: string): void {
    this.#events.emit("warning", { runId: this.#runId, at: this.#clock.now(), nodeId, code, message });
  }

  /**
   * Settles one attempt's result: records it, tells the frontier and the
   * owner, retries or fails. `position`: the activation's graph position,
   * when its attempt was queued with it (else -1).
   */
  settle(id: string, result: AttemptResult, position = -1): Promise<void> {
    const now = this.#clock.now();
    const { frontier, owners } = this.#parts;
    switch (result.kind) {
      case "ok": {
        let unrouted: Unrouted;
        // Undefined for a small scalar, which is always stored exactly (most outputs: no walk, no allocation).
        let durability: ReturnType<typeof checkDurable> | undefined;
        const visit = frontier.visit(id);
        try {
          // Both read the output (getters, proxy traps): what they throw is a failed attempt, never an escape.
          unrouted = unroute(this.#graph, visit?.nodeId ?? id, result.value);
          if ("error" in unrouted) return this.settle(id, { kind: "error", error: unrouted.error, attempt: result.attempt });
          durability = isSmallScalar(unrouted.value) ? undefined : checkDurable(unrouted.value);
        } catch (error) {
          return this.settle(id, { kind: "error", error, attempt: result.attempt });
        }
        const value = unrouted.value;
        const durable = durability === undefined || durability.ok;
        if (durability !== undefined && !durability.ok) {
          this.warn(
            id,
            "OUTPUT_NOT_DURABLE",
            `node "${id}" returned an output that cannot be stored exactly (${durability.reason}); it will run again on resume`,
          );
        }
        if (visit !== undefined && visit.visit > 1) this.#buffer.setLatestVisitOutput(visit.nodeId, value);
        // The last activation outstanding: what it unblocks waits for a barrier (which makes the write urgent), and
        // if nothing does, the run ends now and its final write (the end's append) carries this record: one write, not two.
        // A routed graph's settle order goes in the success's record (journaled with it).
        this.#buffer.transitionAt(markSucceeded(value, durable, now, unrouted.route, frontier.nextSettleOrder()), id, position, this.#outstanding > 1);
        if (this.#events.has("node:success")) {
          this.#events.emit(
            "node:success",
            this.#names.tag(id, {
              runId: this.#runId,
              at: now,
              nodeId: id,
              attempt: result.attempt,
              output: value,
              durationMs: now - result.startedAt,
              ...(unrouted.route !== undefined && { route: unrouted.route }),
            }),
          );
        }
        // What the success unblocks is worked out now and started only once the result is durable.
        const next = frontier.succeeded(id, unrouted.route, position);
        // Nothing waits for this result (no dependent to start, no graphFn body or map node to hand it to):
        // it is written with the next group commit, and the end of the run waits for that write anyway.
        if (next === undefined && !this.#parts.defs.has(id)) {
          this.#outstanding -= 1;
          break;
        }
        return this.#afterBarrier(id, result.value, next);
      }
      case "error": {
        if (!isReadable(result.error)) {
          const error = new TypeError(`node "${id}" threw a value that cannot be read (a revoked Proxy?)`);
          return this.settle(id, { kind: "error", error, attempt: result.attempt });
        }
        const policy = this.#parts.defs.policy(id);
        const isMap = this.#graph.node(id)?.map !== undefined;
        let error = result.error;
        let retry = false;
        try {
          retry = !this.#stopping && !isMap && shouldRetry(policy, error, result.attempt);
        } catch (thrown) {
          // A retryOn that throws cannot say yes: the node fails now, with both errors (never an escape, never a hang).
          error = retryOnThrew(id, result.attempt, error, thrown);
        }
        if (retry) {
          this.#parts.retries.schedule(id, error, result.attempt, policy);
          return DONE;
        }
        this.#buffer.transition(markFailed(toErrorRecord(error), now), id);
        this.#events.emit("node:error", this.#names.tag(id, { runId: this.#runId, at: now, nodeId: id, attempt: result.attempt, error }));
        frontier.failed(id);
        this.#outstanding -= 1;
        const failure = new NodeFailedError(this.#runId, id, result.attempt, error);
        // A graphFn step's failure goes to the body that awaits it, which may catch it; a map element's, to its map node.
        const end = { kind: "error", error: failure } as const;
        if (owners.some((owner) => owner.settled(id, end))) break;
        this.nodeFailed(failure);
        break;
      }
      case "cancelled": {
        this.#buffer.transition(markCancelled(now), id);
        frontier.failed(id);
        this.#outstanding -= 1;
        const reason = this.#stopping?.kind === "cancelled" ? this.#stopping.reason : "the run stopped";
        const end = { kind: "cancelled", error: new RunCancelledError(this.#runId, reason) } as const;
        for (const owner of owners) if (owner.settled(id, end)) break;
        break;
      }
    }
    this.checkDone();
    return DONE;
  }

  /**
   * The end of a success that something waits for: once its result is
   * durable, hands it on and starts what it unblocked. Waits through the
   * journal's `whenDurable` callback when it has one (no promise per
   * step), else through `barrier()`.
   */
  #afterBarrier(id: string, value: unknown, next: (() => void) | undefined): Promise<void> {
    const journal = this.#journal;
    if (journal.whenDurable) {
      journal.whenDurable((failure) => this.#handOn(id, value, next, failure !== undefined, failure));
    } else {
      journal.barrier().then(
        () => this.#handOn(id, value, next, false, undefined),
        (error: unknown) => this.#handOn(id, value, next, true, error),
      );
    }
    return DONE;
  }

  #handOn(id: string, value: unknown, next: (() => void) | undefined, failed: boolean, error: unknown): void {
    if (failed) {
      // The observer's failure is typed already: a disk problem, a lost lease (the run was taken over), or a value the serializer refused.
      const typed = error instanceof PersistenceError || error instanceof LeaseLostError || error instanceof ValueNotStorableError;
      this.stop({ kind: "failed", error: typed ? error : new PersistenceError(this.#runId, error) });
    }
    this.#outstanding -= 1;
    const end = { kind: "ok", value } as const;
    for (const owner of this.#parts.owners) if (owner.settled(id, end)) break;
    next?.();
    this.checkDone();
  }

  /** Ends the run when nothing is outstanding, or when only waits are. */
  checkDone(onlyWaitsConfirmed = false): void {
    if (this.#finished) return;
    const { coordinator, frontier, maps } = this.#parts;
    if (this.#outstanding > 0) {
      // A graphFn body that awaits only waiting steps is waiting too, and so is a map node whose elements all wait.
      const busy = this.#outstanding - (coordinator.running ? 1 : 0) - maps.running;
      if (this.#stopping || this.#waiting === 0 || busy !== this.#waiting) return;
      // Not in this turn: a body goes on after waitFor handed back its promise (a second waitFor in
      // a Promise.all, say), and what it does then (fail the node) must count before the run stops.
      if (!onlyWaitsConfirmed) {
        setImmediate(() => this.checkDone(true));
        return;
      }
      // Only waits are left: the run stops here and is resumed by runAsync once events arrive.
      this.#ended();
      const waits = this.#parts.closeWaits();
      this.#resolve({ status: "waiting", state: this.#buffer.state, waits });
      return;
    }
    this.#ended();
    const state = this.#buffer.state;
    const stop = this.#stopping;
    if (stop?.kind === "cancelled") this.#resolve({ status: "cancelled", state, reason: stop.reason });
    else if (stop?.kind === "failed") this.#resolve({ status: "failed", state, error: stop.error });
    else if (this.#firstFailure) this.#resolve({ status: "failed", state, error: this.#firstFailure });
    else if (frontier.unsettled > 0) {
      this.#resolve({
        status: "failed",
        state,
        error: new Error(`taskloom internal error: run "${this.#runId}" stopped with ${frontier.unsettled} nodes unsettled and none running`),
      });
    } else {
      const result = coordinator.result;
      this.#resolve({ status: "succeeded", state, ...(result !== undefined && { outputs: result }) });
    }
  }
}

/** The error a node fails with when its `retryOn` threw `thrown` on the error of attempt `attempt`. */
function retryOnThrew(id: string, attempt: number, error: unknown, thrown: unknown): Error {
  const what = (value: unknown): string => (isReadable(value) ? describeError(value) : "a value that cannot be read");
  return new Error(
    `retryOn of node "${id}" threw (${what(thrown)}) when asked about the error of attempt ${attempt} (${what(error)}), so the node was not retried; ` +
      "make retryOn return true or false",
    // A cause that throws when looked at (a revoked Proxy) would break the error's record.
    isReadable(thrown) ? { cause: thrown } : undefined,
  );
}

/** True for a value `checkDurable` always finds durable and need not walk: a number, boolean, null, undefined or short string. */
function isSmallScalar(value: unknown): boolean {
  switch (typeof value) {
    case "number":
    case "boolean":
    case "undefined":
      return true;
    case "string":
      return value.length <= 1_024;
    default:
      return value === null;
  }
}

/**
 * False for a thrown value that throws when looked at: a revoked Proxy, or
 * an error whose `name`, `message`, `stack`, `code` or `cause` (or those
 * of a cause, as deep as an error record goes) throws when read (a getter,
 * a Proxy's trap). Retry decisions, error records and messages all read
 * them, and what they throw must not escape the run (it left the run
 * hanging).
 */
export function isReadable(error: unknown): boolean {
  try {
    let e: unknown = error;
    for (let depth = 0; depth <= MAX_CAUSE_DEPTH && e instanceof Error; depth++) {
      void e.name;
      void e.message;
      void e.stack;
      void (e as { code?: unknown }).code;
      e = (e as { cause?: unknown }).cause;
    }
    return true;
  } catch {
    return false;
  }
}
