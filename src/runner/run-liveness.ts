/**
 * Whether a stored run that says `running` (or `pending`) still has a
 * driver. The stored status is what the driver last wrote; a driver that
 * was SIGKILLed, lost its machine or hangs writes nothing more, so its run
 * would say `running` for ever. The lease tells the truth:
 *
 * - `live`: the lease is held and not expired (its holder renews it);
 * - `crashed`: the holder is provably a dead process of this host (same
 *   rules as a takeover: `lease-rules.ts`);
 * - `stalled`: nobody holds a live lease, and no process can be proved
 *   dead: the lease expired without being renewed (a holder on another
 *   host or container, or one that hangs), or no lease is left (a run
 *   whose lease was given back, or a `RedisStore` lease an earlier
 *   version wrote with a Redis expiry).
 *
 * A crashed or stalled run is resumed with `resume` / `taskloom resume`
 * (its lease is taken over). Only runs whose stored status is `running` or
 * `pending` have a liveness; a run that stopped has none.
 *
 * @module
 */
import { hostname } from "node:os";
import { holderDeadHere } from "../persistence/lease-rules.js";
import type { Lease, RunStore } from "../persistence/run-store.js";
import type { LeaseHolder } from "../state/lease-holder.js";
import type { RunStatus } from "../state/status.js";

/** Every liveness, in one list. */
export const RUN_LIVENESS = ["live", "crashed", "stalled"] as const;

/** Whether a running run's driver is alive: see the module notes. */
export type RunLiveness = (typeof RUN_LIVENESS)[number];

/** A run's liveness and the lease it was read from. */
export interface LivenessReport {
  /** The derived state. */
  readonly liveness: RunLiveness;
  /** Who holds (or held) the run's lease; absent when there is no lease. */
  readonly holder?: LeaseHolder;
}

/** True for the stored statuses that claim a driver is at work. */
export function claimsDriver(status: RunStatus): boolean {
  return status === "running" || status === "pending";
}

/**
 * The liveness of a run whose stored status claims a driver, from its
 * lease (undefined when there is none) at time `now`.
 *
 * @example
 * ```ts
 * livenessOf("running", await store.readLease?.(runId), Date.now()); // "crashed" once its holder was SIGKILLed
 * ```
 */
export function livenessOf(status: RunStatus, lease: Pick<Lease, "host" | "pid" | "identity" | "expiresAt"> | undefined, now: number): RunLiveness | undefined {
  if (!claimsDriver(status)) return undefined;
  if (lease === undefined) return "stalled";
  if (holderDeadHere(lease, hostname())) return "crashed";
  return lease.expiresAt <= now ? "stalled" : "live";
}

/**
 * Reads the lease of a run with status `status` from `store` and derives
 * its liveness; undefined when the status claims no driver or the store
 * cannot report leases (`readLease` is optional).
 *
 * @example
 * ```ts
 * const report = await readLiveness(store, "etl-1", "running", Date.now());
 * if (report?.liveness === "crashed") console.log(`pid ${report.holder?.pid} is gone: resume it`);
 * ```
 */
export async function readLiveness(store: RunStore, runId: string, status: RunStatus, now: number): Promise<LivenessReport | undefined> {
  if (!claimsDriver(status) || typeof store.readLease !== "function") return undefined;
  const lease = await store.readLease(runId);
  const liveness = livenessOf(status, lease, now);
  if (liveness === undefined) return undefined;
  const holder = lease && { owner: lease.owner, pid: lease.pid, host: lease.host, expiresAt: lease.expiresAt };
  return { liveness, ...(holder !== undefined && { holder }) };
}
