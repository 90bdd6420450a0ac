/**
 * `retrieveRun(runId, { store })`: the {@link RunHandle} of a run looked up
 * by id, the same handle type `run()` returns (DBOS's `retrieveWorkflow`).
 *
 * - A run this thread drives (same store location and run id, whatever
 *   store object the caller passes; see active-runs.ts) gives a handle on
 *   its live run session: status, state, events, `result()` and `cancel()`
 *   are the run's own, as on the handle `run()` returned.
 * - Any other stored run gives a {@link StoredRunHandle}: its status and
 *   state as read from the store; `result()` settles from the store
 *   (polling while the run is `pending` or `running` elsewhere); `cancel()`
 *   of an unfinished run is refused (`CancelNotAvailableError`): nothing
 *   here can stop another process's run: `cancelRun(runId, { store })` does.
 *
 * Invariant: a stored handle never writes to the store and never takes the
 * run's lease; it only reads.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { RunEvents } from "../events/run-events.js";
import type { RunStore } from "../persistence/run-store.js";
import { errorFromRecord } from "../state/error-record.js";
import type { RunState } from "../state/run-state.js";
import { isRunFinal, type RunStatus } from "../state/status.js";
import { activeRun } from "./active-runs.js";
import { defaultStore } from "./default-store.js";
import { assertRunId } from "../core/run-id.js";
import { surfaceChildWaits } from "./child-runs.js";
import { assertStore } from "./run-options.js";
import { RunSession } from "./run-session.js";
import { cancelReasonText, SessionHandle, type RunHandle } from "./run.js";
import { CancelNotAvailableError, GraphHasPendingWaits, RunHandleDisposedError, RunNotFoundError, RunOutputsNotStoredError } from "./errors.js";

/** Options of {@link retrieveRun}. */
export interface RetrieveRunOptions {
  /** The store the run is kept in. @default the default `LowdbStore` */
  readonly store?: RunStore;
  /**
   * How often `result()` reads the store again while the run is `pending`
   * or `running` in another process (ms, 10 to 60000).
   * @default 1000
   */
  readonly pollIntervalMs?: number;
}

/** Default of {@link RetrieveRunOptions.pollIntervalMs}. */
export const DEFAULT_POLL_INTERVAL_MS = 1_000;

const OPTION_KEYS = optionKeys<RetrieveRunOptions>({ store: true, pollIntervalMs: true });

/**
 * The handle of run `runId`: on the live run when this process drives it,
 * else on the stored run (a read-only `RunHandle` over the store). Throws
 * `RunNotFoundError` for an unknown run, `InvalidRunIdError` and
 * `InvalidOptionError` for bad arguments.
 *
 * A handle on a live run is the run's own: `cancel()` cancels it, and
 * disposing the handle (`await using`) cancels it too, as disposing the
 * handle `run()` returned does. A run started here is found once its
 * session holds the run's lease (right after `run()`, before any node
 * starts); just before that, the stored run (if any) is returned.
 *
 * @example
 * ```ts
 * const handle = await retrieveRun("etl-2026-11-23", { store });
 * console.log(handle.status);           // "running", "succeeded", …
 * const outputs = await handle.result(); // waits while it runs (here or elsewhere)
 * ```
 */
export async function retrieveRun<O = unknown>(runId: string, options: RetrieveRunOptions = {}): Promise<RunHandle<O>> {
  assertRunId(runId);
  assertKnownKeys("retrieveRun", options, OPTION_KEYS);
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 10 || pollIntervalMs > 60_000) {
    throw new InvalidOptionError("pollIntervalMs", `must be a whole number of milliseconds from 10 to 60000 (got ${String(pollIntervalMs)})`);
  }
  if (options.store !== undefined) assertStore(options.store);
  const store = options.store ?? defaultStore();
  const live = liveSession<O>(store, runId);
  if (live) return new SessionHandle(live);
  const stored = await store.load(runId);
  // A session here may have taken the run's lease while we read.
  const late = liveSession<O>(store, runId);
  if (late) return new SessionHandle(late);
  if (!stored) throw new RunNotFoundError(runId);
  return new StoredRunHandle<O>(store, stored.state, pollIntervalMs);
}

/** The session of this thread that drives run `runId` kept where `store` keeps it, if any. */
function liveSession<O>(store: RunStore, runId: string): RunSession<O> | undefined {
  const active = activeRun(store, runId);
  return active instanceof RunSession ? (active as RunSession<O>) : undefined;
}

/**
 * The handle of a stored run this process does not drive. `status` and
 * `state` are as last read from the store (`result()` reads it again).
 * `events` never fire: the run's events go to the process that drives it.
 *
 * `result()`: a succeeded run resolves to its stored outputs
 * (`RunOutputsNotStoredError` when they could not be stored exactly); a
 * failed or cancelled run rejects with its stored error (an `Error` with
 * the original `name`, `code` and `message`); a waiting run rejects with
 * `GraphHasPendingWaits`, as its own handle did (a child run's waits
 * with the child's run id); a `pending` or `running`
 * run is read again every `pollIntervalMs` until it is none of these (a
 * run whose driver died stays `running` until a driver resumes it, so the
 * promise waits as long); if this process starts driving it meanwhile,
 * the live run's result is used (and its state, once it ended). A run
 * deleted meanwhile, or deleted and started again under its id (another
 * mark, `RunMeta.instance`), rejects with `RunNotFoundError`: the other
 * run's result is not this one's. `cancel(reason)`
 * cancels the run this process drives (with `reason`), is a no-op on a
 * finished run and throws `CancelNotAvailableError` otherwise.
 *
 * Disposing the handle (`await using`) stops its reads: a `result()` still
 * waiting for the run (and any called later on a run that had not ended
 * as last read) rejects with `RunHandleDisposedError`, so no poll timer
 * outlives the handle. The run itself is not cancelled: this process does
 * not drive it.
 */
export class StoredRunHandle<O> implements RunHandle<O> {
  readonly runId: string;
  readonly events = new RunEvents();
  readonly #store: RunStore;
  readonly #pollIntervalMs: number;
  /** The run's mark when the handle was made: a later run of the id (deleted and started again) has another. */
  readonly #mark: string | undefined;
  #state: RunState;
  #result: Promise<O> | undefined;
  /** Aborted when the handle is disposed: the poll's sleep and its wait for a live run stop there. */
  readonly #disposed = new AbortController();

  constructor(store: RunStore, state: RunState, pollIntervalMs: number) {
    this.runId = state.meta.runId;
    this.#store = store;
    this.#state = state;
    this.#pollIntervalMs = pollIntervalMs;
    this.#mark = state.meta.instance;
  }

  /** Whether `state` is of the run this handle was made for, not of a later run of its id. */
  #same(state: RunState | undefined): boolean {
    return this.#mark === undefined || state?.meta.instance === this.#mark;
  }

  get status(): RunStatus {
    return this.#state.meta.status;
  }

  get state(): RunState {
    return this.#state;
  }

  result(): Promise<O> {
    this.#result ??= this.#settle();
    return this.#result;
  }

  cancel(reason?: string): void {
    const live = liveSession<O>(this.#store, this.runId);
    if (live) return live.cancel(cancelReasonText(reason, "cancelled by the caller"));
    if (isRunFinal(this.status)) return;
    throw new CancelNotAvailableError(this.runId, this.status);
  }

  /** Stops the handle's reads: a `result()` still waiting rejects with `RunHandleDisposedError`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#disposed.abort();
    await this.#result?.catch(() => undefined);
  }

  /** `work`, unless the handle is disposed first: then `RunHandleDisposedError`. */
  #unlessDisposed<T>(work: Promise<T>): Promise<T> {
    const signal = this.#disposed.signal;
    if (signal.aborted) return Promise.reject(new RunHandleDisposedError(this.runId));
    return new Promise<T>((resolve, reject) => {
      const stop = (): void => reject(new RunHandleDisposedError(this.runId));
      signal.addEventListener("abort", stop, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
    });
  }

  async #settle(): Promise<O> {
    for (;;) {
      const { meta } = this.#state;
      switch (meta.status) {
        case "succeeded":
          if (meta.outputsDurable === false) throw new RunOutputsNotStoredError(this.runId);
          return meta.outputs as O;
        case "failed":
        case "cancelled":
          throw errorFromRecord(meta.error ?? { name: "Error", message: `run "${this.runId}" ended ${meta.status}` });
        case "waiting":
          // As its own handle and getRun say it: a child's waits with the child's run id, not the parent's `$child:` wait.
          throw new GraphHasPendingWaits(this.runId, await surfaceChildWaits(this.#store, meta.waits));
        case "pending":
        case "running":
          break;
      }
      // Disposal ends the sleep (its AbortError is replaced by the typed error).
      await sleep(this.#pollIntervalMs, undefined, { signal: this.#disposed.signal }).catch(() => undefined);
      if (this.#disposed.signal.aborted) throw new RunHandleDisposedError(this.runId);
      const live = liveSession<O>(this.#store, this.runId);
      if (live) {
        let outcome: { ok: true; value: O } | { ok: false; error: unknown };
        try {
          outcome = { ok: true, value: await this.#unlessDisposed(live.result()) };
        } catch (error) {
          if (error instanceof RunHandleDisposedError) throw error;
          outcome = { ok: false, error };
        }
        // A session of a later run of the id (this one was deleted meanwhile): its end is not this run's.
        if (live.state !== undefined && !this.#same(live.state)) throw new RunNotFoundError(this.runId, this.#mark);
        // The live run's end is this handle's too: its status and state must not stay as last read.
        this.#state = live.state ?? this.#state;
        if (outcome.ok) return outcome.value;
        throw outcome.error;
      }
      const stored = await this.#unlessDisposed(this.#store.load(this.runId));
      if (!stored) throw new RunNotFoundError(this.runId);
      if (!this.#same(stored.state)) throw new RunNotFoundError(this.runId, this.#mark);
      this.#state = stored.state;
    }
  }
}
