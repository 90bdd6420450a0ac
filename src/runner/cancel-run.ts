/**
 * `cancelRun(runId, { store, reason })`: cancels a run whoever drives it.
 *
 * - Driven by this thread: its session is cancelled (running nodes see
 *   their signal abort) and `cancelRun` resolves once it saved the run.
 *   A session that stopped without saving the cancel (it came before the
 *   engine ran, or as the run saved itself `waiting`) leaves the stored
 *   run unfinished: it is then cancelled through the store, as below.
 * - Driven by another process (its lease is held): the request is written
 *   into that driver's lease (`RunStore.requestCancel`, addressed to the
 *   lease's token); the driver sees it at its next renewal (within a third
 *   of its lease TTL), cancels the run and saves it `cancelled`.
 *   `cancelRun` reads the store until the run has ended.
 * - Driven by nobody (waiting, crashed, not started again): the run is
 *   marked `cancelled` directly, under a short lease so no driver starts
 *   meanwhile (delivery-lease.ts).
 * - Ended already (succeeded, failed, cancelled): nothing is written.
 *
 * Then each unfinished child run (`ctx.run`) is cancelled the same way.
 *
 * Invariants. Nothing is written for an unknown run or bad arguments. A
 * request never reaches a later driver (it lives in the lease it was
 * addressed to), and nothing is written to a later run of the id: one
 * deleted and started again while `cancelRun` waited for its driver
 * (another mark, `RunMeta.instance`) ends it with `RunNotFoundError`.
 * If the driver keeps renewing its lease but does not stop
 * the run (a process of an older version), `cancelRun` gives up after
 * about twice the lease's remaining time with `CancelNotAvailableError`.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { assertRunId, assertRunMark } from "../core/run-id.js";
import { InvalidOptionError } from "../errors.js";
import { RunCancelledError } from "../engine/errors.js";
import { RunLockedError } from "../persistence/errors.js";
import type { Lease, RunStore, StoredRun } from "../persistence/run-store.js";
import { toErrorRecord } from "../state/error-record.js";
import { setRunStatus } from "../state/run-state.js";
import { isRunFinal, type RunStatus } from "../state/status.js";
import { activeRun } from "./active-runs.js";
import { defaultStore } from "./default-store.js";
import { acquireDeliveryLease, isDeliveryLease } from "./delivery-lease.js";
import { CancelNotAvailableError, RunNotFoundError } from "./errors.js";
import { childRunsOf } from "./run-children.js";
import { assertMarkedRun } from "./run-mark.js";
import { assertStore } from "./run-options.js";
import { asTaskloomError } from "./run-lease.js";

/** Options of {@link cancelRun}. */
export interface CancelRunOptions {
  /** The store the run is kept in. @default the default `LowdbStore` */
  readonly store?: RunStore;
  /** Why: recorded in the run's `RunCancelledError`. @default "cancelled by cancelRun" */
  readonly reason?: string;
  /**
   * The run mark of the run to cancel (`getRun(runId).instance`). When
   * given and the run under `runId` is another one (the run meant was
   * deleted and a new run started under its id), `cancelRun` throws
   * `RunNotFoundError` and cancels nothing. Without it, whichever run has
   * the id is cancelled.
   */
  readonly instance?: string;
}

/** What {@link cancelRun} did to one run. */
export interface CancelRunResult {
  readonly runId: string;
  /** The run's status afterwards: `cancelled`, or how it had ended already. */
  readonly status: RunStatus;
  /**
   * `driver`: the process that drove it stopped it; `store`: nobody drove
   * it, it was marked cancelled; `ended`: it had ended already.
   */
  readonly by: "driver" | "store" | "ended";
  /** What was done to each unfinished child run (`ctx.run`). */
  readonly children: readonly CancelRunResult[];
}

const OPTION_KEYS = optionKeys<CancelRunOptions>({ store: true, reason: true, instance: true });
/** How often the store is read while another process stops the run (ms). */
const POLL_MS = 50;

/**
 * Cancels run `runId` (see the module comment) and its unfinished child
 * runs. Throws `RunNotFoundError`, `InvalidRunIdError`,
 * `InvalidOptionError`, and `CancelNotAvailableError` when a live driver
 * did not stop the run (or the store cannot carry the request).
 *
 * @example
 * ```ts
 * // in an admin endpoint, in any process that can reach the store:
 * const { status, by } = await cancelRun("etl-2026-11-23", { store, reason: "bad input file" });
 * console.log(status, by); // "cancelled" "driver"
 * ```
 */
export async function cancelRun(runId: string, options: CancelRunOptions = {}): Promise<CancelRunResult> {
  assertRunId(runId);
  if (options === null || typeof options !== "object") throw new InvalidOptionError("cancelRun options", "must be an object");
  assertKnownKeys("cancelRun", options, OPTION_KEYS);
  const reason = options.reason ?? "cancelled by cancelRun";
  if (typeof reason !== "string" || reason.length === 0 || reason.length > 1_000) {
    throw new InvalidOptionError("reason", "of cancelRun must be a string of 1 to 1000 characters");
  }
  if (options.instance !== undefined) assertRunMark(options.instance, "cancelRun instance");
  if (options.store !== undefined) assertStore(options.store);
  const store = options.store ?? defaultStore();
  const stored = await store.load(runId);
  if (!stored) throw new RunNotFoundError(runId);
  assertMarkedRun(runId, stored.state.meta, options.instance);
  return cancelTree(store, runId, reason, stored.state.meta.instance);
}

/** Cancels run `runId` (whose mark is `instance`), then its unfinished children, theirs, and so on. */
async function cancelTree(store: RunStore, runId: string, reason: string, instance: string | undefined): Promise<CancelRunResult> {
  const { status, by } = await cancelOne(store, runId, reason, instance);
  const children: CancelRunResult[] = [];
  for (const child of await childRunsOf(store, runId, instance)) {
    if (isRunFinal(child.status)) continue;
    // A child's own mark is in its meta (a summary does not carry it).
    const mark = (await store.load(child.runId).catch(() => undefined))?.state.meta.instance;
    children.push(await cancelTree(store, child.runId, `its parent run "${runId}" was cancelled: ${reason}`, mark));
  }
  return { runId, status, by, children };
}

/**
 * Cancels the one run `runId` whose mark is `mark`: through its driver here, a request to its driver
 * elsewhere, or the store. `RunNotFoundError` once the store holds another run of the id (deleted and started
 * again while this waited for a driver): that run is not the one asked for.
 */
async function cancelOne(store: RunStore, runId: string, reason: string, mark: string | undefined): Promise<Pick<CancelRunResult, "status" | "by">> {
  const theRun = (stored: StoredRun | undefined): StoredRun => {
    if (!stored) throw new RunNotFoundError(runId);
    assertMarkedRun(runId, stored.state.meta, mark);
    return stored;
  };
  let asked: { owner: string; token: number; giveUpAt: number } | undefined;
  for (;;) {
    const here = activeRun(store, runId);
    if (here?.cancel) {
      here.cancel(reason);
      await here.stopped;
      const status = await storedStatus(store, runId);
      if (isRunFinal(status)) return { status, by: "driver" };
      // The session stopped without saving the cancel: it came before its engine ran (nothing written)
      // or as it saved itself `waiting`. The stored run is not driven now: cancel it through the store.
      continue;
    }
    const before = theRun(await store.load(runId));
    if (isRunFinal(before.state.meta.status)) return { status: before.state.meta.status, by: asked ? "driver" : "ended" };
    let lease: Lease;
    try {
      lease = await acquireDeliveryLease(store, runId);
    } catch (error) {
      if (!(error instanceof RunLockedError) || isDeliveryLease(error.holder)) throw error;
      const holder = error.holder as Partial<Lease>;
      if (typeof holder.token !== "number") throw error;
      if (asked === undefined || asked.owner !== holder.owner || asked.token !== holder.token) {
        if (!store.requestCancel) {
          throw new CancelNotAvailableError(runId, before.state.meta.status, "its store has no requestCancel, so the process that drives it cannot be reached");
        }
        const now = Date.now();
        // Addressed to that holder: a run deleted and started again meanwhile restarts its tokens at 1.
        const owner = typeof holder.owner === "string" ? holder.owner : undefined;
        await store.requestCancel(runId, { token: holder.token, reason, at: now, ...(owner !== undefined && { owner }) }).catch((e: unknown) => {
          throw asTaskloomError(runId, e);
        });
        asked = { owner: String(holder.owner), token: holder.token, giveUpAt: now + 2 * Math.max(0, error.holder.expiresAt - now) + 5_000 };
      } else if (Date.now() > asked.giveUpAt) {
        throw new CancelNotAvailableError(
          runId,
          before.state.meta.status,
          `the process that drives it (pid ${error.holder.pid} on ${error.holder.host}) kept its lease but did not stop the run`,
        );
      }
      await sleep(POLL_MS);
      continue;
    }
    try {
      const stored = theRun(await store.load(runId));
      const meta = stored.state.meta;
      if (isRunFinal(meta.status)) return { status: meta.status, by: asked ? "driver" : "ended" };
      const error = toErrorRecord(new RunCancelledError(runId, reason));
      const next = setRunStatus(stored.state, "cancelled", Date.now(), { error });
      await store.writeSnapshot(next, stored.seq, lease).catch((e: unknown) => {
        throw asTaskloomError(runId, e);
      });
      return { status: "cancelled", by: "store" };
    } finally {
      await store.releaseLease(lease).catch(() => undefined);
    }
  }
}

async function storedStatus(store: RunStore, runId: string): Promise<RunStatus> {
  const stored = await store.load(runId);
  if (!stored) throw new RunNotFoundError(runId);
  return stored.state.meta.status;
}
