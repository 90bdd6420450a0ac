/**
 * The short lease `resolveWait` takes to write an event into a stored run,
 * and how it tells a resolver from a driver. A resolver holds the run's
 * lease only for one load and one snapshot write; its lease owner starts
 * with {@link DELIVERY_OWNER_PREFIX}. Another resolver that finds such a
 * lease is contending for a short write lock, not meeting a driver: it
 * waits and tries again (bounded, with a small backoff that counts tries
 * and never reads the clock). `RunLockedError` reaches the caller only
 * when a driver holds the run, or when resolvers kept the run busy for
 * every one of {@link MAX_TRIES} tries.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { RunLockedError } from "../persistence/errors.js";
import type { LeaseHolder } from "../state/lease-holder.js";
import type { Lease, LeaseRequest, RunStore } from "../persistence/run-store.js";
import { leaseRequest, takeLease } from "./run-lease.js";

/** Lease owners of `resolveWait` start with this. */
export const DELIVERY_OWNER_PREFIX = "deliver:";
/** How many times a resolver tries before it gives up on other resolvers. */
export const MAX_TRIES = 200;
/** How long a resolver's lease lasts if its process dies holding it. */
const DELIVERY_TTL_MS = 10_000;

/** True when `holder` is a resolver's short lease, not a driver's. */
export function isDeliveryLease(holder: LeaseHolder): boolean {
  return typeof holder.owner === "string" && holder.owner.startsWith(DELIVERY_OWNER_PREFIX);
}

/** The pause before try `n + 1` (ms): 1, 2, 4 … 32, then 32, with jitter so that waiters spread out. */
function backoff(n: number): number {
  const base = Math.min(32, 2 ** Math.min(n, 5));
  return base / 2 + Math.random() * base;
}

/**
 * Takes run `runId`'s lease for one delivery. Waits for other resolvers;
 * throws `RunLockedError` when a driver holds the run.
 */
export function acquireDeliveryLease(store: RunStore, runId: string): Promise<Lease> {
  const request = { ...leaseRequest({ ttlMs: DELIVERY_TTL_MS, now: Date.now() }), owner: `${DELIVERY_OWNER_PREFIX}${randomUUID()}` };
  return acquireAfterDeliveries(store, runId, () => ({ ...request, now: Date.now() }));
}

/**
 * `store.acquireLease`, waiting (as above) while a resolver holds the
 * lease for its one write: a driver that starts while a webhook writes an
 * event is not refused either. `request` is made again on every try (its
 * `now` must be current). A store failure is a `PersistenceError`
 * (`takeLease`).
 */
export async function acquireAfterDeliveries(store: RunStore, runId: string, request: () => LeaseRequest): Promise<Lease> {
  for (let tries = 1; ; tries++) {
    try {
      return await takeLease(store, runId, request());
    } catch (error) {
      if (!(error instanceof RunLockedError) || !isDeliveryLease(error.holder) || tries >= MAX_TRIES) throw error;
      await sleep(backoff(tries));
    }
  }
}
