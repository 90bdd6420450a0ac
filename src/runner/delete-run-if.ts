/**
 * `deleteRunIf`: deleting a stored run only if it still qualifies when read
 * under its lease (`taskloom gc`'s delete).
 *
 * A caller that lists runs, then deletes those that qualify, must not
 * delete a run that changed in between: a resume
 * (`runAsync(graph, inputs, { runId })` in another process) that starts
 * and ends between the listing and the delete leaves no lease behind, so
 * `deleteRun` alone would delete its fresh result. `deleteRunIf` decides
 * under the run's lease instead: it takes the lease, reads the run, asks
 * the caller whether it still qualifies, and deletes it with that lease
 * (`RunStore.delete`'s `lease`: refused unless it is still the run's), so
 * no driver can come between the read and the delete. Its lease is a
 * resolver's short lease (`delivery-lease.ts`): a driver that starts
 * meanwhile waits for it instead of failing with `RunLockedError`.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { optionKeys } from "../core/known-keys.js";
import { assertRunId } from "../core/run-id.js";
import { valueText } from "../core/text.js";
import { InvalidOptionError } from "../errors.js";
import { RunLockedError } from "../persistence/errors.js";
import type { Lease, RunStore } from "../persistence/run-store.js";
import type { RunMeta } from "../state/records.js";
import { acquireAfterDeliveries, DELIVERY_OWNER_PREFIX } from "./delivery-lease.js";
import { storeOf, type StoreOption } from "./manage-runs.js";
import { leaseRequest } from "./run-lease.js";

/** Options of {@link deleteRunIf}. */
export interface DeleteRunIfOptions extends StoreOption {
  /**
   * Who deletes, named in the owner of the lease taken meanwhile
   * (`deliver:<by>:<uuid>`), which `RunLockedError` shows another process.
   * @default "deleteRunIf"
   */
  readonly by?: string;
  /** The time now (epoch ms, a finite number), for the lease. @default Date.now */
  readonly now?: () => number;
}

/**
 * What {@link deleteRunIf} did: `deleted`; `kept`, the run no longer
 * qualified when read under its lease; `gone`, there was no such run; or
 * `unsupported`, kept because the store's `delete` refused the lease
 * `deleteRunIf` held (a store written before `RunStore.delete` took one).
 */
export interface DeleteRunIfResult {
  readonly outcome: "deleted" | "kept" | "gone" | "unsupported";
  /** The run as it was read under its lease (absent when `gone`). */
  readonly meta?: RunMeta;
}

/** How long the lease of {@link deleteRunIf} lasts (ms): one load and one delete; if its process dies, the run is free after this. */
export const DELETE_IF_LEASE_TTL_MS = 10_000;

const DELETE_IF_OPTION_KEYS = optionKeys<DeleteRunIfOptions>({ store: true, by: true, now: true });

/**
 * Deletes run `runId` if it still qualifies when read under its lease:
 * takes the run's lease (waiting for a resolver's, as a driver does;
 * `RunLockedError` when a driver holds it), loads the run, calls
 * `qualifies` with its meta, and deletes it with that lease
 * (`RunStore.delete`), so that what is deleted is what `qualifies` saw.
 * Otherwise the lease is given back and the run kept. See the module
 * comment. `qualifies` decides synchronously:
 * anything but true or false (an async function's promise) is an
 * `InvalidOptionError`, and the run is kept.
 *
 * A store that ignores `delete`'s lease (written before it) refuses the
 * live lease held here as any live driver's: the run is kept and the
 * result says `unsupported`. A lease held for half its time (a long load)
 * is renewed before the delete, so that whatever the store does with the
 * lease, no other driver holds the run when the delete comes: a store
 * that ignores the lease never deletes a run someone else changed.
 *
 * @example
 * ```ts
 * const cutoff = Date.now() - 30 * 86_400_000;
 * const { outcome } = await deleteRunIf("etl-2026-10-01", (meta) => meta.updatedAt < cutoff, { store, by: "gc" });
 * ```
 */
export async function deleteRunIf(runId: string, qualifies: (meta: RunMeta) => boolean, options: DeleteRunIfOptions = {}): Promise<DeleteRunIfResult> {
  assertRunId(runId);
  const store = storeOf("deleteRunIf", options, DELETE_IF_OPTION_KEYS);
  if (typeof qualifies !== "function") throw new InvalidOptionError("qualifies", "of deleteRunIf must be a function");
  const by = options.by ?? "deleteRunIf";
  if (typeof by !== "string" || by.length === 0) throw new InvalidOptionError("by", "of deleteRunIf must be a non-empty string");
  if (options.now !== undefined && typeof options.now !== "function") throw new InvalidOptionError("now", "of deleteRunIf must be a function");
  const clock = options.now ?? Date.now;
  // Checked at each call: a NaN time made a lease no store honours (a LowdbStore refused the delete as "unsupported").
  const now = (): number => {
    const t: unknown = clock();
    if (typeof t !== "number" || !Number.isFinite(t))
      throw new InvalidOptionError("now", `of deleteRunIf must return the time in epoch ms (got ${valueText(t)})`);
    return t;
  };
  const request = { ...leaseRequest({ ttlMs: DELETE_IF_LEASE_TTL_MS, now: now() }), owner: `${DELIVERY_OWNER_PREFIX}${by}:${randomUUID()}` };
  const lease = await acquireAfterDeliveries(store, runId, () => ({ ...request, now: now() }));
  let decided: { result: DeleteRunIfResult; giveBack: boolean };
  try {
    decided = await deleteUnder(store, lease, qualifies, now);
  } catch (error) {
    // A renewal keeps owner and token: the lease as taken is the one to give back.
    await store.releaseLease(lease).catch(() => undefined);
    throw error;
  }
  if (decided.giveBack) await store.releaseLease(lease);
  return decided.result;
}

/**
 * {@link deleteRunIf}'s decision, made under `lease`: what it did, and
 * whether the lease is still to be given back (not when it went with the
 * run).
 */
async function deleteUnder(
  store: RunStore,
  lease: Lease,
  qualifies: (meta: RunMeta) => boolean,
  now: () => number,
): Promise<{ result: DeleteRunIfResult; giveBack: boolean }> {
  const { runId } = lease;
  const meta = (await store.load(runId))?.state.meta;
  if (meta !== undefined && !verdict(qualifies(meta))) return { result: { outcome: "kept", meta }, giveBack: true };
  let held = lease;
  // Held for half its time or more (a long load): renewed, or refused when another driver took the run, so that no
  // taker can have it when the delete comes, whatever the store does with the lease.
  if (now() >= held.expiresAt - DELETE_IF_LEASE_TTL_MS / 2) held = await store.renewLease(held, DELETE_IF_LEASE_TTL_MS, now());
  try {
    // Without a run (deleted meanwhile), what taking its lease made (the lease, an empty run file) goes with it.
    await store.delete(runId, held);
  } catch (error) {
    if (!(error instanceof RunLockedError)) throw error;
    if (meta === undefined) return { result: { outcome: "gone" }, giveBack: true };
    // Refused. When the lease is still held (its renewal goes through), the store refused this very lease: it ignores
    // delete's lease. When it was lost, the renewal throws RunLockedError naming the driver that took the run.
    await store.renewLease(held, DELETE_IF_LEASE_TTL_MS, now());
    return { result: { outcome: "unsupported", meta }, giveBack: true };
  }
  return { result: meta === undefined ? { outcome: "gone" } : { outcome: "deleted", meta }, giveBack: false };
}

/**
 * What `qualifies` said, which must be true or false: an async predicate's
 * promise is truthy, so every run it was asked about was deleted, those it
 * would have kept too.
 */
function verdict(said: unknown): boolean {
  if (typeof said === "boolean") return said;
  const what = said instanceof Promise ? "a promise (is it an async function? decide synchronously)" : valueText(said);
  throw new InvalidOptionError("qualifies", `of deleteRunIf must return true or false (it returned ${what})`);
}
