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
import type { RouteTrigger } from "../graph/route.js";
import type { ChildRunOptions, NodeContext, WaitOptions } from "../graph/node-context.js";
import { assertNoNodeStepOptions } from "../graph/option-keys.js";

/** Where an attempt stands: its visit (routed graphs), the route that chose it, its map element. */
export interface AttemptPlace {
  /** Which visit of the node, from 1. */
  readonly visit: number;
  /** The route that chose this visit, if one did. */
  readonly trigger: RouteTrigger | undefined;
  /** The map element this attempt runs, for an element of a map node. */
  readonly element?: { readonly item: unknown; readonly index: number } | undefined;
}

/** What an attempt's context needs from the scheduler. */
export interface AttemptHost {
  /** The run's mark (`RunMeta.instance`), for `ctx.runInstance`. */
  readonly runInstance: string | undefined;
  emitFrom(nodeId: string, name: string, data: unknown): void;
  runStep<T>(context: AttemptContext<unknown>, name: string, fn: () => T | Promise<T>): Promise<T>;
  runWait<T>(context: AttemptContext<unknown>, key: string, options: WaitOptions<T> | undefined): Promise<T>;
  runChild(context: AttemptContext<unknown>, graph: unknown, inputs: unknown, options: ChildRunOptions | undefined): Promise<unknown>;
}

/**
 * The abort side of one attempt. Aborting it (a timeout, a cancellation,
 * another node failing the run) ends the attempt at once through
 * `onAbort`, whatever the body does, and fires the `AbortSignal` the node
 * sees. The signal is created only if the node reads `ctx.signal`: an
 * AbortController costs more than the rest of a no-op node's bookkeeping.
 */
export class AttemptAbort {
  #controller: AbortController | undefined;
  /** True once aborted. */
  aborted = false;
  /** Why (a `NodeTimeoutError` or `RunCancelledError`). */
  reason: unknown;
  /** Called once, when the attempt is aborted. */
  onAbort: ((reason: unknown) => void) | undefined;

  /** The signal the node sees. */
  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    if (this.aborted && !this.#controller.signal.aborted) this.#controller.abort(this.reason);
    return this.#controller.signal;
  }

  /** Aborts the attempt: the signal fires and the attempt ends with `reason`. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    this.onAbort?.(reason);
  }
}

/** The context passed to one attempt of one node. */
export class AttemptContext<I> implements NodeContext<I, Record<string, unknown>> {
  readonly inputs: I;
  readonly deps: Record<string, unknown>;
  readonly runId: string;
  readonly nodeId: string;
  readonly attempt: number;
  /** Which visit of the node (1 unless a routed graph visits it again). */
  readonly visit: number;
  /** The route that chose this visit. */
  readonly trigger: RouteTrigger | undefined;
  /** Step names used in this attempt (a name used twice is a bug in the node). */
  usedSteps: Set<string> | undefined;
  /**
   * The element of a map node's attempt (an own property only then: a
   * `declare` field emits nothing, so other contexts do not carry it).
   */
  declare readonly item?: unknown;
  /** The element's index, with {@link AttemptContext.item}. */
  declare readonly index?: number;
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
    place: AttemptPlace,
  ) {
    this.#host = host;
    this.#abort = abort;
    this.inputs = inputs;
    this.deps = deps;
    this.runId = runId;
    this.nodeId = nodeId;
    this.attempt = attempt;
    this.visit = place.visit;
    this.trigger = place.trigger;
    this.usedSteps = undefined;
    if (place.element) {
      const self = this as { item?: unknown; index?: number };
      self.item = place.element.item;
      self.index = place.element.index;
    }
  }

  /** The attempt's abort state. */
  get abortState(): AttemptAbort {
    return this.#abort;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get runInstance(): string | undefined {
    return this.#host.runInstance;
  }

  get emit(): (name: string, data?: unknown) => void {
    return (name, data) => this.#host.emitFrom(this.nodeId, name, data);
  }

  get step(): <T>(name: string, fn: () => T | Promise<T>) => Promise<T> {
    return (name, fn, ...options: unknown[]) => {
      try {
        assertNoNodeStepOptions(name, options[0]);
      } catch (error) {
        return Promise.reject(error);
      }
      return this.#host.runStep(this, name, fn);
    };
  }

  get waitFor(): <T = unknown>(key: string, options?: WaitOptions<T>) => Promise<T> {
    return (key, options) => this.#host.runWait(this, key, options);
  }

  get run(): <O = unknown>(graph: object, inputs: unknown, options: ChildRunOptions) => Promise<O> {
    return <O>(graph: object, inputs: unknown, options: ChildRunOptions) => this.#host.runChild(this, graph, inputs, options) as Promise<O>;
  }
}
