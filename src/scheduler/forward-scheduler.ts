/**
 * `ForwardScheduler`: runs a graph's nodes forward from a run state until
 * every node settled, a node failed the run, the run was cancelled, or
 * nothing is left but waiting for external events.
 *
 * Each node activation moves through
 * `pending → ready → running → (retrying → running)* → succeeded | failed | cancelled`,
 * and `running → waiting → running` around a `ctx.waitFor`.
 *
 * Concurrency. A ready activation is a task in a p-queue whose
 * concurrency is `maxConcurrency`. The task holds a *slot* that the
 * attempt gives back when its body settles, when it is aborted, or when
 * it suspends in `waitFor`; a delivered event takes a slot again before
 * the body goes on. So at most `maxConcurrency` bodies run at once, and
 * neither retry sleeps (outside the queue) nor waits hold a slot.
 *
 * Durability. When a body succeeds the node is recorded and the scheduler
 * awaits the journal's barrier before asking the {@link ReadySet} which
 * nodes that unblocks, so (under the default snapshot policy) a node's
 * result is durable before any dependent starts.
 *
 * State. Node transitions ({@link NodeTransition}) produce new records that
 * wait in `#changed` until the state is next read (by a compaction, a
 * handle, the end of the run); then one `commitNodes` lays them all into
 * the state, so immer's cost is paid once per batch, not once per
 * transition. Journal appends read the changed records through
 * {@link ForwardScheduler.record} and need no commit. What the hot path
 * needs (attempt numbers, the outputs that feed `deps`) is mirrored in two maps.
 *
 * Dynamic graphs (`graphFn`). The body runs as a coordinator outside the
 * queue; each `ctx.step(id, fn)` appends an activation record (in call
 * order) and is queued like any node. On replay a succeeded step resolves
 * from its record without running, and the i-th step asked for must be
 * the i-th recorded, or the step rejects with `NonDeterminismError`.
 *
 * Map nodes. A map node does not run its body itself: when it starts it
 * appends one activation per element of its source's array (`id[i]`),
 * queues them (at most its own `maxConcurrency` at a time, within the
 * run's), and succeeds with their outputs in order once all have. Elements
 * retry on their own; the map node is never retried as a whole.
 *
 * Invariants:
 * - `#outstanding` counts activations dispatched and not yet settled
 *   (queued, running, sleeping before a retry, or waiting); the run is
 *   over when it reaches zero, or when every outstanding one is waiting.
 * - Once `#stopping` is set (first failure without `continueOnError`,
 *   cancellation, a store failure) nothing new starts: running and
 *   waiting attempts are aborted, queued ones end at once, sleeping
 *   retries are woken and cancelled.
 * - An attempt ends when its body settles or it is aborted, whichever
 *   comes first (`LiveAttempt.done`), so a body that ignores its signal
 *   cannot hold a run open; its late result is ignored.
 *
 * @module
 */
import PQueue from "p-queue";
import { sleep, type Clock, type TimerHandle } from "../core/clock.js";
import { elementId } from "../core/ids.js";
import { describe as describeError, InvalidOptionError } from "../errors.js";
import {
  LoopLimitExceeded,
  NodeFailedError,
  NodeTimeoutError,
  NonDeterminismError,
  LeaseLostError,
  PersistenceError,
  RunCancelledError,
  UnknownRouteError,
  ValueNotStorableError,
  WaitAlreadyResolvedError,
  WaitNotFoundError,
  WaitTimeoutError,
} from "../engine/errors.js";
import { InputValidationError, NonRetryableError } from "../graph/errors.js";
import type { PendingWait } from "../state/waits.js";
import type { RunEvents } from "../events/run-events.js";
import { isInputValidator, validateInput, type InputValidator } from "../graph/input-validator.js";
import type { WaitOptions } from "../graph/node-context.js";
import { assertOptionKeys, STEP_OPTION_KEYS, WAIT_OPTION_KEYS } from "../graph/option-keys.js";
import { isRoute } from "../graph/route.js";
import type { GraphFnContext, MapSpec, NodeDefinition, StepOptions } from "../graph/definition.js";
import type { TaskGraph } from "../graph/task-graph.js";
import type { RunJournal } from "../persistence/run-journal.js";
import { checkDurable } from "../persistence/durable-value.js";
import { isDurable } from "../persistence/serialization.js";
import { toErrorRecord } from "../state/error-record.js";
import { getNode, nodeRecords } from "../state/node-table.js";
import type { InboxEntry, NodeRecord, WaitRecord } from "../state/records.js";
import {
  appendNodes,
  commitNodes,
  markCancelled,
  markFailed,
  markReady,
  markRetrying,
  markRunning,
  markSettleOrder,
  markSkipped,
  markSucceeded,
  markWaiting,
  markWaitResolved,
  nodeOf,
  openWaitKeys,
  recordStep,
  type NodeTransition,
  type RunState,
} from "../state/run-state.js";
import { AttemptAbort, AttemptContext, type AttemptHost } from "./attempt-context.js";
import type { NodeExecutor } from "./node-executor.js";
import { ReadySet } from "./ready-set.js";
import { RoutingReadySet, type RoutingStep, type Visit } from "./routing-ready-set.js";
import { backoffDelay, resolveRetryPolicy, shouldRetry, type RetryPolicy } from "./retry-policy.js";
import { validateDuration, validateRetryOptions, type RetryOptions } from "../graph/retry-options.js";

/** How the scheduler runs. */
export interface SchedulerConfig {
  /** At most this many node bodies at once. */
  readonly maxConcurrency: number;
  /** The run-level retry options. */
  readonly retry?: RetryOptions | undefined;
  /** Let independent branches finish after a node fails. */
  readonly continueOnError: boolean;
  /** The clock for timeouts, retry sleeps and wait deadlines. */
  readonly clock: Clock;
  /** Random numbers in [0, 1) for jitter. */
  readonly random: () => number;
  /** Events delivered while no process drove the run, by wait key. */
  readonly inbox?: Readonly<Record<string, InboxEntry>> | undefined;
  /** At most this many visits of a node in a routing loop (a node's own `maxVisits` wins). @default 100 */
  readonly maxVisits?: number | undefined;
  /** Runs node bodies elsewhere (graphFn steps always run here). @default call the node's function in this process */
  readonly executor?: NodeExecutor | undefined;
}

/** The default of `maxVisits`: visits of one node in one run, through routing loops. */
export const DEFAULT_MAX_VISITS = 100;

/** How a scheduler's work ended. */
export type SchedulerOutcome =
  | { readonly status: "succeeded"; readonly state: RunState; readonly outputs?: { readonly value: unknown } }
  | { readonly status: "failed"; readonly state: RunState; readonly error: unknown }
  | { readonly status: "cancelled"; readonly state: RunState; readonly reason: string }
  | { readonly status: "waiting"; readonly state: RunState; readonly waits: readonly PendingWait[] };

type AttemptResult =
  | { readonly kind: "ok"; readonly value: unknown; readonly attempt: number; readonly startedAt: number; readonly route?: string }
  | { readonly kind: "error"; readonly error: unknown; readonly attempt: number }
  | { readonly kind: "cancelled" };

type Stop =
  | { readonly kind: "failed"; readonly error: unknown }
  | { readonly kind: "cancelled"; readonly reason: string };

/** One attempt that has started and not ended. */
interface LiveAttempt {
  readonly id: string;
  readonly attempt: number;
  readonly startedAt: number;
  readonly abort: AttemptAbort;
  timer: TimerHandle | undefined;
  /** Gives the attempt's concurrency slot back (set while it holds one). */
  release: (() => void) | undefined;
  /** The key it waits for, while suspended in `waitFor`. */
  waitingOn: string | undefined;
  done: boolean;
}

/** One open `waitFor`. */
interface OpenWait {
  readonly key: string;
  readonly nodeId: string;
  readonly since: number;
  readonly deadline: number | undefined;
  readonly schema: InputValidator<unknown> | undefined;
  readonly resolve: (payload: unknown) => void;
  readonly reject: (error: unknown) => void;
  timer: TimerHandle | undefined;
}

const READY = markReady();

/** A node's result once its route is taken off: the output and route, or the error of a route it cannot take. */
type Unrouted = { readonly value: unknown; readonly route?: string } | { readonly error: UnknownRouteError };

/** The progress of one map node's elements. */
interface MapRun {
  readonly id: string;
  readonly attempt: number;
  readonly startedAt: number;
  readonly elements: readonly string[];
  /** Elements still to run (not succeeded before), in order. */
  readonly todo: readonly string[];
  readonly limit: number;
  next: number;
  inflight: number;
  remaining: number;
  done: boolean;
}

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
  readonly #live = new Map<string, LiveAttempt>();
  readonly #sleeping = new Map<string, AbortController>();
  readonly #policies = new Map<string, RetryPolicy>();
  readonly #openWaits = new Map<string, OpenWait>();
  /** Deliveries held until their key's wait opens (see `deliver`). */
  readonly #opening = new Map<string, (() => void)[]>();
  readonly #inbox: Map<string, InboxEntry>;
  #runPolicy: RetryPolicy | undefined;
  /** Step definitions of a dynamic graph, by activation id. */
  readonly #steps = new Map<string, NodeDefinition>();
  /** Who awaits each step of a dynamic graph. */
  readonly #stepWaiters = new Map<string, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  /** The recorded step ids, in call order, when the run resumes. */
  #recordedSteps: string[] = [];
  #stepCalls = 0;
  /** Set while a dynamic graph's body has not settled. */
  #coordinator: "running" | { readonly value: unknown } | undefined;
  #coordinatorAbort: AbortController | undefined;
  /** Map nodes whose elements are running, by map node id. */
  readonly #maps = new Map<string, MapRun>();
  /** For each map element activation: its map node, element and index. */
  readonly #elementOf = new Map<string, { readonly map: string; readonly item: unknown; readonly index: number }>();
  /** Attempts started per activation in this execution (mirrors the records' `attempts`). */
  readonly #attempts = new Map<string, number>();
  /** Outputs of succeeded activations (mirrors the records' `output`), for `deps`. */
  readonly #outputs = new Map<string, unknown>();
  #state: RunState;
  /** Records changed since the last commit, by activation id. */
  #changed = new Map<string, NodeRecord>();
  /**
   * New activation records (graphFn steps, map elements) not yet in the
   * state: appended at the next commit, together, like other changes.
   * Until then their latest value is in `#changed`.
   */
  #appended: NodeRecord[] = [];
  #readySet: ReadySet | undefined;
  /** For a graph with routes: replaces {@link ReadySet}. */
  #routing: RoutingReadySet | undefined;
  /** Visits of a routed graph by activation id, while they may run. */
  readonly #visits = new Map<string, Visit>();
  /** The `deps` of visits of a routed graph, taken when each visit was started. */
  readonly #visitDeps = new Map<string, Record<string, unknown>>();
  /** The last settle order given to an activation of a routed graph. */
  #settleOrder = 0;
  #outstanding = 0;
  #waiting = 0;
  #stopping: Stop | undefined;
  #firstFailure: Error | undefined;
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
    this.#inbox = new Map(Object.entries(config.inbox ?? {}));
    this.#done = new Promise((resolve) => (this.#resolve = resolve));
    for (const n of nodeRecords(state.nodes)) {
      if (n.status === "succeeded") {
        this.#outputs.set(n.id, n.output);
        // A later visit's output is the node's latest (records are in the order visits began).
        if (n.visit !== undefined) this.#outputs.set(n.nodeId, n.output);
      }
      if (n.attempts > 0) this.#attempts.set(n.id, n.attempts);
      if (n.settleOrder !== undefined && n.settleOrder > this.#settleOrder) this.#settleOrder = n.settleOrder;
      if (this.#graph.dynamic) this.#recordedSteps.push(n.id);
    }
  }

  /** The current run state, with every transition made so far applied. */
  get state(): RunState {
    if (this.#appended.length > 0) {
      const appended = this.#appended;
      this.#appended = [];
      this.#state = appendNodes(this.#state, appended);
    }
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

  /** Events delivered and not yet taken by their node. */
  inbox(): Record<string, InboxEntry> {
    return Object.fromEntries(this.#inbox);
  }

  /** Runs until done; never rejects (failures are outcomes). */
  execute(): Promise<SchedulerOutcome> {
    if (this.#graph.routing) {
      const maxVisits = this.#config.maxVisits ?? DEFAULT_MAX_VISITS;
      const { readySet, step } = RoutingReadySet.fromState(this.#graph, this.state, maxVisits);
      this.#routing = readySet;
      this.#route(step, true);
    } else {
      const { readySet, ready } = ReadySet.fromState(this.#graph, this.state);
      this.#readySet = readySet;
      this.#dispatch(ready);
    }
    if (this.#graph.dynamic) this.#coordinate(this.#graph.dynamic);
    this.#checkDone();
    return this.#done;
  }

  /** Runs a dynamic graph's body; its result is the run's output. */
  #coordinate(body: (inputs: unknown, context: GraphFnContext) => Promise<unknown>): void {
    this.#coordinator = "running";
    this.#outstanding += 1;
    const context: GraphFnContext = {
      runId: this.#runId,
      signal: (this.#coordinatorAbort = new AbortController()).signal,
      step: (id, fn, options) => this.#step(id, fn as NodeDefinition["fn"], options) as Promise<never>,
      emit: (name, data) => this.emitFrom("$graphFn", name, data),
    };
    Promise.resolve()
      .then(() => body(this.#inputs, context))
      .then(
        (value) => {
          if (this.#coordinator !== "running") return; // let go of when the run stopped
          this.#coordinator = { value };
          this.#outstanding -= 1;
          this.#checkDone();
        },
        (thrown: unknown) => {
          if (this.#coordinator !== "running") return;
          this.#coordinator = undefined;
          this.#outstanding -= 1;
          const error = isReadable(thrown) ? thrown : new TypeError(`the body of graphFn "${this.#graph.name}" threw a value that cannot be read (a revoked Proxy?)`);
          if (!this.#stopping) this.#stop({ kind: "failed", error });
          this.#checkDone();
        },
      );
  }

  /** `ctx.step` of a dynamic graph. */
  #step(id: string, fn: NodeDefinition["fn"], options: StepOptions | undefined): Promise<unknown> {
    if (typeof id !== "string" || id.length === 0 || id.length > 200 || id.includes("#")) {
      return Promise.reject(new InvalidOptionError("step(id)", 'must be a string of 1 to 200 characters without "#"'));
    }
    if (typeof fn !== "function") return Promise.reject(new InvalidOptionError(`step("${id}", fn)`, "fn must be a function"));
    try {
      assertOptionKeys(`step("${id}")`, options, STEP_OPTION_KEYS);
      validateRetryOptions(options?.retry, `step("${id}") retry`);
      validateDuration(options?.timeoutMs, `step("${id}").timeoutMs`, false);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#stopping) return Promise.reject(new RunCancelledError(this.#runId, "the run is stopping"));
    // A refused call takes no position, so a body that catches the refusal replays in step with its journal.
    const position = this.#stepCalls;
    const expected = this.#recordedSteps[position];
    if (this.#steps.has(id) || (expected === undefined && this.record(id))) {
      return Promise.reject(new InvalidOptionError(`step("${id}")`, "is used twice in one run; give each step its own id"));
    }
    if (expected !== undefined && expected !== id) {
      return Promise.reject(new NonDeterminismError(this.#runId, position, expected, id));
    }
    this.#stepCalls += 1;
    this.#steps.set(id, {
      id,
      after: [],
      fn,
      ...(options?.retry !== undefined && { retry: options.retry }),
      ...(options?.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    });
    const existing = this.record(id);
    if (existing?.status === "succeeded" && existing.durable !== false) return Promise.resolve(existing.output);
    if (!existing) {
      this.#append([{ id, nodeId: id, status: "pending", attempts: 0 }]);
      // Journaled now, so the stored order of records is the call order replay checks.
      this.#journal.record(id, false);
    }
    const result = new Promise<unknown>((resolve, reject) => this.#stepWaiters.set(id, { resolve, reject }));
    this.#dispatch([id]);
    return result;
  }

  /** Starts a map node: queues its elements and gives its own slot back at once. */
  #startMap(id: string, node: NodeDefinition, spec: MapSpec): Promise<void> {
    const startedAt = this.#config.clock.now();
    this.#transition(markRunning(startedAt), id, false);
    const attempt = (this.#attempts.get(id) ?? 0) + 1;
    this.#attempts.set(id, attempt);
    this.#events.emit("node:start", { runId: this.#runId, at: startedAt, nodeId: id, attempt });
    const items = this.#outputs.get(spec.source);
    if (!Array.isArray(items)) {
      const got = items === null ? "null" : typeof items;
      const error = new NonRetryableError(`map node "${id}" needs an array from "${spec.source}", which returned ${got}`);
      void this.#afterAttempt(id, { kind: "error", error, attempt });
      return Promise.resolve();
    }
    const elements = items.map((_, i) => elementId(id, i));
    const missing: NodeRecord[] = [];
    elements.forEach((element, index) => {
      this.#elementOf.set(element, { map: id, item: items[index], index });
      this.#steps.set(element, { ...node, id: element });
      if (!this.record(element)) missing.push({ id: element, nodeId: id, status: "pending", attempts: 0 });
    });
    if (missing.length > 0) {
      this.#append(missing);
      for (const record of missing) this.#journal.record(record.id, false);
    }
    const todo = elements.filter((element) => {
      const record = this.record(element);
      return !(record?.status === "succeeded" && record.durable !== false);
    });
    const run: MapRun = {
      id,
      attempt,
      startedAt,
      elements,
      todo,
      limit: spec.maxConcurrency ?? Infinity,
      next: 0,
      inflight: 0,
      remaining: todo.length,
      done: false,
    };
    this.#maps.set(id, run);
    if (run.remaining === 0) this.#finishMap(run);
    else this.#pumpMap(run);
    return Promise.resolve();
  }

  #pumpMap(run: MapRun): void {
    const batch: string[] = [];
    while (run.next < run.todo.length && run.inflight < run.limit && !this.#stopping) {
      batch.push(run.todo[run.next++] as string);
      run.inflight += 1;
    }
    this.#dispatch(batch);
  }

  #finishMap(run: MapRun): void {
    run.done = true;
    this.#maps.delete(run.id);
    const value = run.elements.map((element) => this.#outputs.get(element));
    void this.#afterAttempt(run.id, { kind: "ok", value, attempt: run.attempt, startedAt: run.startedAt });
  }

  /** Tells a map node one of its elements settled; false when `id` is not a map element. */
  #settleElement(id: string, outcome: "ok" | "cancelled" | { readonly error: unknown }): boolean {
    const element = this.#elementOf.get(id);
    if (!element) return false;
    const run = this.#maps.get(element.map);
    if (!run || run.done) return true;
    run.inflight -= 1;
    if (outcome === "ok") {
      run.remaining -= 1;
      if (run.remaining === 0) this.#finishMap(run);
      else this.#pumpMap(run);
    } else {
      run.done = true;
      this.#maps.delete(run.id);
      void this.#afterAttempt(
        run.id,
        outcome === "cancelled" ? { kind: "cancelled" } : { kind: "error", error: outcome.error, attempt: run.attempt },
      );
    }
    return true;
  }

  /** Adds activation records; they reach the state at the next commit. */
  #append(records: readonly NodeRecord[]): void {
    for (const record of records) {
      this.#appended.push(record);
      this.#changed.set(record.id, record);
    }
  }

  #nodeDef(id: string): NodeDefinition | undefined {
    return this.#graph.node(id) ?? this.#steps.get(id) ?? this.#graph.node(this.#visits.get(id)?.nodeId ?? "");
  }

  /**
   * Carries out what the routing ready set decided: skips nodes, appends
   * the records of later visits, starts visits, or stops a loop that ran
   * out of visits. `resumed`: the step rebuilds a stored run (nodes it
   * skipped were skipped before; no events for them).
   */
  #route(step: RoutingStep, resumed = false): void {
    const now = this.#config.clock.now();
    for (const id of step.skipped) {
      if (this.record(id)?.status === "skipped") continue;
      this.#transition(markSkipped(now), id, false);
      if (!resumed) this.#events.emit("node:skip", { runId: this.#runId, at: now, nodeId: id });
    }
    const ids: string[] = [];
    for (const visit of step.dispatch) {
      this.#visits.set(visit.id, visit);
      const trigger = visit.trigger && { from: visit.trigger.from, route: visit.trigger.route };
      if (!this.record(visit.id)) {
        this.#append([{ id: visit.id, nodeId: visit.nodeId, status: "pending", attempts: 0, visit: visit.visit, ...(trigger && { trigger }) }]);
        this.#journal.record(visit.id, false);
      } else if (trigger) {
        this.#change(visit.id, (n) => ({ ...n, trigger }));
      }
      // A visit reads its after nodes' outputs as they are now, not as later visits leave them.
      const after = this.#graph.node(visit.nodeId)?.after ?? [];
      if (after.length > 0) this.#visitDeps.set(visit.id, Object.fromEntries(after.map((dep) => [dep, this.#outputs.get(dep)])));
      ids.push(visit.id);
    }
    if (step.loopLimit && !this.#stopping) {
      const error = new LoopLimitExceeded(step.loopLimit.nodeId, step.loopLimit.maxVisits);
      if (this.#config.continueOnError) this.#firstFailure ??= error;
      else this.#stop({ kind: "failed", error });
    }
    if (!this.#stopping) this.#dispatch(ids);
  }

  /** A routing node's result: its output and route, or the error of a route it cannot take. */
  #unroute(id: string, value: unknown): Unrouted {
    const nodeId = this.#visits.get(id)?.nodeId ?? id;
    const routes = this.#graph.node(nodeId)?.routes;
    if (!routes) return isRoute(value) ? { error: new UnknownRouteError(nodeId, value.name, []) } : { value };
    if (!isRoute(value)) return { error: new UnknownRouteError(nodeId, undefined, Object.keys(routes)) };
    if (!Object.prototype.hasOwnProperty.call(routes, value.name)) {
      return { error: new UnknownRouteError(nodeId, value.name, Object.keys(routes)) };
    }
    return { value: value.value, route: value.name };
  }

  #settleStep(id: string, outcome: { value: unknown } | { error: unknown }): boolean {
    const waiter = this.#stepWaiters.get(id);
    if (!waiter) return false;
    this.#stepWaiters.delete(id);
    if ("value" in outcome) waiter.resolve(outcome.value);
    else waiter.reject(outcome.error);
    return true;
  }

  /** Stops the run: running and waiting attempts are aborted, nothing new starts. */
  cancel(reason: string): void {
    this.#stop({ kind: "cancelled", reason });
    this.#checkDone();
  }

  /** Fails the run with `error` (a lost lease, say): running attempts are aborted, nothing new starts. */
  fail(error: unknown): void {
    this.#stop({ kind: "failed", error });
    this.#checkDone();
  }

  /** The keys waited for now. */
  openWaitKeys(): string[] {
    return [...this.#openWaits.keys()];
  }

  /**
   * Delivers an event to the node waiting for `key`: validates the payload
   * with the wait's schema (throws `InputValidationError`, and the node
   * keeps waiting), journals it, and lets the node go on as soon as a
   * concurrency slot is free. Resolves to true once the payload is
   * durable, or to false when this scheduler has already stopped (the
   * caller then delivers through the store). A key the run has open whose
   * node has not called `waitFor` again yet (a resumed run) is held until
   * it does.
   */
  async deliver(key: string, payload: unknown): Promise<boolean> {
    if (this.#finished) return false;
    if (!this.#openWaits.has(key) && openWaitKeys(this.state).open.includes(key)) {
      // The run has this wait open, but its node has not reached waitFor again in this process yet
      // (a resume: it is queued or re-running its journaled steps): hold the event until it does.
      await Promise.race([new Promise<void>((resolve) => this.#whenOpened(key, resolve)), this.#done]);
      if (this.#finished) return false;
    }
    const wait = this.#openWaits.get(key);
    if (!wait) throw this.#notOpen(key);
    const value = wait.schema ? await validateInput(wait.schema, payload, `the payload of wait "${key}"`) : payload;
    if (this.#finished) return false;
    if (this.#openWaits.get(key) !== wait) throw this.#notOpen(key);
    if (!isDurable(payload)) {
      throw new InputValidationError(`the payload of wait "${key}"`, [
        { path: [], message: "it cannot be stored (a function, a class instance or a cycle)" },
      ]);
    }
    this.#closeWait(wait);
    const at = this.#config.clock.now();
    this.#transition(markWaitResolved(key, waitRecord(wait, { payload, at })), wait.nodeId);
    const durable = this.#journal.barrier();
    this.#wake(wait, () => wait.resolve(value));
    await durable;
    return true;
  }

  #whenOpened(key: string, resolve: () => void): void {
    let waiting = this.#opening.get(key);
    if (!waiting) this.#opening.set(key, (waiting = []));
    waiting.push(resolve);
  }

  /** Lets the deliveries held for `key` go on (its wait opened, or its node took the event from the inbox). */
  #opened(key: string): void {
    const waiting = this.#opening.get(key);
    this.#opening.delete(key);
    for (const resolve of waiting ?? []) resolve();
  }

  /** Why `key` cannot be delivered: taken already (as `resolveWait` on a stored run says), or not waited for. */
  #notOpen(key: string): Error {
    for (const n of nodeRecords(this.state.nodes)) {
      if (n.waits?.[key]?.resolved) return new WaitAlreadyResolvedError(this.#runId, key);
    }
    return new WaitNotFoundError(this.#runId, key, this.openWaitKeys());
  }

  /**
   * Queues activations. All of them count as outstanding before the first
   * is queued: p-queue may run a task synchronously inside `add`, and a
   * node that settles at once must not see the run as finished while its
   * siblings are still to be queued.
   */
  #dispatch(ids: readonly string[]): void {
    this.#outstanding += ids.length;
    for (const id of ids) this.#change(id, READY);
    for (const id of ids) this.#enqueue(id);
  }

  #enqueue(id: string): void {
    void this.#queue.add(() => this.#start(id)).catch(() => undefined);
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

  #policy(id: string, node: NodeDefinition | undefined = this.#nodeDef(id)): RetryPolicy {
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

  /** The queue task of one attempt: starts the body and resolves when the attempt gives its slot back. */
  #start(id: string): Promise<void> {
    if (this.#stopping) {
      void this.#afterAttempt(id, { kind: "cancelled" });
      return Promise.resolve();
    }
    const node = this.#nodeDef(id);
    if (!node) throw new Error(`taskloom internal error: no node "${id}" in graph "${this.#graph.name}"`);
    if (node.map && !this.#elementOf.has(id)) return this.#startMap(id, node, node.map);
    const clock = this.#config.clock;
    const startedAt = clock.now();
    // Not urgent: a crash resets running nodes anyway, so this rides along with the next write.
    this.#transition(markRunning(startedAt), id, false);
    const attempt = (this.#attempts.get(id) ?? 0) + 1;
    this.#attempts.set(id, attempt);
    if (this.#events.has("node:start")) {
      this.#events.emit("node:start", { runId: this.#runId, at: startedAt, nodeId: id, attempt });
    }
    const live: LiveAttempt = {
      id,
      attempt,
      startedAt,
      abort: new AttemptAbort(),
      timer: undefined,
      release: undefined,
      waitingOn: undefined,
      done: false,
    };
    this.#live.set(id, live);
    const slot = new Promise<void>((resolve) => (live.release = resolve));
    live.abort.onAbort = (reason) =>
      this.#end(live, reason instanceof NodeTimeoutError ? { kind: "error", error: reason, attempt } : { kind: "cancelled" });
    const policy = this.#policy(id, node);
    if (policy.timeoutMs !== undefined) {
      const ms = policy.timeoutMs;
      live.timer = clock.setTimeout(() => live.abort.abort(new NodeTimeoutError(id, ms)), ms);
    }
    let body: unknown;
    try {
      const context = this.#context(id, node, attempt, live.abort);
      const element = this.#elementOf.get(id);
      if (element) Object.assign(context, { item: element.item, index: element.index });
      const executor = this.#config.executor;
      body =
        executor === undefined || this.#graph.dynamic
          ? node.fn(context)
          : executor.execute(
              {
                runId: this.#runId,
                graphName: this.#graph.name,
                fingerprint: this.#graph.fingerprint,
                nodeId: element ? element.map : (this.#visits.get(id)?.nodeId ?? id),
                activationId: id,
                attempt,
                inputs: this.#inputs,
                deps: context.deps,
                ...(element && { item: element.item, index: element.index }),
                ...(context.visit > 1 && { visit: context.visit }),
                ...(context.trigger && { trigger: context.trigger }),
              },
              context,
            );
    } catch (error) {
      this.#end(live, { kind: "error", error, attempt });
      return slot;
    }
    try {
      // Reading `then` runs user code (a getter, a proxy trap): what it throws fails the attempt.
      if (isThenable(body)) {
        body.then(
          (value) => this.#end(live, { kind: "ok", value, attempt, startedAt }),
          (error: unknown) => this.#end(live, { kind: "error", error, attempt }),
        );
      } else {
        this.#end(live, { kind: "ok", value: body, attempt, startedAt });
      }
    } catch (error) {
      this.#end(live, { kind: "error", error, attempt });
    }
    return slot;
  }

  /** Ends an attempt once: gives its slot back and handles its result. */
  #end(live: LiveAttempt, result: AttemptResult): void {
    if (live.done) return;
    live.done = true;
    if (live.timer !== undefined) this.#config.clock.clearTimeout(live.timer);
    this.#live.delete(live.id);
    if (live.waitingOn !== undefined) {
      const wait = this.#openWaits.get(live.waitingOn);
      if (wait && wait.nodeId === live.id) this.#closeWait(wait);
      live.waitingOn = undefined;
      this.#waiting -= 1;
    }
    live.release?.();
    live.release = undefined;
    void this.#afterAttempt(live.id, result);
  }

  #context(id: string, node: NodeDefinition, attempt: number, abort: AttemptAbort): AttemptContext<I> {
    let deps = this.#visitDeps.get(id);
    if (!deps) {
      deps = {};
      for (const dep of node.after) deps[dep] = this.#outputs.get(dep);
    }
    const context = new AttemptContext(this, abort, this.#inputs, deps, this.#runId, id, attempt);
    const visit = this.#visits.get(id);
    if (visit) {
      context.visit = visit.visit;
      if (visit.trigger) {
        const { fromNode, route, from } = visit.trigger;
        context.trigger = { from: fromNode, route, value: this.#outputs.get(from) };
      }
    }
    return context;
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
    const steps = this.record(id)?.steps;
    if (steps && Object.prototype.hasOwnProperty.call(steps, name)) return steps[name] as T;
    const value = await fn();
    const abort = context.abortState;
    if (abort.aborted) throw abort.reason;
    // A getter that throws here rejects the step, in the body that awaits it.
    const durability = checkDurable(value);
    if (!durability.ok) {
      this.#warn(id, "STEP_NOT_DURABLE", `step "${name}" of node "${id}" returned a value that cannot be stored exactly (${durability.reason}); it will run again on resume`);
      return value;
    }
    this.#transition(recordStep(name, value), id);
    await this.#journal.barrier();
    return value;
  }

  /** @internal `ctx.waitFor` */
  async runWait<T>(context: AttemptContext<unknown>, key: string, options: WaitOptions<T> | undefined): Promise<T> {
    const id = context.nodeId;
    if (typeof key !== "string" || key.length === 0 || key.length > 200) {
      throw new InvalidOptionError("waitFor(key)", "must be a string of 1 to 200 characters");
    }
    if (options !== undefined && (options === null || typeof options !== "object")) {
      throw new InvalidOptionError(`waitFor("${key}", options)`, "must be an object");
    }
    assertOptionKeys(`waitFor("${key}")`, options, WAIT_OPTION_KEYS);
    validateDuration(options?.timeoutMs, `waitFor("${key}").timeoutMs`, false);
    if (options?.schema !== undefined && !isInputValidator(options.schema)) {
      throw new InvalidOptionError(`waitFor("${key}").schema`, "must have a parse(value) method or be a Standard Schema");
    }
    const schema = options?.schema as InputValidator<unknown> | undefined;
    const abort = context.abortState;
    if (abort.aborted) throw abort.reason;
    const live = this.#live.get(id);
    if (!live || live.abort !== abort) throw new InvalidOptionError(`waitFor("${key}")`, "was called after its attempt ended");
    if (live.waitingOn !== undefined) {
      throw new InvalidOptionError(
        `waitFor("${key}")`,
        `is called while node "${id}" already waits for "${live.waitingOn}"; wait for one key at a time in a node`,
      );
    }
    const holder = this.#openWaits.get(key);
    if (holder) throw new InvalidOptionError(`waitFor("${key}")`, `is already waited for by node "${holder.nodeId}"; give each wait its own key`);

    const prior = this.record(id)?.waits?.[key];
    if (prior?.resolved) {
      // Taken in an earlier attempt or process and journaled: never wait twice for one event.
      return (schema ? await validateInput(schema, prior.resolved.payload, `the payload of wait "${key}"`) : prior.resolved.payload) as T;
    }
    const clock = this.#config.clock;
    const now = clock.now();
    const since = prior?.since ?? now;
    const deadline = prior?.deadline ?? (options?.timeoutMs !== undefined ? now + options.timeoutMs : undefined);

    const delivered = this.#inbox.get(key);
    if (delivered) {
      this.#inbox.delete(key);
      try {
        const value = schema ? await validateInput(schema, delivered.payload, `the payload of wait "${key}"`) : delivered.payload;
        this.#transition(markWaitResolved(key, { since, ...(deadline !== undefined && { deadline }), resolved: delivered }), id);
        await this.#journal.barrier();
        this.#opened(key);
        return value as T;
      } catch (error) {
        if (!(error instanceof InputValidationError)) throw error;
        this.#warn(id, "WAIT_PAYLOAD_INVALID", `the event delivered for "${key}" was dropped and the node waits again: ${error.message}`);
      }
    }
    if (deadline !== undefined && deadline <= now) {
      // Forget the wait, so a retry waits afresh with a new deadline.
      this.#transition(forgetWait(key), id);
      throw new WaitTimeoutError(id, key, deadline);
    }
    this.#transition(markWaiting(key, { since, ...(deadline !== undefined && { deadline }) }), id);
    return new Promise<T>((resolve, reject) => {
      const wait: OpenWait = {
        key,
        nodeId: id,
        since,
        deadline,
        schema,
        resolve: resolve as (payload: unknown) => void,
        reject,
        timer: undefined,
      };
      if (deadline !== undefined) wait.timer = clock.setTimeout(() => this.#expire(wait), deadline - now);
      this.#openWaits.set(key, wait);
      this.#suspend(live, key);
      this.#opened(key);
    });
  }

  /**
   * The attempt waits: it gives its slot back and stops its attempt timer.
   * `node:wait` is emitted once the wait is open and before the run can
   * end as waiting, so a listener may resolve it at once.
   */
  #suspend(live: LiveAttempt, key: string): void {
    live.waitingOn = key;
    this.#waiting += 1;
    if (live.timer !== undefined) {
      this.#config.clock.clearTimeout(live.timer);
      live.timer = undefined;
    }
    live.release?.();
    live.release = undefined;
    const deadline = this.#openWaits.get(key)?.deadline;
    this.#events.emit("node:wait", {
      runId: this.#runId,
      at: this.#config.clock.now(),
      nodeId: live.id,
      key,
      ...(deadline !== undefined && { deadline }),
    });
    this.#checkDone();
  }

  /** A waiting attempt goes on: once a slot is free, `settle` resolves or rejects its `waitFor`. */
  #wake(wait: OpenWait, settle: () => void): void {
    const live = this.#live.get(wait.nodeId);
    if (!live || live.done) return;
    live.waitingOn = undefined;
    this.#waiting -= 1;
    this.#transitionIfRunning(live);
    void this.#queue
      .add(() => {
        if (live.done) return Promise.resolve();
        const slot = new Promise<void>((resolve) => (live.release = resolve));
        // Waiting does not count against the attempt's time limit: the body gets it afresh as it goes on.
        const ms = this.#policy(live.id).timeoutMs;
        if (ms !== undefined && live.timer === undefined) {
          live.timer = this.#config.clock.setTimeout(() => live.abort.abort(new NodeTimeoutError(live.id, ms)), ms);
        }
        settle();
        return slot;
      })
      .catch(() => undefined);
  }

  #transitionIfRunning(live: LiveAttempt): void {
    const record = this.record(live.id);
    if (record?.status === "waiting") this.#transition((n) => ({ ...n, status: "running" }), live.id, false);
  }

  #expire(wait: OpenWait): void {
    if (this.#openWaits.get(wait.key) !== wait) return;
    this.#closeWait(wait);
    this.#transition(forgetWait(wait.key), wait.nodeId);
    const error = new WaitTimeoutError(wait.nodeId, wait.key, wait.deadline ?? this.#config.clock.now());
    this.#wake(wait, () => wait.reject(error));
  }

  #closeWait(wait: OpenWait): void {
    if (wait.timer !== undefined) this.#config.clock.clearTimeout(wait.timer);
    wait.timer = undefined;
    if (this.#openWaits.get(wait.key) === wait) this.#openWaits.delete(wait.key);
  }

  async #afterAttempt(id: string, result: AttemptResult): Promise<void> {
    const now = this.#config.clock.now();
    switch (result.kind) {
      case "ok": {
        let unrouted: Unrouted;
        let durability: ReturnType<typeof checkDurable>;
        try {
          // Both read the output (getters, proxy traps): what they throw is a failed attempt, never an escape.
          unrouted = this.#unroute(id, result.value);
          if ("error" in unrouted) return this.#afterAttempt(id, { kind: "error", error: unrouted.error, attempt: result.attempt });
          durability = checkDurable(unrouted.value);
        } catch (error) {
          return this.#afterAttempt(id, { kind: "error", error, attempt: result.attempt });
        }
        const value = unrouted.value;
        const durable = durability.ok;
        if (!durability.ok) {
          this.#warn(id, "OUTPUT_NOT_DURABLE", `node "${id}" returned an output that cannot be stored exactly (${durability.reason}); it will run again on resume`);
        }
        this.#outputs.set(id, value);
        const visit = this.#visits.get(id);
        if (visit !== undefined && visit.visit > 1) this.#outputs.set(visit.nodeId, value);
        this.#transition(markSucceeded(value, durable, now, unrouted.route), id);
        if (this.#events.has("node:success")) {
          this.#events.emit("node:success", {
            runId: this.#runId,
            at: now,
            nodeId: id,
            attempt: result.attempt,
            output: value,
            durationMs: now - result.startedAt,
            ...(unrouted.route !== undefined && { route: unrouted.route }),
          });
        }
        try {
          await this.#journal.barrier();
        } catch (error) {
          // The observer's failure is typed already: a disk problem, a lost lease (the run was taken over), or a value the serializer refused.
          const typed = error instanceof PersistenceError || error instanceof LeaseLostError || error instanceof ValueNotStorableError;
          this.#stop({ kind: "failed", error: typed ? error : new PersistenceError(this.#runId, error) });
        }
        if (this.#routing) {
          // The order is journaled with the next write, at the latest with the records of the visits it starts.
          this.#transition(markSettleOrder(++this.#settleOrder), id, false);
          const step = this.#routing.settle(id, unrouted.route);
          this.#visits.delete(id);
          this.#visitDeps.delete(id);
          this.#outstanding -= 1;
          this.#route(step);
          break;
        }
        const unblocked = this.#readySet?.settle(id) ?? [];
        this.#outstanding -= 1;
        this.#settleStep(id, { value: result.value });
        this.#settleElement(id, "ok");
        if (!this.#stopping) this.#dispatch(unblocked);
        break;
      }
      case "error": {
        if (!isReadable(result.error)) {
          const error = new TypeError(`node "${id}" threw a value that cannot be read (a revoked Proxy?)`);
          return this.#afterAttempt(id, { kind: "error", error, attempt: result.attempt });
        }
        const policy = this.#policy(id);
        const isMap = this.#graph.node(id)?.map !== undefined;
        if (!this.#stopping && !isMap && shouldRetry(policy, result.error, result.attempt)) {
          this.#scheduleRetry(id, result.error, result.attempt, policy);
          return;
        }
        this.#transition(markFailed(toErrorRecord(result.error), now), id);
        this.#events.emit("node:error", { runId: this.#runId, at: now, nodeId: id, attempt: result.attempt, error: result.error });
        this.#routing?.fail(id);
        this.#outstanding -= 1;
        const failure = new NodeFailedError(this.#runId, id, result.attempt, result.error);
        // A graphFn step's failure goes to the body that awaits it, which may catch it.
        if (this.#settleStep(id, { error: failure })) break;
        if (this.#settleElement(id, { error: failure })) break;
        if (!this.#stopping) {
          if (this.#config.continueOnError) this.#firstFailure ??= failure;
          else this.#stop({ kind: "failed", error: failure });
        }
        break;
      }
      case "cancelled": {
        this.#transition(markCancelled(now), id);
        this.#routing?.fail(id);
        this.#outstanding -= 1;
        this.#settleStep(id, { error: new RunCancelledError(this.#runId, this.#stopping?.kind === "cancelled" ? this.#stopping.reason : "the run stopped") });
        this.#settleElement(id, "cancelled");
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
    for (const wait of [...this.#openWaits.values()]) {
      this.#closeWait(wait);
      wait.reject(reason);
    }
    for (const live of [...this.#live.values()]) live.abort.abort(reason);
    for (const controller of this.#sleeping.values()) controller.abort(reason);
    this.#coordinatorAbort?.abort(reason);
    // A graphFn body cannot be aborted like an attempt: the run ends without waiting for it (its later steps are refused).
    if (this.#coordinator === "running") {
      this.#coordinator = undefined;
      this.#outstanding -= 1;
    }
  }

  #warn(nodeId: string, code: string, message: string): void {
    this.#events.emit("warning", { runId: this.#runId, at: this.#config.clock.now(), nodeId, code, message });
  }

  #checkDone(onlyWaitsConfirmed = false): void {
    if (this.#finished) return;
    if (this.#outstanding > 0) {
      // A graphFn body that awaits only waiting steps is waiting too.
      const busy = this.#outstanding - (this.#coordinator === "running" ? 1 : 0);
      if (this.#stopping || this.#waiting === 0 || busy !== this.#waiting) return;
      // Not in this turn: a body goes on after waitFor handed back its promise (a second waitFor in
      // a Promise.all, say), and what it does then (fail the node) must count before the run stops.
      if (!onlyWaitsConfirmed) {
        setImmediate(() => this.#checkDone(true));
        return;
      }
      // Only waits are left: the run stops here and is resumed by runAsync once events arrive.
      this.#finished = true;
      const waits: PendingWait[] = [];
      for (const wait of this.#openWaits.values()) {
        if (wait.timer !== undefined) this.#config.clock.clearTimeout(wait.timer);
        waits.push({
          key: wait.key,
          nodeId: wait.nodeId,
          since: wait.since,
          ...(wait.deadline !== undefined && { deadline: wait.deadline }),
        });
      }
      this.#resolve({ status: "waiting", state: this.state, waits });
      return;
    }
    this.#finished = true;
    const state = this.state;
    const stop = this.#stopping;
    if (stop?.kind === "cancelled") this.#resolve({ status: "cancelled", state, reason: stop.reason });
    else if (stop?.kind === "failed") this.#resolve({ status: "failed", state, error: stop.error });
    else if (this.#firstFailure) this.#resolve({ status: "failed", state, error: this.#firstFailure });
    else if ((this.#readySet?.unsettled ?? this.#routing?.unsettled ?? 0) > 0) {
      const unsettled = this.#readySet?.unsettled ?? this.#routing?.unsettled;
      this.#resolve({
        status: "failed",
        state,
        error: new Error(`taskloom internal error: run "${this.#runId}" stopped with ${unsettled} nodes unsettled and none running`),
      });
    } else {
      const coordinator = this.#coordinator;
      this.#resolve({ status: "succeeded", state, ...(typeof coordinator === "object" && { outputs: coordinator }) });
    }
  }
}

function waitRecord(wait: OpenWait, resolved: { payload: unknown; at: number }): WaitRecord {
  return { since: wait.since, ...(wait.deadline !== undefined && { deadline: wait.deadline }), resolved };
}

/** Drops a node's record of one wait (after it timed out), so a retry waits afresh. */
function forgetWait(key: string): NodeTransition {
  return (n) => {
    if (!n.waits || !(key in n.waits)) return n;
    const waits = { ...n.waits };
    delete waits[key];
    return { ...n, waits };
  };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as PromiseLike<unknown>).then === "function";
}

/**
 * False for a thrown value that throws when looked at (a revoked Proxy):
 * retry decisions, error records and messages all look at it, and what
 * they throw must not escape the run.
 */
function isReadable(error: unknown): boolean {
  try {
    void (error instanceof Error);
    return true;
  } catch {
    return false;
  }
}
