/**
 * Attempts: starting a node's body, ending it once, its timeout, its
 * concurrency slot and its context.
 *
 * Concurrency. A ready activation is a task in a {@link SlotQueue} whose
 * concurrency is `maxConcurrency`. The task holds a *slot* that the
 * attempt gives back when its body settles, when it is aborted, or when
 * it suspends in `waitFor`; a delivered event takes a slot again before
 * the body goes on ({@link Attempts.resume}). So at most `maxConcurrency`
 * bodies run at once, and neither retry sleeps (outside the queue) nor
 * waits hold a slot.
 *
 * Invariants:
 * - An attempt ends when its body settles or it is aborted, whichever
 *   comes first (`LiveAttempt.done`), so a body that ignores its signal
 *   cannot hold a run open; its late result is ignored.
 * - The attempt timer runs only while the body holds a slot: waiting does
 *   not count against the time limit.
 * - A queued activation whose turn comes while the run is stopping ends
 *   as cancelled without starting.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../core/clock.js";
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
import { type MapSpec, type NodeDefinition } from "../graph/definition.js";

/** One attempt that has started and not ended. */
export interface LiveAttempt {
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

/** What attempts need from the run loop. */
export interface AttemptLoop {
  readonly stopping: Stop | undefined;
  settle(id: string, result: AttemptResult): Promise<void>;
  suspended(): void;
  resumed(): void;
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
  /** Queued attempts: an activation id to start, or a waiting attempt going on. */
  readonly #queue: SlotQueue<string | (() => void)>;
  readonly #live = new Map<string, LiveAttempt>();
  /** Gives one slot back (an attempt's `release`: called once, then cleared). */
  readonly #release: () => void;
  /** The `after` list the last `deps` object was built for ({@link Attempts.#deps}). */
  #lastAfter: readonly string[] | undefined;

  constructor(env: AttemptsEnv) {
    this.#env = env;
    const queue = (this.#queue = new SlotQueue<string | (() => void)>(env.maxConcurrency, (task) => {
      if (typeof task === "string") this.#start(task);
      else task();
    }));
    this.#release = () => queue.release();
  }

  /** Queues an attempt of `id`. */
  enqueue(id: string): void {
    this.#queue.add(id);
  }

  /** The attempt of `id` that runs now. */
  live(id: string): LiveAttempt | undefined {
    return this.#live.get(id);
  }

  /** Aborts every running and waiting attempt (the run stops). */
  abortAll(reason: unknown): void {
    for (const live of [...this.#live.values()]) live.abort.abort(reason);
  }

  /** The attempt suspends in `waitFor(key)`: it gives its slot back and stops its timer. */
  suspend(live: LiveAttempt, key: string): void {
    live.waitingOn = key;
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
    const live = this.#live.get(id);
    if (!live || live.done) return;
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
        live.timer = this.#env.clock.setTimeout(() => live.abort.abort(new NodeTimeoutError(live.id, ms)), ms);
      }
      settle();
    });
  }

  /** The queue task of one attempt: starts the body; the attempt gives its slot back when it ends or suspends. */
  #start(id: string): void {
    const { loop, defs, graph, clock, buffer, events, maps } = this.#env;
    if (loop.stopping) {
      this.#release();
      void loop.settle(id, { kind: "cancelled" });
      return;
    }
    const node = defs.get(id);
    if (!node) throw new Error(`taskloom internal error: no node "${id}" in graph "${graph.name}"`);
    const element = maps.element(id);
    if (node.map && !element) {
      const release = this.#release;
      maps.start(id, node, node.map).then(release, release);
      return;
    }
    const startedAt = clock.now();
    // Not urgent: a crash resets running nodes anyway, so this rides along with the next write.
    // The attempt's number is the one the record now counts (from 1).
    const attempt = buffer.transition(markRunning(startedAt), id, false).attempts;
    if (events.has("node:start")) {
      events.emit("node:start", this.#env.names.tag(id, { runId: this.#env.runId, at: startedAt, nodeId: id, attempt }));
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
    live.release = this.#release;
    live.abort.onAbort = (reason) => this.#end(live, reason instanceof NodeTimeoutError ? { kind: "error", error: reason, attempt } : { kind: "cancelled" });
    const policy = defs.policy(id, node);
    if (policy.timeoutMs !== undefined) {
      const ms = policy.timeoutMs;
      live.timer = clock.setTimeout(() => live.abort.abort(new NodeTimeoutError(id, ms)), ms);
    }
    let body: unknown;
    try {
      const context = this.#context(id, node, attempt, live.abort, element);
      const executor = this.#env.executor;
      body =
        executor === undefined || graph.dynamic
          ? node.fn(context)
          : executor.execute(
              {
                runId: this.#env.runId,
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
  }

  /** Ends an attempt once: gives its slot back and hands its result to the loop. */
  #end(live: LiveAttempt, result: AttemptResult): void {
    if (live.done) return;
    live.done = true;
    if (live.timer !== undefined) this.#env.clock.clearTimeout(live.timer);
    this.#live.delete(live.id);
    if (live.waitingOn !== undefined) {
      this.#env.closeWait(live.waitingOn, live.id);
      live.waitingOn = undefined;
      this.#env.loop.resumed();
    }
    live.release?.();
    live.release = undefined;
    void this.#env.loop.settle(live.id, result);
  }

  /**
   * The `deps` of a node's attempt: the outputs of its `after` nodes. An
   * object built by adding a property named after a node id gets a hidden
   * class of its own per id, and V8 makes each one on a slow path (about
   * 0.8 µs; a 10,000-node chain has 10,000 ids). So unless the list is the
   * one the previous attempt used (fan-out branches share one frozen list,
   * hence one shape, built on the fast path), the object starts without a
   * prototype, which V8 keeps as a dictionary (no hidden class per id), and
   * gets `Object.prototype` once filled: to the node it is a plain object.
   * Speed only (issue 16, target 3): what the object holds is the same.
   */
  #deps(after: readonly string[]): Record<string, unknown> {
    const { buffer } = this.#env;
    if (after.length === 0) return {};
    const shared = after === this.#lastAfter;
    this.#lastAfter = after;
    const deps: Record<string, unknown> = shared ? {} : (Object.create(null) as Record<string, unknown>);
    for (const dep of after) deps[dep] = buffer.output(dep);
    if (!shared) Object.setPrototypeOf(deps, Object.prototype);
    return deps;
  }

  #context(id: string, node: NodeDefinition, attempt: number, abort: AttemptAbort, element: ElementOf | undefined): AttemptContext<unknown> {
    const { frontier, buffer } = this.#env;
    const deps = frontier.visitDeps(id) ?? this.#deps(node.after);
    const visit = frontier.visit(id);
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
