/**
 * `run` and `runAsync`, and the {@link RunHandle} they share. `run`
 * validates its arguments and resolves the options into a `RunConfig`
 * once (run-options.ts), builds the handle synchronously (its `runId`,
 * `status` and `events` are usable before any node starts) on a
 * {@link RunSession} that starts on the next tick, so listeners attached
 * right after `run()` returns see every event. `runAsync` is `run(...).result()`.
 *
 * @module
 */
import { RunEvents } from "../events/run-events.js";
import type { RunState } from "../state/run-state.js";
import type { RunStatus } from "../state/status.js";
import { resolveRunOptions, validateRunOptions, type RunOptions } from "./run-options.js";
import { RunSession } from "./run-session.js";
import { valueText } from "../core/text.js";
import { toTaskGraph, type Runnable } from "./runnable.js";

export type { GraphFnLike } from "./runnable.js";

/**
 * A run in progress (or finished): returned by `run()` at once, and by
 * `retrieveRun(runId, { store })` for a run looked up by id (on the live
 * run when this process drives it, else on the stored run).
 *
 * @example
 * ```ts
 * const handle = run(g, inputs, { runId: "nightly" });
 * handle.events.on("node:success", (e) => console.log("done", e.nodeId));
 * const outputs = await handle.result();
 * ```
 */
export interface RunHandle<O = unknown> extends AsyncDisposable {
  /** The run id (generated when none was given). */
  readonly runId: string;
  /** The run's status now. */
  readonly status: RunStatus;
  /** The run's typed events. */
  readonly events: RunEvents;
  /** The run's latest state, once loaded or created. */
  readonly state: RunState | undefined;
  /** Resolves to the outputs, or rejects with the run's error (`NodeFailedError`, `RunCancelledError`, …). */
  result(): Promise<O>;
  /** Cancels the run: running nodes are aborted, `result()` rejects with `RunCancelledError`. */
  cancel(reason?: string): void;
}

/**
 * The handle on a run this process drives: a view of its {@link RunSession},
 * holding nothing of its own, so `run()` and `retrieveRun()` may each hold
 * one on the same session.
 */
export class SessionHandle<O> implements RunHandle<O> {
  readonly #session: RunSession<O>;

  constructor(session: RunSession<O>) {
    this.#session = session;
  }

  get runId(): string {
    return this.#session.runId;
  }

  get events(): RunEvents {
    return this.#session.events;
  }

  get status(): RunStatus {
    return this.#session.status;
  }

  get state(): RunState | undefined {
    return this.#session.state;
  }

  result(): Promise<O> {
    return this.#session.result();
  }

  cancel(reason?: string): void {
    this.#session.cancel(cancelReasonText(reason, "cancelled by the caller"));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.status === "pending" || this.status === "running") this.cancel("the run handle was disposed");
    await this.result().catch(() => undefined);
  }
}

/**
 * Starts a run and returns its handle at once, before any node runs.
 * Arguments are validated synchronously: a bad option throws here.
 *
 * The thing to run may be a built graph, a `graphFn`, a graph builder
 * (built here; its errors throw `GraphDefinitionError`) or a plain async
 * function, which runs as a one-node graph (node `main`) with the same
 * durability as any run: it receives the inputs and the node's context.
 *
 * `inputs` may be `undefined` when resuming a stored run (the stored
 * inputs are used).
 *
 * @example
 * ```ts
 * const handle = run(etl, { url }, { runId: "etl-2026-11-23" });
 * console.log(handle.runId, handle.status); // "etl-2026-11-23" "pending"
 * await handle.result();
 *
 * const report = await run(async (_inputs, { step }) => step("fetch", () => fetchReport()), undefined).result();
 * ```
 */
export function run<I, O>(runnable: Runnable<I, O>, inputs: I | undefined, options: RunOptions = {}): RunHandle<O> {
  const graph = toTaskGraph(runnable);
  validateRunOptions(options);
  // The options stop here: below, everything reads the resolved, frozen config.
  const config = resolveRunOptions(options);
  const events = new RunEvents(config.onListenerError);
  const session = new RunSession<O>({ graph, inputs, config, events });
  const handle = new SessionHandle(session);
  const signal = config.signal;
  let detach: (() => void) | undefined;
  if (signal) {
    const onAbort = (): void => handle.cancel(abortReason(signal));
    if (signal.aborted) onAbort();
    else {
      signal.addEventListener("abort", onAbort, { once: true });
      // A signal often outlives the run (one per server, say): drop the listener when the run ends, or every run leaks.
      detach = () => signal.removeEventListener("abort", onAbort);
    }
  }
  if (detach) void handle.result().then(detach, detach);
  return handle;
}

/**
 * Runs a graph (or a builder, a `graphFn`, a plain async function: see
 * {@link run}) and resolves to its outputs. Given the `runId` of a stored
 * run, it resumes it: succeeded nodes are not run again. It never throws:
 * every failure, a bad option included, rejects the returned promise.
 *
 * @example
 * ```ts
 * const out = await runAsync(etl, { url }, { runId: "etl-2026-11-23", maxConcurrency: 8 });
 * const n = await runAsync(async () => countRows(), undefined, { runId: "count-1" });
 * ```
 */
export function runAsync<I, O>(runnable: Runnable<I, O>, inputs: I | undefined, options: RunOptions = {}): Promise<O> {
  try {
    return run(runnable, inputs, options).result();
  } catch (error) {
    return Promise.reject(error);
  }
}

function abortReason(signal: AbortSignal): string {
  return cancelReasonText(signal.reason, "the caller's signal was aborted");
}

/**
 * A cancel's reason as the text `RunCancelledError.reason` holds: an
 * error's message, another value's text, `fallback` for none or an empty
 * one. JavaScript callers pass an `Error` to `cancel()` as they would to
 * `AbortController.abort()`; it was kept as the error's `reason`, typed a string.
 */
export function cancelReasonText(reason: unknown, fallback: string): string {
  const text = reason === undefined ? "" : reason instanceof Error ? reason.message : typeof reason === "string" ? reason : valueText(reason);
  return text.length > 0 ? text : fallback;
}
