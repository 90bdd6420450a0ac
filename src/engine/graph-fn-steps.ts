/**
 * `graphFn` step coordination. The body of a dynamic graph runs as a
 * coordinator outside the queue; each `ctx.step(id, fn)` appends an
 * activation record (in call order, journaled at once) and is queued like
 * any node. On replay a succeeded step resolves from its record without
 * running, and the i-th step asked for must be the i-th recorded, or the
 * step rejects with `NonDeterminismError`.
 *
 * States of the coordinator: running (it counts as outstanding, but never
 * as busy: a body that awaits only waiting steps is waiting too) →
 * returned (its value is the run's output) or threw (the run fails) or
 * let go of (the run stopped: it cannot be aborted like an attempt, so
 * the run ends without it and its later steps are refused).
 *
 * Invariants:
 * - A refused call takes no position, so a body that catches the refusal
 *   replays in step with its journal.
 * - A step's failure goes to the body that awaits it, which may catch it.
 *   A failure nobody awaits (a step the body started and never observed)
 *   fails the run, as an uncaught one does, instead of surfacing as an
 *   unhandled rejection that would end the process.
 * - The body gets its own copy of each stored step value (made by the
 *   store's codec), live and replayed alike: a body that changes the value
 *   it got changes neither the saved result nor what a replay returns.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";
import { assertOptionKeys, STEP_OPTION_KEYS } from "../graph/option-keys.js";
import type { TaskGraph } from "../graph/task-graph.js";
import { nodeRecords } from "../state/node-table.js";
import type { ActivationDefs } from "./activation-defs.js";
import type { RecordBuffer } from "./record-buffer.js";
import type { ActivationEnd, ActivationOwner, Coordinator, Stop } from "./loop-types.js";
import { isReadable } from "./run-loop.js";
import { NonDeterminismError, RunCancelledError } from "./errors.js";
import { type GraphFnContext, type NodeDefinition, type StepOptions } from "../graph/definition.js";
import type { ChildRunOptions } from "../graph/node-context.js";
import { validateDuration, validateRetryOptions } from "../graph/retry-options.js";
import { codec } from "../core/stored-codec.js";
import { MAX_TIMER_MS } from "../core/clock.js";
import { isDurable } from "../core/value-codec.js";

/**
 * The promise of one `step` call. `await`, `then`, `catch`, `finally` and
 * `Promise.all` all go through `then`, which marks it observed: a failure
 * of a step promise never observed is the run's (see `GraphFnSteps.settled`).
 */
class StepPromise<T> extends Promise<T> {
  // Derived promises (then, catch, finally) are plain promises.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  observed = false;

  override then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.observed = true;
    return super.then(onFulfilled, onRejected);
  }
}

/** The body's own copy of a stored step value (the store's codec round trip); a value that is not stored is handed as it is. */
function ownCopy(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (!isDurable(value)) return value;
  return codec.deserialize(codec.serialize(value));
}

/** What step coordination needs from the run loop. */
export interface StepLoop {
  readonly stopping: Stop | undefined;
  /** The run's outcome is decided: nothing more is journaled or dispatched. */
  readonly finished: boolean;
  hold(n: number): void;
  release(): void;
  dispatch(ids: readonly string[]): void;
  stop(stop: Stop): void;
  checkDone(): void;
}

/** What step coordination works with. */
export interface GraphFnStepsEnv {
  readonly graph: TaskGraph<unknown, unknown>;
  readonly inputs: unknown;
  readonly runId: string;
  /** The run's mark, for the body's `runInstance`. */
  readonly runInstance: string | undefined;
  readonly buffer: RecordBuffer;
  readonly defs: ActivationDefs;
  readonly loop: StepLoop;
  readonly emit: (name: string, data: unknown) => void;
}

/** The coordinator and steps of one dynamic graph's run. */
export class GraphFnSteps implements ActivationOwner, Coordinator {
  readonly #env: GraphFnStepsEnv;
  /** Who awaits each step. */
  readonly #waiters = new Map<string, { resolve: (value: unknown) => void; reject: (error: unknown) => void; promise: StepPromise<unknown> }>();
  /** The recorded step ids, in call order, when the run resumes. */
  readonly #recorded: string[] = [];
  #calls = 0;
  /** Set while the body has not settled. */
  #coordinator: "running" | { readonly value: unknown } | undefined;
  #abort: AbortController | undefined;
  /** Failed steps whose promise the body had not observed when they failed. */
  #unobserved: { readonly promise: StepPromise<unknown>; readonly error: unknown }[] = [];

  constructor(env: GraphFnStepsEnv) {
    this.#env = env;
    if (env.graph.dynamic) for (const n of nodeRecords(env.buffer.state.nodes)) this.#recorded.push(n.id);
  }

  get running(): boolean {
    return this.#coordinator === "running";
  }

  get result(): { readonly value: unknown } | undefined {
    return typeof this.#coordinator === "object" ? this.#coordinator : undefined;
  }

  /** Runs the body; its result is the run's output. */
  begin(body: (inputs: unknown, context: GraphFnContext) => Promise<unknown>): void {
    const { loop, graph } = this.#env;
    this.#coordinator = "running";
    loop.hold(1);
    const context: GraphFnContext = {
      runId: this.#env.runId,
      runInstance: this.#env.runInstance,
      signal: (this.#abort = new AbortController()).signal,
      step: (id, fn, options) => this.#step(id, fn as NodeDefinition["fn"], options) as Promise<never>,
      emit: (name, data) => this.#env.emit(name, data),
      run: (graph, inputs, options) => this.#run(graph, inputs, options) as Promise<never>,
    };
    Promise.resolve()
      .then(() => body(this.#env.inputs, context))
      .then(
        (value) => {
          if (this.#coordinator !== "running") return; // let go of when the run stopped
          this.#coordinator = { value };
          loop.release();
          this.#failUnobserved();
          loop.checkDone();
        },
        (thrown: unknown) => {
          if (this.#coordinator !== "running") return;
          this.#coordinator = undefined;
          loop.release();
          const error = isReadable(thrown) ? thrown : new TypeError(`the body of graphFn "${graph.name}" threw a value that cannot be read (a revoked Proxy?)`);
          if (!loop.stopping) loop.stop({ kind: "failed", error });
          loop.checkDone();
        },
      );
  }

  settled(id: string, end: ActivationEnd): boolean {
    const waiter = this.#waiters.get(id);
    if (!waiter) return false;
    this.#waiters.delete(id);
    if (end.kind === "ok") waiter.resolve(ownCopy(end.value));
    else {
      waiter.reject(end.error);
      if (!waiter.promise.observed) {
        // Not awaited (yet): a body still running may await it later; once it returned, nothing can catch it.
        this.#unobserved.push({ promise: waiter.promise, error: end.error });
        if (this.#coordinator !== "running") this.#failUnobserved();
      }
    }
    return true;
  }

  /**
   * A step that failed while no one awaited its promise, and the body
   * returned without awaiting it: nothing can catch it, so it fails the
   * run, as an uncaught step failure does.
   */
  #failUnobserved(): void {
    const uncaught = this.#unobserved.find((u) => !u.promise.observed);
    this.#unobserved = [];
    if (uncaught === undefined || this.#env.loop.stopping) return;
    this.#env.loop.stop({ kind: "failed", error: uncaught.error });
    this.#env.loop.checkDone();
  }

  /** The run stops: the body is aborted and let go of. */
  stop(reason: unknown): void {
    this.#abort?.abort(reason);
    if (this.#coordinator === "running") {
      this.#coordinator = undefined;
      this.#env.loop.release();
    }
  }

  /** `ctx.run` of a dynamic graph: a step `run:<key>` whose body runs the child (see `NodeContext.run`). */
  #run(graph: object, inputs: unknown, options: ChildRunOptions | undefined): Promise<unknown> {
    const key = (options as { key?: unknown } | undefined)?.key;
    if (typeof key !== "string" || key.length === 0 || key.length > 100 || key.includes("#")) {
      return Promise.reject(new InvalidOptionError("run(graph, inputs, { key })", 'key must be a string of 1 to 100 characters without "#"'));
    }
    return this.#step(`run:${key}`, (context) => context.run(graph, inputs, options as ChildRunOptions), undefined);
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
      for (const [ms, name] of [
        [options?.timeoutMs, `step("${id}").timeoutMs`],
        [options?.retry?.timeoutMs, `step("${id}") retry.timeoutMs`],
      ] as const) {
        // An attempt's time limit is one timer: Node fires a longer one after 1 ms, timing every attempt out at once.
        if (typeof ms === "number" && ms > MAX_TIMER_MS) throw new InvalidOptionError(name, `must be at most ${MAX_TIMER_MS} ms (about 24.8 days; got ${ms})`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const { buffer, defs, loop } = this.#env;
    if (loop.stopping) return Promise.reject(new RunCancelledError(this.#env.runId, "the run is stopping"));
    if (loop.finished) {
      // Its result could never be saved with the run, so fn must not run (a body that let a timer or a floating chain call step).
      return Promise.reject(
        new InvalidOptionError(`step("${id}")`, `was called after run "${this.#env.runId}" ended; ask for every step before the body's promise settles`),
      );
    }
    // A refused call takes no position, so a body that catches the refusal replays in step with its journal.
    const position = this.#calls;
    const expected = this.#recorded[position];
    if (defs.has(id) || (expected === undefined && buffer.get(id))) {
      return Promise.reject(new InvalidOptionError(`step("${id}")`, "is used twice in one run; give each step its own id"));
    }
    if (expected !== undefined && expected !== id) {
      return Promise.reject(new NonDeterminismError(this.#env.runId, position, expected, id));
    }
    this.#calls += 1;
    defs.add(id, {
      id,
      after: [],
      fn,
      ...(options?.retry !== undefined && { retry: options.retry }),
      ...(options?.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    });
    const existing = buffer.get(id);
    if (existing?.status === "succeeded" && existing.durable !== false) return Promise.resolve(ownCopy(existing.output));
    // Journaled now, so the stored order of records is the call order replay checks.
    if (!existing) buffer.append([{ id, nodeId: id, status: "pending", attempts: 0 }]);
    let settle: { resolve: (value: unknown) => void; reject: (error: unknown) => void } | undefined;
    const result = new StepPromise<unknown>((resolve, reject) => (settle = { resolve, reject }));
    // Never an unhandled rejection: a failure nobody observed fails the run instead (see settled).
    void Promise.prototype.then.call(result, undefined, () => undefined);
    if (settle) this.#waiters.set(id, { ...settle, promise: result });
    loop.dispatch([id]);
    return result;
  }
}
