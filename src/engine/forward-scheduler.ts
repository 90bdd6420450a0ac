/**
 * `ForwardScheduler`: runs a graph's nodes forward from a run state until
 * every node settled, a node failed the run, the run was cancelled, or
 * nothing is left but waiting for external events.
 *
 * This class only wires the engine's modules together and is the face the
 * runner talks to; each feature lives in its own module, with its states
 * and invariants at its top:
 * - `run-loop.ts`: dispatch, settle, stop, "nothing left but waits", outstanding counting;
 * - `frontier.ts`: what may start next, for plain graphs and graphs with routes;
 * - `attempts.ts`: an attempt's start and end, timeout, concurrency slot and context;
 * - `waits.ts`: `ctx.waitFor`, delivering events, deadlines, the inbox;
 * - `map-fanout.ts`: map nodes and their elements;
 * - `graph-fn-steps.ts`: the body of a `graphFn` graph and its `ctx.step` calls;
 * - `node-steps.ts`: a node's own `ctx.step` journaling;
 * - `record-buffer.ts`: changed records, committed to the state in batches;
 * - `retry-sleeps.ts`: the backoff sleep before a retry;
 * - `activation-defs.ts`: what runs for an activation, with which retry policy.
 *
 * The engine changes no record itself: every change is a named transition
 * of `src/state/`, and every journaled record is pushed to the
 * {@link RunJournal} port (persistence implements it).
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";
import { systemClock, type Clock } from "../core/clock.js";
import { anchorShape } from "../core/shape-anchors.js";
import { RunEvents } from "../events/run-events.js";
import { graph } from "../graph/builder.js";
import { graphIndex } from "../graph/graph-index.js";
import type { ChildRunOptions, WaitOptions } from "../graph/node-context.js";
import type { ChildRunner } from "./child-runs.js";
import type { TaskGraph } from "../graph/task-graph.js";
import type { InboxEntry, NodeRecord } from "../state/records.js";
import { createRunState, type RunState } from "../state/run-state.js";
import { ActivationDefs } from "./activation-defs.js";
import { ActivationNames } from "./activation-names.js";
import type { AttemptContext, AttemptHost } from "./attempt-context.js";
import { Attempts } from "./attempts.js";
import { PlainFrontier, RoutingFrontier, type Frontier } from "./frontier.js";
import { GraphFnSteps } from "./graph-fn-steps.js";
import type { RunJournal } from "./journal-port.js";
import { MapFanout } from "./map-fanout.js";
import type { NodeExecutor } from "./node-executor.js";
import { runNodeStep } from "./node-steps.js";
import { ReadySet } from "./ready-set.js";
import { RecordBuffer } from "./record-buffer.js";
import { RetrySleeps } from "./retry-sleeps.js";
import type { SchedulerOutcome } from "./loop-types.js";
import { RunLoop } from "./run-loop.js";
import { Waits } from "./waits.js";
import { type RetryOptions } from "../graph/retry-options.js";

export type { SchedulerOutcome } from "./loop-types.js";

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
  /** Runs `ctx.run` child runs (the runner plugs it in). @default `ctx.run` rejects */
  readonly childRuns?: ChildRunner | undefined;
}

/** The default of `maxVisits`: visits of one node in one run, through routing loops. */
export const DEFAULT_MAX_VISITS = 100;

/** Whether {@link anchorEngineShapes} has run (once per process, at the first scheduler). */
let engineAnchored = false;

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
  readonly #runId: string;
  /** The run's mark (`RunMeta.instance`), which attempts show as `ctx.runInstance`. */
  readonly runInstance: string | undefined;
  readonly #events: RunEvents;
  readonly #clock: Clock;
  readonly #journal: RunJournal;
  readonly #buffer: RecordBuffer;
  readonly #loop: RunLoop;
  readonly #frontier: Frontier;
  readonly #waits: Waits;
  readonly #steps: GraphFnSteps;
  readonly #names: ActivationNames;
  readonly #childRuns: ChildRunner | undefined;
  #maps: MapFanout | undefined;

  constructor(graph: TaskGraph<I, unknown>, state: RunState, inputs: I, journal: RunJournal, events: RunEvents, config: SchedulerConfig) {
    if (!(config.maxConcurrency >= 1)) throw new InvalidOptionError("maxConcurrency", "must be at least 1");
    if (!engineAnchored) {
      engineAnchored = true;
      anchorEngineShapes();
    }
    const g = graph as TaskGraph<unknown, unknown>;
    const runId = state.meta.runId;
    const clock = config.clock;
    this.#graph = g;
    this.#runId = runId;
    this.runInstance = state.meta.instance;
    this.#events = events;
    this.#clock = clock;
    this.#journal = journal;
    this.#childRuns = config.childRuns;
    const names = (this.#names = new ActivationNames(
      (id) => this.#frontier.visit(id),
      (id) => this.#maps?.element(id),
    ));
    const buffer = (this.#buffer = new RecordBuffer(state, journal, () => clock.now()));
    const loop = (this.#loop = new RunLoop({ graph: g, runId, clock, events, names, buffer, journal, continueOnError: config.continueOnError }));
    const frontierEnv = { graph: g, runId, clock, events, buffer, host: loop };
    const frontier = (this.#frontier = g.routing ? new RoutingFrontier(frontierEnv, config.maxVisits ?? DEFAULT_MAX_VISITS) : new PlainFrontier(frontierEnv));
    const defs = new ActivationDefs(g, config.retry, (id) => frontier.visit(id)?.nodeId);
    const maps = (this.#maps = new MapFanout({ runId, clock, events, names, buffer, defs, loop }));
    const steps = (this.#steps = new GraphFnSteps({
      graph: g,
      inputs,
      runId,
      runInstance: state.meta.instance,
      buffer,
      defs,
      loop,
      emit: (name, data) => this.emitFrom("$graphFn", name, data),
    }));
    const attempts = new Attempts({
      graph: g,
      inputs,
      runId,
      runInstance: state.meta.instance,
      clock,
      maxConcurrency: config.maxConcurrency,
      executor: config.executor,
      events,
      names,
      buffer,
      defs,
      frontier,
      maps,
      loop,
      host: this,
      closeWait: (key, id) => this.#waits.closeOf(key, id),
    });
    this.#waits = new Waits({ runId, clock, events, names, buffer, journal, loop, attempts, inbox: config.inbox });
    const retries = new RetrySleeps({ runId, clock, random: config.random, events, names, buffer, host: loop, enqueue: (id) => attempts.enqueue(id) });
    loop.plug({
      frontier,
      defs,
      retries,
      owners: [steps, maps],
      coordinator: steps,
      maps,
      closeWaits: () => this.#waits.pending(),
      enqueue: (id) => attempts.enqueue(id),
      enqueueAt: (position) => attempts.enqueueAt(position),
    });
    // Run in this order when the run stops: waits, attempts, retry sleeps, then the graphFn body.
    loop.onStop((reason) => this.#waits.rejectAll(reason));
    loop.onStop((reason) => attempts.abortAll(reason));
    loop.onStop((reason) => retries.wakeAll(reason));
    loop.onStop((reason) => steps.stop(reason));
    loop.onEnd(() => attempts.forgetLingering());
  }

  /** The current run state, with every transition made so far applied. */
  get state(): RunState {
    return this.#buffer.state;
  }

  /** The latest record of an activation, including changes not yet committed to {@link state}. */
  record(id: string): NodeRecord | undefined {
    return this.#buffer.current(id);
  }

  /** Events delivered and not yet taken by their node. */
  inbox(): Record<string, InboxEntry> {
    return this.#waits.inbox();
  }

  /** Runs until done; never rejects (failures are outcomes). */
  execute(): Promise<SchedulerOutcome> {
    this.#frontier.begin();
    if (this.#graph.dynamic) this.#steps.begin(this.#graph.dynamic);
    this.#loop.checkDone();
    return this.#loop.done;
  }

  /** Stops the run: running and waiting attempts are aborted, nothing new starts. */
  cancel(reason: string): void {
    this.#loop.stop({ kind: "cancelled", reason });
    this.#loop.checkDone();
  }

  /** Fails the run with `error` (a lost lease, say): running attempts are aborted, nothing new starts. */
  fail(error: unknown): void {
    this.#loop.stop({ kind: "failed", error });
    this.#loop.checkDone();
  }

  /** The keys waited for now. */
  openWaitKeys(): string[] {
    return this.#waits.keys();
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
  deliver(key: string, payload: unknown): Promise<boolean> {
    return this.#waits.deliver(key, payload);
  }

  /** @internal `ctx.emit` */
  emitFrom(nodeId: string, name: string, data: unknown): void {
    this.#events.emit("node:event", this.#names.tag(nodeId, { runId: this.#runId, at: this.#clock.now(), nodeId, name, data }));
  }

  /** @internal `ctx.step` */
  runStep<T>(context: AttemptContext<unknown>, name: string, fn: () => T | Promise<T>): Promise<T> {
    return runNodeStep({ buffer: this.#buffer, journal: this.#journal, warn: (id, code, message) => this.#loop.warn(id, code, message) }, context, name, fn);
  }

  /** @internal `ctx.run` */
  runChild(context: AttemptContext<unknown>, graph: unknown, inputs: unknown, options: ChildRunOptions | undefined): Promise<unknown> {
    if (!this.#childRuns) return Promise.reject(new InvalidOptionError("ctx.run", "is not available in this run"));
    return this.#childRuns({
      parentRunId: this.#runId,
      activationId: context.nodeId,
      graph,
      inputs,
      options,
      signal: context.signal,
      waitFor: (key) => this.#waits.wait(context, key, undefined),
    });
  }

  /** @internal `ctx.waitFor` */
  runWait<T>(context: AttemptContext<unknown>, key: string, options: WaitOptions<T> | undefined): Promise<T> {
    return this.#waits.wait(context, key, options);
  }
}

/**
 * The engine's objects of a run (the scheduler, the parts it wires, the ready set) all die when the run ends:
 * their maps are anchored through a sample scheduler of a one-node graph, made when the first scheduler is
 * (not when this module loads: a program that never runs a graph pays nothing) and never executed. It runs
 * the constructors a run does, so its parts get the same maps. See core/shape-anchors.ts.
 */
function anchorEngineShapes(): void {
  const g = graph("taskloom:shape-sample")
    .node("a", () => null)
    .build() as TaskGraph<unknown, unknown>;
  const state = createRunState({
    runId: g.name,
    graphName: g.name,
    fingerprint: g.fingerprint,
    inputs: undefined,
    nodeIds: g.order,
    positions: graphIndex(g).position,
    now: Date.now(),
  });
  const journal: RunJournal = { put() {}, revise() {}, barrier: () => Promise.resolve(), whenDurable() {} };
  anchorShape(
    new ForwardScheduler(g, state, undefined, journal, new RunEvents(), { maxConcurrency: 1, continueOnError: false, clock: systemClock, random: Math.random }),
  );
  anchorShape(ReadySet.fromState(g, state).readySet);
}
