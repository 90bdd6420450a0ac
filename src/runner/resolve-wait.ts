/**
 * `resolveWait`: delivers an external event (a review, an approval, a
 * webhook) to a run that waits for it.
 *
 * - If this process is driving the run, the event goes straight to the
 *   waiting node, which goes on at once; the payload is checked with the
 *   wait's own schema.
 * - Otherwise the event is written into the stored run's inbox, under the
 *   run's lease (so it never races a driver), and the next
 *   `runAsync(graph, inputs, { runId })` hands it to the node. Pass
 *   `schema` to check the payload now; the wait's own schema checks it
 *   again when the node takes it.
 *
 * Nothing is written when the run or the key is unknown, when the payload
 * fails validation, or when the wait was already resolved and taken.
 *
 * @module
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import {
  InputValidationError,
  InvalidOptionError,
  RunNotFoundError,
  WaitAlreadyResolvedError,
  WaitNotFoundError,
} from "../errors.js";
import { isInputValidator, validateInput, type InputValidator } from "../graph/input-validator.js";
import type { RunStore } from "../persistence/run-store.js";
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { isDurable } from "../persistence/serialization.js";
import { nodeRecords } from "../state/node-table.js";
import { deliverToInbox, type RunState } from "../state/run-state.js";
import { activeRun } from "./active-runs.js";
import { defaultStore } from "./default-store.js";
import { assertRunId } from "./run-id.js";
import { assertStore } from "./run-options.js";

/** Options of {@link resolveWait}. */
export interface ResolveWaitOptions<T = unknown> {
  /** The store the run is kept in. @default the default `LowdbStore` */
  readonly store?: RunStore;
  /** Validates the payload before it is written (the wait's own schema checks it again when taken). */
  readonly schema?: InputValidator<T>;
}

/**
 * Delivers `payload` to the node of run `runId` waiting for `key`.
 * Throws `RunNotFoundError`, `WaitNotFoundError` (listing the open keys),
 * `WaitAlreadyResolvedError`, `InputValidationError`, or `RunLockedError`
 * when another process is driving the run; nothing is written then.
 *
 * @example
 * ```ts
 * // in the web handler that receives the reviewer's decision:
 * await resolveWait("review-run-42", "review:42", { approved: true, note: "ship it" });
 * // later (or in a worker): the run goes on from the waiting node
 * await runAsync(pipeline, undefined, { runId: "review-run-42" });
 * ```
 */
export async function resolveWait<T = unknown>(
  runId: string,
  key: string,
  payload: T,
  options: ResolveWaitOptions<T> = {},
): Promise<void> {
  assertRunId(runId);
  assertKnownKeys("resolveWait", options, optionKeys<ResolveWaitOptions>({ store: true, schema: true }));
  if (typeof key !== "string" || key.length === 0 || key.length > 200) {
    throw new InvalidOptionError("resolveWait(key)", "must be a string of 1 to 200 characters");
  }
  if (options.schema !== undefined && !isInputValidator(options.schema)) {
    throw new InvalidOptionError("resolveWait schema", "must have a parse(value) method or be a Standard Schema");
  }
  if (options.store !== undefined) assertStore(options.store);
  const store = options.store ?? defaultStore();
  const what = `the payload of wait "${key}"`;
  const value = options.schema ? await validateInput(options.schema, payload, what) : payload;
  if (!isDurable(value)) {
    throw new InputValidationError(what, [{ path: [], message: "it cannot be stored (a function, a class instance or a cycle)" }]);
  }

  const here = activeRun(store, runId);
  if (here) {
    if (await here.deliver(key, value)) return;
    // The run stopped driving (it just went to waiting): deliver through the store once it is saved.
    await here.stopped;
  }

  // Check first without the lease, so an unknown run leaves nothing behind.
  if (!(await store.load(runId))) throw new RunNotFoundError(runId);
  const lease = await store.acquireLease(runId, {
    owner: randomUUID(),
    pid: process.pid,
    host: hostname(),
    ttlMs: 30_000,
    now: Date.now(),
  });
  try {
    const stored = await store.load(runId);
    if (!stored) throw new RunNotFoundError(runId);
    checkOpen(stored.state, runId, key);
    await store.writeSnapshot(deliverToInbox(stored.state, key, { payload: value, at: Date.now() }), stored.seq);
  } finally {
    await store.releaseLease(lease).catch(() => undefined);
  }
}

/** Throws unless the stored run waits for `key` (an event not yet taken may be replaced). */
function checkOpen(state: RunState, runId: string, key: string): void {
  for (const n of nodeRecords(state.nodes)) {
    if (n.waits?.[key]?.resolved) throw new WaitAlreadyResolvedError(runId, key);
  }
  const open = state.meta.waits.map((w) => w.key);
  if (!open.includes(key)) throw new WaitNotFoundError(runId, key, open);
}
