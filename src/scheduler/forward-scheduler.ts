/**
 * `ForwardScheduler`: runs a graph's nodes forward from a run state until
 * every node settled, a node failed the run, or the run was cancelled.
 *
 * Each node activation moves through
 * `pending → ready → running → (retrying → running)* → succeeded | failed | cancelled`.
 * Ready activations go into a p-queue whose concurrency is
 * `maxConcurrency`, so at most that many node bodies run at once; retry
 * sleeps happen outside the queue and hold no slot. When a body succeeds
 * the node is recorded and the scheduler awaits the journal's barrier
 * before asking the {@link ReadySet} which nodes that unblocks, so (under
 * the default snapshot policy) a node's result is durable before any
 * dependent starts.
 *
 * Node transitions ({@link NodeTransition}) produce new records that wait
 * in `#changed` until the state is next read (by a compaction, a handle,
 * the end of the run); then one `commitNodes` lays them all into the
 * state, so immer's cost is paid once per batch, not once per transition.
 * Journal appends read the changed records through {@link record} and do
 * not need a commit. What the scheduler itself needs on the hot path (attempt
 * numbers, the outputs that feed `deps`) it keeps in two maps that mirror
 * the state.
 *
 * Invariants:
 * - `#outstanding` counts activations dispatched and not yet settled
 *   (queued, running, or sleeping before a retry); the run is over when
 *   it reaches zero and nothing more can be dispatched.
 * - Once `#stopping` is set (first failure without `continueOnError`,
 *   cancellation, or a store failure) nothing new starts: running bodies
 *   are aborted through their signals, queued ones return at once,
 *   sleeping retries are woken and cancelled.
 * - An attempt ends when its body settles or its signal aborts, whichever
 *   comes first, so a body that ignores its signal cannot hold a run open.
 *
 * @module
 */
import PQueue from "p-queue";
import { describe as describeError, InvalidOptionError, NodeFailedError, NodeTimeoutError, PersistenceError, RunCancelledError } from "../errors.js";
import type { RunEvents } from "../events/run-events.js";
import type { NodeContext } from "../graph/node-context.js";
import type { NodeDefinition, TaskGraph } from "../graph/task-graph.js";
import type { RunJournal } from "../persistence/run-journal.js";
import { isDurable } from "../persistence/serialization.js";
import { toErrorRecord } from "../state/error-record.js";
import { getNode, nodeRecords } from "../state/node-table.js";
import {
  commitNodes,
  markCancelled,
  markFailed,
  markReady,
  markRetrying,
  markRunning,
  markSucceeded,
  nodeOf,
  recordStep,
  type NodeTransition,
  type RunState,
} from "../state/run-state.js";
import type { NodeRecord } from "../state/records.js";
import { sleep, type Clock, type TimerHandle } from "./clock.js";
import { AttemptAbort, AttemptContext, type AttemptHost } from "./attempt-context.js";
import { ReadySet } from "./ready-set.js";
import { backoffDelay, resolveRetryPolicy, shouldRetry, type RetryOptions, type RetryPolicy } from "./retry-policy.js";

/** How the scheduler runs. */
export interface SchedulerConfig {
  /** At most this many node bodies at once. */
  readonly maxConcurrency: number;
  /** The run-level retry options. */
  readonly retry?: RetryOptions | undefined;
  /** Let independent branches finish after a node fails. */
  readonly continueOnError: boolean;
  /** The clock for timeouts and retry sleeps. */
  readonly clock: Clock;
  /** Random numbers in [0, 1) for jitter. */
  readonly random: () => number;
}

/** How a scheduler's work ended. */
export type SchedulerOutcome =
  | { readonly status: "succeeded"; readonly state: RunState }
  | { readonly status: "failed"; readonly state: RunState; readonly error: unknown }
  | { readonly status: "cancelled"; readonly state: RunState; readonly reason: string };

const READY = markReady();

type AttemptResult =
  | { readonly kind: "ok"; readonly value: unknown; readonly attempt: number; readonly startedAt: number }
  | { readonly kind: "error"; readonly error: unknown; readonly attempt: number }
  | { readonly kind: "cancelled" };

type Stop =
  | { readonly kind: "failed"; readonly error: unknown }
  | { readonly kind: "cancelled"; readonly reason: string };

/**
 * Runs the unsettled nodes of one run.
 *
 * @example
 * ```ts
 * const scheduler = new ForwardScheduler(graph, state, inputs, journal, events, config);
 * const outcome = await scheduler.execute();
 * ```
 */
export class ForwardScheduler<I = unknown> implements AttemptHost {
  readonly #graph: TaskGraph<unknown, unknown>;
  readonly #inputs: I;
  readonly #journal: RunJournal;
  readonly #events: RunEvents;
  readonly #config: SchedulerConfig;
  readonly #queue: PQueue;
  readonly #runId: string;
  readonly #active = new Map<string, AttemptAbort>();
  readonly #sleeping = new Map<string, AbortController>();
  readonly #policies = new Map<string, RetryPolicy>();
  #runPolicy: RetryPolicy | undefined;
  /** Attempts started per activation in this execution (mirrors the records' `attempts`). */
  readonly #attempts = new Map<string, number>();
  /** Outputs of succeeded activations (mirrors the records' `output`), for `deps`. */
  readonly #outputs = new Map<string, unknown>();
  #state: RunState;
  /** Records changed since the last commit, by activation id. */
  #changed = new Map<string, NodeRecord>();
  #readySet: ReadySet | undefined;
  #outstanding = 0;
  #stopping: Stop | undefined;
  #firstFailure: NodeFailedError | undefined;
  #finished = false;
  #resolve!: (outcome: SchedulerOutcome) => void;
  readonly #done: Promise<SchedulerOutcome>;

  constructor(
    graph: TaskGraph<I, unknown>,
    state: RunState,
    inputs: I,
    journal: RunJournal,
    events: RunEvents,
    config: SchedulerConfig,
  ) {
    if (!(config.maxConcurrency >= 1)) throw new InvalidOptionError("maxConcurrency", "must be at least 1");
    this.#graph = graph as TaskGraph<unknown, unknown>;
    this.#state = state;
    this.#inputs = inputs;
    this.#journal = journal;
    this.#events = events;
    this.#config = config;
    this.#runId = state.meta.runId;
    this.#queue = new PQueue({ concurrency: config.maxConcurrency });
    this.#done = new Promise((resolve) => (this.#resolve = resolve));
    for (const n of nodeRecords(state.nodes)) {
      if (n.status === "succeeded") this.#outputs.set(n.id, n.output);
      if (n.attempts > 0) this.#attempts.set(n.id, n.attempts);
    }
  }

  /** The current run state, with every transition made so far applied. */
  get state(): RunState {
    if (this.#changed.size > 0) {
      const changed = this.#changed;
      this.#changed = new Map();
      this.#state = commitNodes(this.#state, changed.values(), this.#config.clock.now());
    }
    return this.#state;
  }

  /** The latest record of an activation, including changes not yet committed to {@link state}. */
  record(id: string): NodeRecord | undefined {
    return this.#changed.get(id) ?? getNode(this.#state.nodes, id);
  }

  /** Runs until done; never rejects (failures are outcomes). */
  execute(): Promise<SchedulerOutcome> {
    const { readySet, ready } = ReadySet.fromState(this.#graph, this.state);
    this.#readySet = readySet;
    for (const id of ready) this.#dispatch(id);
    this.#checkDone();
    return this.#done;
  }

  /** Stops the run: running bodies are aborted, nothing new starts. */
  cancel(reason: string): void {
    this.#stop({ kind: "cancelled", reason });
    this.#checkDone();
  }

  /** Fails the run with `error` (a lost lease, say): running bodies are aborted, nothing new starts. */
  fail(error: unknown): void {
    this.#stop({ kind: "failed", error });
    this.#checkDone();
  }

  #dispatch(id: string): void {
    this.#outstanding += 1;
    this.#change(id, READY);
    this.#enqueue(id);
  }

  #enqueue(id: string): void {
    void this.#queue.add(() => this.#attempt(id)).then(
      (result) => this.#afterAttempt(id, result as AttemptResult),
      (error: unknown) => this.#afterAttempt(id, { kind: "error", error, attempt: this.#attempts.get(id) ?? 0 }),
    );
  }

  /** Changes activation `id`'s record (not journaled: for transient statuses). */
  #change(id: string, transition: NodeTransition): void {
    const current = this.#changed.get(id) ?? nodeOf(this.#state, id);
    this.#changed.set(id, transition(current));
  }

  /** Changes activation `id`'s record and tells the journal (`urgent`: schedule a write for it). */
  #transition(transition: NodeTransition, id: string, urgent = true): void {
    this.#change(id, transition);
    this.#journal.record(id, urgent);
  }

  #policy(id: string, node: NodeDefinition | undefined = this.#graph.node(id)): RetryPolicy {
    if (node?.retry === undefined && node?.timeoutMs === undefined) {
      // Most nodes have no options of their own: they share the run's policy.
      return (this.#runPolicy ??= resolveRetryPolicy(this.#config.retry));
    }
    let policy = this.#policies.get(id);
    if (!policy) {
      policy = resolveRetryPolicy(this.#config.retry, node.retry, node.timeoutMs);
      this.#policies.set(id, policy);
    }
    return policy;
  }

  async #attempt(id: string): Promise<AttemptResult> {
    if (this.#stopping) return { kind: "cancelled" };
    const node = this.#graph.node(id);
    if (!node) throw new Error(`taskloom internal error: no node "${id}" in graph "${this.#graph.name}"`);
    const clock = this.#config.clock;
    const startedAt = clock.now();
    // Not urgent: a crash resets running nodes anyway, so this rides along with the next write.
    this.#transition(markRunning(startedAt), id, false);
    const attempt = (this.#attempts.get(id) ?? 0) + 1;
    this.#attempts.set(id, attempt);
    if (this.#events.has("node:start")) {
      this.#events.emit("node:start", { runId: this.#runId, at: startedAt, nodeId: id, attempt });
    }
    const abort = new AttemptAbort();
    this.#active.set(id, abort);
    const policy = this.#policy(id, node);
    let timer: TimerHandle | undefined;
    if (policy.timeoutMs !== undefined) {
      const ms = policy.timeoutMs;
      timer = clock.setTimeout(() => abort.abort(new NodeTimeoutError(id, ms)), ms);
    }
    try {
      const context = this.#context(node, attempt, abort);
      const value = await abort.race(node.fn(context));
      return { kind: "ok", value, attempt, startedAt };
    } catch (error) {
      if (abort.aborted) {
        const reason = abort.reason;
        return reason instanceof NodeTimeoutError ? { kind: "error", error: reason, attempt } : { kind: "cancelled" };
      }
      return { kind: "error", error, attempt };
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
      this.#active.delete(id);
    }
  }

  #context(node: NodeDefinition, attempt: number, abort: AttemptAbort): AttemptContext<I> {
    const deps: Record<string, unknown> = {};
    for (const dep of node.after) deps[dep] = this.#outputs.get(dep);
    return new AttemptContext(this, abort, this.#inputs, deps, this.#runId, node.id, attempt);
  }

  /** @internal `ctx.emit` */
  emitFrom(nodeId: string, name: string, data: unknown): void {
    this.#events.emit("node:event", { runId: this.#runId, at: this.#config.clock.now(), nodeId, name, data });
  }

  /** @internal `ctx.step` */
  async runStep<T>(context: AttemptContext<unknown>, name: string, fn: () => T | Promise<T>): Promise<T> {
    const id = context.nodeId;
    if (typeof name !== "string" || name === "") throw new InvalidOptionError("step(name)", "must be a non-empty string");
    if (typeof fn !== "function") throw new InvalidOptionError(`step("${name}", fn)`, "fn must be a function");
    context.usedSteps ??= new Set();
    if (context.usedSteps.has(name)) {
      throw new InvalidOptionError(`step("${name}")`, `is called twice in one attempt of node "${id}"; give each step a unique name`);
    }
    context.usedSteps.add(name);
    const steps = (this.#changed.get(id) ?? nodeOf(this.#state, id)).steps;
    if (steps && Object.prototype.hasOwnProperty.call(steps, name)) return steps[name] as T;
    const value = await fn();
    const abort = context.abortState;
    if (abort.aborted) throw abort.reason;
    if (!isDurable(value)) {
      this.#warn(id, "STEP_NOT_DURABLE", `step "${name}" of node "${id}" returned a value that cannot be stored; it will run again on resume`);
      return value;
    }
    this.#transition(recordStep(name, value), id);
    await this.#journal.barrier();
    return value;
  }

  async #afterAttempt(id: string, result: AttemptResult): Promise<void> {
    const now = this.#config.clock.now();
    switch (result.kind) {
      case "ok": {
        const durable = isDurable(result.value);
        if (!durable) {
          this.#warn(id, "OUTPUT_NOT_DURABLE", `node "${id}" returned an output that cannot be stored (a function, a class instance or a cycle); it will run again on resume`);
        }
        this.#outputs.set(id, result.value);
        this.#transition(markSucceeded(result.value, durable, now), id);
        if (this.#events.has("node:success")) {
          this.#events.emit("node:success", {
            runId: this.#runId,
            at: now,
            nodeId: id,
            attempt: result.attempt,
            output: result.value,
            durationMs: now - result.startedAt,
          });
        }
        try {
          await this.#journal.barrier();
        } catch (error) {
          this.#stop({ kind: "failed", error: error instanceof PersistenceError ? error : new PersistenceError(this.#runId, error) });
        }
        const unblocked = this.#readySet?.settle(id) ?? [];
        this.#outstanding -= 1;
        if (!this.#stopping) for (const next of unblocked) this.#dispatch(next);
        break;
      }
      case "error": {
        const policy = this.#policy(id);
        if (!this.#stopping && shouldRetry(policy, result.error, result.attempt)) {
          this.#scheduleRetry(id, result.error, result.attempt, policy);
          return;
        }
        this.#transition(markFailed(toErrorRecord(result.error), now), id);
        this.#events.emit("node:error", { runId: this.#runId, at: now, nodeId: id, attempt: result.attempt, error: result.error });
        this.#outstanding -= 1;
        if (!this.#stopping) {
          const failure = new NodeFailedError(this.#runId, id, result.attempt, result.error);
          if (this.#config.continueOnError) this.#firstFailure ??= failure;
          else this.#stop({ kind: "failed", error: failure });
        }
        break;
      }
      case "cancelled": {
        this.#transition(markCancelled(now), id);
        this.#outstanding -= 1;
        break;
      }
    }
    this.#checkDone();
  }

  #scheduleRetry(id: string, error: unknown, attempt: number, policy: RetryPolicy): void {
    const clock = this.#config.clock;
    const delayMs = backoffDelay(policy, attempt, this.#config.random);
    const now = clock.now();
    this.#transition(markRetrying(toErrorRecord(error), now + delayMs), id);
    this.#events.emit("node:retry", { runId: this.#runId, at: now, nodeId: id, attempt, delayMs, error });
    const controller = new AbortController();
    this.#sleeping.set(id, controller);
    sleep(clock, delayMs, controller.signal).then(
      () => {
        this.#sleeping.delete(id);
        if (this.#stopping) void this.#afterAttempt(id, { kind: "cancelled" });
        else this.#enqueue(id);
      },
      () => {
        this.#sleeping.delete(id);
        void this.#afterAttempt(id, { kind: "cancelled" });
      },
    );
  }

  #stop(stop: Stop): void {
    if (this.#stopping) return;
    this.#stopping = stop;
    const reason = new RunCancelledError(
      this.#runId,
      stop.kind === "cancelled" ? stop.reason : `another node failed: ${describeError(stop.error)}`,
    );
    for (const controller of this.#active.values()) controller.abort(reason);
    for (const controller of this.#sleeping.values()) controller.abort(reason);
  }

  #warn(nodeId: string, code: string, message: string): void {
    this.#events.emit("warning", { runId: this.#runId, at: this.#config.clock.now(), nodeId, code, message });
  }

  #checkDone(): void {
    if (this.#finished || this.#outstanding > 0) return;
    this.#finished = true;
    const state = this.state;
    const stop = this.#stopping;
    if (stop?.kind === "cancelled") this.#resolve({ status: "cancelled", state, reason: stop.reason });
    else if (stop?.kind === "failed") this.#resolve({ status: "failed", state, error: stop.error });
    else if (this.#firstFailure) this.#resolve({ status: "failed", state, error: this.#firstFailure });
    else if ((this.#readySet?.unsettled ?? 0) > 0) {
      this.#resolve({
        status: "failed",
        state,
        error: new Error(`taskloom internal error: run "${this.#runId}" stopped with ${this.#readySet?.unsettled} nodes unsettled and none running`),
      });
    } else this.#resolve({ status: "succeeded", state });
  }
}
