/**
 * `resolveWait`: delivers an external event (a review, an approval, a
 * webhook) to a run that waits for it.
 *
 * - If a thread of this process drives the run (recognised by run id and
 *   store location, whatever store object the caller passes), the event
 *   goes straight to the waiting node, which goes on at once; the payload
 *   is checked with the wait's own schema. From another thread of the
 *   process, it is handed to the driving thread (live-runs-channel.ts).
 * - Otherwise the event is written into the stored run's inbox, under a
 *   short delivery lease (so it never races a driver; other resolvers wait
 *   for it, see delivery-lease.ts), whenever the stored run has that wait
 *   open, whatever status it was saved with (a driver killed while the node
 *   waited leaves it `running`). The next `runAsync(graph, inputs, { runId })`
 *   hands it to the node. Pass `schema` to check the payload now; the
 *   payload itself is delivered (not the schema's output), and the wait's
 *   own schema checks it again, and makes the node's value, when the node
 *   takes it.
 * - Another live process driving the run: `RunLockedError`.
 * - With `instance` (the run mark, `ctx.runInstance` in the node that
 *   opened the wait, or `getRun(runId).instance`), the event reaches only
 *   that run: when the run stored or driven under the id is another run
 *   (the one meant was deleted and a new one started under its id), it is
 *   refused with `RunNotFoundError`, on every path, before anything is
 *   written.
 *
 * The payload is copied through the store's own round trip (serialize,
 * then deserialize) before either path: the node gets an independent value,
 * the same one whichever path delivered it, and the caller may go on
 * mutating its object.
 *
 * Nothing is written when the run or the key is unknown, when the payload
 * fails validation, or when the wait was already resolved and taken.
 *
 * @module
 */
import { hostname } from "node:os";
import { InvalidOptionError } from "../errors.js";
import { WaitAlreadyResolvedError, WaitNotFoundError } from "../engine/errors.js";
import { notStorable } from "../engine/waits.js";
import { RunLockedError } from "../persistence/errors.js";
import { RunNotFoundError } from "./errors.js";
import { isInputValidator, validateInput, type InputValidator } from "../graph/input-validator.js";
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import type { Lease, RunStore } from "../persistence/run-store.js";
import { deserialize, serialize } from "../persistence/serialization.js";
import { deliverToInbox, openWaitKeys, type RunState } from "../state/run-state.js";
import { acquiringRun, activeRun, storeLocation } from "./active-runs.js";
import { defaultStore } from "./default-store.js";
import { acquireDeliveryLease, isDeliveryLease } from "./delivery-lease.js";
import { deliverInAnotherThread } from "./live-runs-channel.js";
import { assertRunId, assertRunMark } from "../core/run-id.js";
import { assertStore, validateRunOptions } from "./run-options.js";
import { systemClock, type Clock } from "../core/clock.js";
import { asTaskloomError } from "./run-lease.js";
import { CHILD_WAIT_PREFIX } from "./child-run-id.js";
import { claimsDriver } from "./run-liveness.js";
import { assertMarkedRun } from "./run-mark.js";

/** Options of {@link resolveWait}. */
export interface ResolveWaitOptions<T = unknown> {
  /** The store the run is kept in. @default the default `LowdbStore` */
  readonly store?: RunStore;
  /**
   * Checks the payload before it is written. The payload itself is delivered (not this schema's output):
   * the wait's own schema checks it again and makes the node's value when the node takes it.
   */
  readonly schema?: InputValidator<T>;
  /**
   * Stamps an event written into a stored run (its `at`), which the node
   * compares with its wait's deadline when it takes it: pass the clock the
   * run is driven with (tests pass the run's `ManualClock`). @default the system clock
   */
  readonly clock?: Clock;
  /**
   * The run mark of the run the event is meant for (`ctx.runInstance` in
   * the node that waits, or `getRun(runId).instance`). When given, the
   * event reaches only that run: if the run under `runId` is another one
   * (the one meant was deleted and a new run was started under its id),
   * `resolveWait` throws `RunNotFoundError` and writes nothing. Without it,
   * the event goes to whichever run has the id. Put it in the link or the
   * callback that will carry the event (an approval link clicked a week
   * later must not approve a new run of the same id).
   */
  readonly instance?: string;
}

/**
 * Delivers `payload` to the node of run `runId` waiting for `key`.
 * Throws `RunNotFoundError` (also when `instance` names a deleted run of
 * the id), `WaitNotFoundError` (listing the open keys),
 * `WaitAlreadyResolvedError`, `InputValidationError`, or `RunLockedError`
 * when another process is driving the run; nothing is written then.
 *
 * @example
 * ```ts
 * // in the web handler that receives the reviewer's decision:
 * await resolveWait("review-run-42", "review:42", { approved: true, note: "ship it" });
 * // later (or in a worker): the run goes on from the waiting node
 * await runAsync(pipeline, undefined, { runId: "review-run-42" });
 *
 * // an event that may come late: the node puts its run's mark in the link it sends
 * //   .node("ask", async ({ runId, runInstance, waitFor }) => { await mail(`/approve?run=${runId}&mark=${runInstance}`); return waitFor("approval"); })
 * // and the handler passes it back, so a new run of the same id never takes it
 * await resolveWait(query.run, "approval", { approved: true }, { instance: query.mark });
 * ```
 */
export async function resolveWait<T = unknown>(runId: string, key: string, payload: T, options: ResolveWaitOptions<T> = {}): Promise<void> {
  assertRunId(runId);
  assertKnownKeys("resolveWait", options, optionKeys<ResolveWaitOptions>({ store: true, schema: true, clock: true, instance: true }));
  const { instance } = options;
  if (instance !== undefined) assertRunMark(instance, "resolveWait instance");
  if (typeof key !== "string" || key.length === 0 || key.length > 200) {
    throw new InvalidOptionError("resolveWait(key)", "must be a string of 1 to 200 characters");
  }
  if (key.startsWith(CHILD_WAIT_PREFIX)) {
    throw new InvalidOptionError(
      "resolveWait(key)",
      `names the wait of a parent run on its child run "${key.slice(CHILD_WAIT_PREFIX.length)}": resolve the child's own waits (resolveWait(childRunId, key, payload)), then resume the parent`,
    );
  }
  if (options.schema !== undefined && !isInputValidator(options.schema)) {
    throw new InvalidOptionError("resolveWait schema", "must have a parse(value) method or be a Standard Schema");
  }
  if (options.store !== undefined) assertStore(options.store);
  if (options.clock !== undefined) validateRunOptions({ clock: options.clock });
  const clock = options.clock ?? systemClock;
  const store = options.store ?? defaultStore();
  const what = `the payload of wait "${key}"`;
  // A check only: the payload sent is what is delivered, and the wait's own schema makes the node's value from it
  // when taken. Delivering the schema's output would have the wait parse a parse (a schema that transforms
  // refuses its own output, or transforms it twice).
  if (options.schema) await validateInput(options.schema, payload, what);
  const unstorable = notStorable(payload, what);
  if (unstorable) throw unstorable;

  const text = serialize(payload);
  // The store's round trip: the node never shares an object with the caller.
  const copy = deserialize(text);

  for (;;) {
    const here = activeRun(store, runId);
    if (here) {
      if (await here.deliver(key, copy, instance)) return;
      // The run does not take events live (not started yet, or it just stopped): go through the store once it is saved.
      await here.stopped;
      continue;
    }
    // Check first without the lease, so an unknown run leaves nothing behind,
    // nor does a key that is not open in a run no driver claims (refused as of this read).
    const first = await store.load(runId);
    if (!first) throw new RunNotFoundError(runId);
    assertMarkedRun(runId, first.state.meta, instance);
    if (!claimsDriver(first.state.meta.status)) checkOpen(first.state, runId, key);
    let lease: Lease;
    try {
      lease = await acquireDeliveryLease(store, runId);
    } catch (error) {
      const location = storeLocation(store);
      if (!(error instanceof RunLockedError) || !heldHere(error) || isDeliveryLease(error.holder)) throw error;
      // A driver registers once it holds the lease: this thread may have just started driving it,
      // or be taking the lease now (the store holds it, the run is not registered yet): wait for that.
      if (activeRun(store, runId)) continue;
      const starting = acquiringRun(store, runId);
      if (starting) {
        await starting;
        continue;
      }
      if (typeof location !== "string") throw error;
      const answer = await deliverInAnotherThread(location, runId, key, text, instance);
      if (answer === "delivered") return;
      if (answer === "stopped") continue;
      throw error;
    }
    try {
      const stored = await store.load(runId);
      if (!stored) throw new RunNotFoundError(runId);
      // Read again under the lease: the run may have been deleted and started again since the first read.
      assertMarkedRun(runId, stored.state.meta, instance);
      checkOpen(stored.state, runId, key);
      const next = deliverToInbox(stored.state, key, { payload: copy, at: clock.now() });
      // Fenced by the lease; a disk that refuses the write is a PersistenceError, never a raw Error.
      await store.writeSnapshot(next, stored.seq, lease).catch((error: unknown) => {
        throw asTaskloomError(runId, error);
      });
      return;
    } finally {
      await store.releaseLease(lease).catch(() => undefined);
    }
  }
}

/** True when the lease that refused us is held by this very process (another thread of it, or this one). */
function heldHere(error: RunLockedError): boolean {
  return error.holder.pid === process.pid && error.holder.host === hostname();
}

/**
 * Throws unless the stored run has `key` open: some node's record says it
 * waits for it and has not taken it (an event not yet taken may be
 * replaced), whatever status the run was saved with.
 */
function checkOpen(state: RunState, runId: string, key: string): void {
  const { open, taken } = openWaitKeys(state);
  if (open.includes(key)) return;
  if (taken.includes(key)) throw new WaitAlreadyResolvedError(runId, key);
  throw new WaitNotFoundError(runId, key, open);
}
