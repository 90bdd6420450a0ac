/**
 * Attempts: starting a node's body, ending it once, its timeout, its
 * concurrency slot and its context. Apart from this file: the slots
 * (`slot-queue.ts`), timed-out bodies that go on (`lingering-bodies.ts`),
 * an attempt's `deps` (`attempt-deps.ts`), its context
 * (`attempt-context.ts`), retry sleeps (`retry-sleeps.ts`).
 *
 * Concurrency. A ready activation is a task in a {@link SlotQueue} whose
 * concurrency is `maxConcurrency`. The task holds a *slot* that the
 * attempt gives back when its body settles, when it is aborted, or when
 * it suspends in `waitFor`; a delivered event takes a slot again before
 * the body goes on ({@link Attempts.resume}). So at most `maxConcurrency`
 * bodies run at once, and neither retry sleeps (outside the queue) nor
 * waits hold a slot.
 *
 * Timed-out bodies. A timeout ends the attempt at once, but its body,
 * only signalled, may go on: it keeps its slot until it settles, and its
 * activation's next attempt waits for it (`lingering-bodies.ts`).
 *
 * Invariants:
 * - An attempt ends when its body settles or it is aborted, whichever
 *   comes first (`LiveAttempt.done`), so a body that ignores its signal
 *   cannot hold a run open; its late result is ignored.
 * - The attempt timer runs only while the body holds a slot: waiting does
 *   not count against the time limit.
 * - A queued activation whose turn comes while the run is stopping ends
 *   as cancelled without starting.
 * - A settled attempt holds nothing of its run: ending it unlinks it from
 *   the list of live attempts and clears its callbacks (see below).
 *
 * Memory. A million-node fan-out starts a million attempts; what one
 * attempt allocates must die young. The live attempts are an intrusive
 * list (each {@link LiveAttempt} links to its neighbours), not a `Map`:
 * once a `Map` has been promoted to V8's old space, every table it grows
 * or rehashes into is allocated there too, and each stale table keeps its
 * entries and a link to the next, so churning one entry per node would
 * keep every attempt ever started alive until the next full GC, and with
 * it everything the attempt reaches (its callbacks' closures, context,
 * promise reactions). A `LiveAttempt` is itself the attempt's
 * {@link AttemptAbort}, ends through a handler shared by the whole run
 * rather than a closure of its own, and drops its links when it ends, so
 * an attempt that something still references (its context kept by user
 * code, a stale slot in an old object) keeps only itself alive. Suspended
 * attempts (in `waitFor`) are also kept by activation id, for `resume`.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../core/clock.js";
import { anchorShape } from "../core/shape-anchors.js";
import type { RunEvents } from "../events/run-events.js";
import type { TaskGraph } from "../graph/task-graph.js";
import { markResumed } from "../state/node-transitions.js";
import { markRunning } from "../state/node-transitions.js";
import type { ActivationDefs } from "./activation-defs.js";
import type { ActivationNames } from "./activation-names.js";
import { AttemptAbort, AttemptContext, type AttemptHost } from "./attempt-context.js";
import type { Frontier } from "./frontier.js";
import type { NodeExecutor } from "./node-executor.js";
import type { RecordBuffer } from "./record-buffer.js";
import type { AttemptResult, ElementOf, Stop } from "./loop-types.js";
import { NodeTimeoutError } from "./errors.js";
import { SlotQueue } from "./slot-queue.js";
import { LingeringBodies } from "./lingering-bodies.js";
import { AttemptDeps } from "./attempt-deps.js";
import { type MapSpec, type NodeDefinition } from "../graph/definition.js";

/** One attempt that has started and not ended; it is its own {@link AttemptAbort}. */
export class LiveAttempt extends AttemptAbort {
  readonly id: string;
  /** The activation's graph position when its attempt was queued with it, else -1 (see `ready-set.ts`). */
  readonly position: number;
  readonly attempt: number;
  readonly startedAt: number;
  timer: TimerHandle | undefined = undefined;
  /** Gives the attempt's concurrency slot back (set while it holds one). */
  release: (() => void) | undefined = undefined;
  /** The key it waits for, while suspended in `waitFor`. */
  waitingOn: string | undefined = undefined;
  done = false;
  /** Ended by its timeout while its body still runs: it keeps its slot (`release`) until the body settles. */
  lingering = false;
  /** Its neighbours in the run's list of live attempts (cleared when it ends). */
  prev: LiveAttempt | undefined = undefined;
  next: LiveAttempt | undefined = undefined;
  /** Ends the attempt (the run's shared handler; cleared when it ends). */
  onEnd: ((live: LiveAttempt, result: AttemptResult) => void) | undefined;

  constructor(id: string, position: number, attempt: number, startedAt: number, onEnd: (live: LiveAttempt, result: AttemptResult) => void) {
    super();
    this.id = id;
    this.position = position;
    this.attempt = attempt;
    this.startedAt = startedAt;
    this.onEnd = onEnd;
  }

  /** Aborts the attempt: it ends at once (as failed on a timeout, else as cancelled), whatever its body does. */
  override abort(reason: unknown): void {
    if (this.aborted) return;
    super.abort(reason);
    this.onEnd?.(this, reason instanceof NodeTimeoutError ? { kind: "error", error: reason, attempt: this.attempt } : { kind: "cancelled" });
  }
}

// One attempt's objects all die when its run ends: the maps of a live attempt and of its context (with and without a map
// element) are anchored (see core/shape-anchors.ts). The samples are never run, so nothing calls their host; `startedAt`
// is epoch milliseconds, as in a real attempt (a double to V8, not a small integer).
const sampleLive = anchorShape(new LiveAttempt("", -1, 1, Date.now(), () => {}));
for (const element of [undefined, { item: undefined, index: 0 }]) {
  anchorShape(new AttemptContext({} as AttemptHost, sampleLive, undefined, {}, "", "", 1, { visit: 1, trigger: undefined, element }));
}

/** What attempts need from the run loop. */
export interface AttemptLoop {
  readonly stopping: Stop | undefined;
  settle(id: string, result: AttemptResult, position?: number): Promise<void>;
  suspended(): void;
  resumed(): void;
  /** Emits a `warning` event about node `nodeId`. */
  warn(nodeId: string, code: string, message: string): void;
}

/** What attempts need from map fan-out. */
export interface MapStarter {
  element(id: string): ElementOf | undefined;
  start(id: string, node: NodeDefinition, spec: MapSpec): Promise<void>;
}

/** What attempts work with. */
export interface AttemptsEnv {
  readonly graph: TaskGraph<unknown, unknown>;
  readonly inputs: unknown;
  readonly runId: string;
  readonly runInstance: string | undefined; // the run's random mark, handed to the executor (`NodeActivation.runInstance`)
  readonly clock: Clock;
  readonly maxConcurrency: number;
  readonly executor: NodeExecutor | undefined;
  readonly events: RunEvents;
  readonly names: ActivationNames;
  readonly buffer: RecordBuffer;
  readonly defs: ActivationDefs;
  readonly frontier: Frontier;
  readonly maps: MapStarter;
  readonly loop: AttemptLoop;
  /** What the context's `emit`, `step` and `waitFor` call. */
  readonly host: AttemptHost;
  /** Closes the wait of an attempt that ends while it waits. */
  readonly closeWait: (key: string, id: string) => void;
}

/** The attempts of one run. */
export class Attempts {
  readonly #env: AttemptsEnv;
  /** Queued attempts: an activation id to start, a graph position to start (`enqueueAt`), or a waiting attempt going on. */
  readonly #queue: SlotQueue<string | number | (() => void)>;
  /** The first of the live attempts (a list through `LiveAttempt.next`; see the module's doc). */
  #first: LiveAttempt | undefined;
  /** Attempts suspended in `waitFor`, by activation id. */
  readonly #suspended = new Map<string, LiveAttempt>();
  /** Gives one slot back (an attempt's `release`: called once, then cleared). */
  readonly #release: () => void;
  /** Ends an attempt: the one handler every attempt of the run shares. */
  readonly #endLive = (live: LiveAttempt, result: AttemptResult): void => this.#end(live, result);
  /** Builds each attempt's `deps` (`attempt-deps.ts`). */
  readonly #deps: AttemptDeps;
  /** Timed-out attempts whose bodies still run and hold their slots (see `lingering-bodies.ts`). */
  readonly #lingering: LingeringBodies;

  constructor(env: AttemptsEnv) {
    this.#env = env;
    // A task is an activation id, a graph position (a graph node queued with it: `enqueueAt`) or a function.
    const order = env.graph.order;
    const queue = (this.#queue = new SlotQueue<string | number | (() => void)>(env.maxConcurrency, (task) => {
      if (typeof task === "number") this.#start(order[task]!, task);
      else if (typeof task === "string") this.#start(task, -1);
      else task();
    }));
    this.#release = () => queue.release();
    this.#lingering = new LingeringBodies({ clock: env.clock, warn: (id, code, message) => env.loop.warn(id, code, message), start: (id) => queue.add(id) });
    this.#deps = new AttemptDeps(env.graph, env.buffer);
  }

  /** Queues an attempt of `id` (once a timed-out body of its own, if one still runs, settles). */
  enqueue(id: string): void {
    if (!this.#lingering.defers(id)) this.#queue.add(id);
  }

  /** Queues an attempt of the graph node at `position` (of `graph.order`): its records are found there, not by id. */
  enqueueAt(position: number): void {
    this.#queue.add(position);
  }

  /** The attempt whose abort state is `abort`, while it runs or waits (undefined once it ended). */
  liveOf(abort: AttemptAbort): LiveAttempt | undefined {
    return abort instanceof LiveAttempt && !abort.done ? abort : undefined;
  }

  /** Aborts every running and waiting attempt (the run stops); lingering bodies give their slots back. */
  abortAll(reason: unknown): void {
    const all: LiveAttempt[] = [];
    for (let live = this.#first; live !== undefined; live = live.next) all.push(live);
    for (const live of all) live.abort(reason);
    // Nothing new starts now, and what is queued or deferred must get a slot to end as cancelled.
    this.#lingering.releaseAll();
  }

  /** The run ended: lingering bodies are no longer watched (no timer, no warning after the end). */
  forgetLingering(): void {
    this.#lingering.forget();
  }

  /** The attempt suspends in `waitFor(key)`: it gives its slot back and stops its timer. */
  suspend(live: LiveAttempt, key: string): void {
    live.waitingOn = key;
    this.#suspended.set(live.id, live);
    this.#env.loop.suspended();
    if (live.timer !== undefined) {
      this.#env.clock.clearTimeout(live.timer);
      live.timer = undefined;
    }
    live.release?.();
    live.release = undefined;
  }

  /** A waiting attempt goes on: once a slot is free, `settle` resolves or rejects its `waitFor`. */
  resume(id: string, settle: () => void): void {
    const live = this.#suspended.get(id);
    if (!live || live.done) return;
    this.#suspended.delete(id);
    live.waitingOn = undefined;
    this.#env.loop.resumed();
    const { buffer } = this.#env;
    if (buffer.get(live.id)?.status === "waiting") buffer.transition(markResumed(), live.id, false);
    this.#queue.add(() => {
      if (live.done) {
        this.#release();
        return;
      }
      live.release = this.#release;
      // Waiting does not count against the attempt's time limit: the body gets it afresh as it goes on.
      const ms = this.#env.defs.policy(live.id).timeoutMs;
      if (ms !== undefined && live.timer === undefined) {
        live.timer = this.#env.clock.setTimeout(() => live.abort(new NodeTimeoutError(live.id, ms)), ms);
      }
      settle();
    });
  }

  /** The queue task of one attempt: starts the body; the attempt gives its slot back when it ends or suspends. */
  #start(id: string, position: number): void {
    const { loop, defs, graph, clock, buffer, events, maps } = this.#env;
    if (loop.stopping) {
      this.#release();
      void loop.settle(id, { kind: "cancelled" });
      return;
    }
    const node = defs.getAt(id, position);
    if (!node) throw new Error(`taskloom internal error: no node "${id}" in graph "${graph.name}"`);
    const element = maps.element(id);
    if (node.map && !element) {
      const release = this.#release;
      maps.start(id, node, node.map).then(release, release);
      return;
    }
    const startedAt = clock.now();
    // Not urgent: a crash resets running nodes anyway, so this rides along with the next write. The attempt's number: the record's count (from 1).
    const attempt = buffer.transitionAt(markRunning(startedAt), id, position, false).attempts;
    if (events.has("node:start")) {
      events.emit("node:start", this.#env.names.tag(id, { runId: this.#env.runId, at: startedAt, nodeId: id, attempt }));
    }
    const live = new LiveAttempt(id, position, attempt, startedAt, this.#endLive);
    const first = this.#first;
    if (first !== undefined) {
      live.next = first;
      first.prev = live;
    }
    this.#first = live;
    live.release = this.#release;
    const policy = defs.policy(id, node);
    if (policy.timeoutMs !== undefined) this.#arm(live, policy.timeoutMs);
    let body: unknown;
    try {
      const context = this.#context(id, node, attempt, live, element);
      const executor = this.#env.executor;
      body =
        executor === undefined || graph.dynamic
          ? node.fn(context)
          : executor.execute(
              {
                runId: this.#env.runId,
                ...(this.#env.runInstance !== undefined && { runInstance: this.#env.runInstance }),
                graphName: graph.name,
                fingerprint: graph.fingerprint,
                nodeId: element ? element.map : (this.#env.frontier.visit(id)?.nodeId ?? id),
                activationId: id,
                attempt,
                inputs: this.#env.inputs,
                deps: context.deps,
                ...(element && { item: element.item, index: element.index }),
                ...(context.visit > 1 && { visit: context.visit }),
                ...(context.trigger && { trigger: context.trigger }),
              },
              context,
            );
    } catch (error) {
      this.#end(live, { kind: "error", error, attempt });
      return;
    }
    this.#await(live, body);
  }

  /** Starts the attempt's time limit. */
  #arm(live: LiveAttempt, ms: number): void {
    live.timer = this.#env.clock.setTimeout(() => live.abort(new NodeTimeoutError(live.id, ms)), ms);
  }

  /**
   * Ends the attempt when its body's result settles. A function of its own,
   * so the handlers' closures hold the attempt and nothing else of `#start`.
   */
  #await(live: LiveAttempt, body: unknown): void {
    try {
      // Reading `then` runs user code (a getter, a proxy trap): what it throws fails the attempt.
      if (isThenable(body)) {
        body.then(
          (value) => this.#end(live, { kind: "ok", value, attempt: live.attempt, startedAt: live.startedAt }),
          (error: unknown) => this.#end(live, { kind: "error", error, attempt: live.attempt }),
        );
      } else {
        this.#end(live, { kind: "ok", value: body, attempt: live.attempt, startedAt: live.startedAt });
      }
    } catch (error) {
      this.#end(live, { kind: "error", error, attempt: live.attempt });
    }
  }

  /** Ends an attempt once: gives its slot back, drops its links, and hands its result to the loop. */
  #end(live: LiveAttempt, result: AttemptResult): void {
    if (live.done) {
      // The body of an attempt its timeout ended has settled now.
      if (live.lingering) this.#lingering.settled(live);
      return;
    }
    live.done = true;
    live.onEnd = undefined;
    if (live.timer !== undefined) {
      this.#env.clock.clearTimeout(live.timer);
      live.timer = undefined;
    }
    const { prev, next } = live;
    if (prev !== undefined) prev.next = next;
    else if (this.#first === live) this.#first = next;
    if (next !== undefined) next.prev = prev;
    live.prev = undefined;
    live.next = undefined;
    if (live.waitingOn !== undefined) {
      if (this.#suspended.get(live.id) === live) this.#suspended.delete(live.id);
      this.#env.closeWait(live.waitingOn, live.id);
      live.waitingOn = undefined;
      this.#env.loop.resumed();
    }
    // Ended by its timeout (the abort's own reason is the result): its body still runs, and keeps its slot.
    if (live.release !== undefined && result.kind === "error" && result.error === live.reason && live.reason instanceof NodeTimeoutError) {
      this.#lingering.linger(live, live.reason.timeoutMs);
    } else {
      live.release?.();
      live.release = undefined;
    }
    void this.#env.loop.settle(live.id, result, live.position);
  }

  #context(id: string, node: NodeDefinition, attempt: number, abort: AttemptAbort, element: ElementOf | undefined): AttemptContext<unknown> {
    const { frontier, buffer } = this.#env;
    const deps = frontier.visitDeps(id) ?? this.#deps.of(id, node.after);
    // A map element runs for its map node's visit: it sees the trigger of the route that chose the map node.
    const visit = frontier.visit(element === undefined ? id : element.map);
    const from = visit?.trigger;
    return new AttemptContext(this.#env.host, abort, this.#env.inputs, deps, this.#env.runId, id, attempt, {
      visit: visit?.visit ?? 1,
      trigger: from && { from: from.fromNode, route: from.route, value: buffer.output(from.from) },
      element,
    });
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as PromiseLike<unknown>).then === "function";
}
