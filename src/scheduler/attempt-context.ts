/**
 * The {@link NodeContext} of one attempt, as a class: the data fields are
 * plain properties and the functions (`emit`, `step`) and the `signal`
 * are getters on the prototype, created only when a node uses them. A
 * no-op node then costs one small object, not a handful of closures and
 * an AbortController. Destructuring (`({ deps, step }) => …`) reads the
 * getters, and what they return does not depend on `this`.
 *
 * @module
 */
import type { NodeContext } from "../graph/node-context.js";

/** What an attempt's context needs from the scheduler. */
export interface AttemptHost {
  emitFrom(nodeId: string, name: string, data: unknown): void;
  runStep<T>(context: AttemptContext<unknown>, name: string, fn: () => T | Promise<T>): Promise<T>;
}

/**
 * The abort side of one attempt. It ends the attempt's race at once when
 * aborted, and creates the `AbortSignal` the node sees only if the node
 * reads `ctx.signal`.
 */
export class AttemptAbort {
  #controller: AbortController | undefined;
  #reject: ((reason: unknown) => void) | undefined;
  /** True once aborted. */
  aborted = false;
  /** Why (a `NodeTimeoutError` or `RunCancelledError`). */
  reason: unknown;

  /** The signal the node sees. */
  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    if (this.aborted && !this.#controller.signal.aborted) this.#controller.abort(this.reason);
    return this.#controller.signal;
  }

  /** Aborts the attempt: the signal fires and the race rejects with `reason`. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    this.#reject?.(reason);
  }

  /** Settles with `value`, or rejects with the abort reason if aborted first. */
  race<T>(value: T | PromiseLike<T>): Promise<T> {
    if (this.aborted) return Promise.reject(this.reason);
    if (!isThenable(value)) return Promise.resolve(value);
    return new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      value.then(resolve, reject);
    });
  }
}

function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as PromiseLike<T>).then === "function";
}

/** The context passed to one attempt of one node. */
export class AttemptContext<I> implements NodeContext<I, Record<string, unknown>> {
  readonly inputs: I;
  readonly deps: Record<string, unknown>;
  readonly runId: string;
  readonly nodeId: string;
  readonly attempt: number;
  /** Step names used in this attempt (a name used twice is a bug in the node). */
  usedSteps: Set<string> | undefined;
  readonly #host: AttemptHost;
  readonly #abort: AttemptAbort;

  constructor(
    host: AttemptHost,
    abort: AttemptAbort,
    inputs: I,
    deps: Record<string, unknown>,
    runId: string,
    nodeId: string,
    attempt: number,
  ) {
    this.#host = host;
    this.#abort = abort;
    this.inputs = inputs;
    this.deps = deps;
    this.runId = runId;
    this.nodeId = nodeId;
    this.attempt = attempt;
  }

  /** The attempt's abort state. */
  get abortState(): AttemptAbort {
    return this.#abort;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get emit(): (name: string, data?: unknown) => void {
    return (name, data) => this.#host.emitFrom(this.nodeId, name, data);
  }

  get step(): <T>(name: string, fn: () => T | Promise<T>) => Promise<T> {
    return (name, fn) => this.#host.runStep(this as AttemptContext<unknown>, name, fn);
  }
}
