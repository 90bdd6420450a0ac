/**
 * A run's lease as drivers and resolvers take it: the request (with this
 * process's identity, so that a holder is replaced before its lease
 * expires only when it is provably dead, `lease-rules.ts`), and the
 * failures of a store's lease calls turned into taskloom errors.
 *
 * Invariants. What a lease call throws reaches the caller as a
 * `TaskloomError`: a store that cannot be written (disk full, read-only
 * file system, a store path that is not a folder, a lock folder that
 * stays held) is a `PersistenceError` with the store's error as its
 * cause; a held lease stays `RunLockedError`; a renewal refused because
 * another driver took the run over is a `LeaseLostError`, the error a
 * fenced write gives too.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { thisHost } from "../core/host.js";
import { TaskloomError } from "../errors.js";
import { LeaseLostError, PersistenceError } from "../engine/errors.js";
import { RunLockedError, StoreFolderError } from "../persistence/errors.js";
import { processIdentity } from "../persistence/lease-rules.js";
import type { Lease, LeaseRequest, RunStore } from "../persistence/run-store.js";

/** A lease request for this process, with a fresh owner id. */
export function leaseRequest(options: { readonly ttlMs: number; readonly now: number; readonly takeover?: boolean }): LeaseRequest {
  return {
    owner: randomUUID(),
    pid: process.pid,
    host: thisHost(),
    ttlMs: options.ttlMs,
    now: options.now,
    identity: processIdentity(),
    ...(options.takeover === true && { takeover: true }),
  };
}

/** Takes the run's lease; a store failure is a `PersistenceError` (see the module's invariants). */
export async function takeLease(store: RunStore, runId: string, request: LeaseRequest): Promise<Lease> {
  try {
    return await store.acquireLease(runId, request);
  } catch (error) {
    throw asTaskloomError(runId, error);
  }
}

/**
 * `error` itself when it is a `TaskloomError`, else a `PersistenceError`
 * with it as the cause. A `StoreFolderError` (the store's folder cannot be
 * used) is a store failure too: a `PersistenceError` with it as the cause,
 * as a run's failed save has always been, its cause naming the folder.
 */
export function asTaskloomError(runId: string, error: unknown): TaskloomError {
  return error instanceof TaskloomError && !(error instanceof StoreFolderError) ? error : new PersistenceError(runId, error);
}

/**
 * What a failed renewal of `lease` means for its driver: another driver
 * holds the run now (`LeaseLostError`, as a fenced write says), or the
 * store failed (`PersistenceError`).
 */
export function renewalFailure(lease: Lease, error: unknown): TaskloomError {
  if (error instanceof RunLockedError) {
    const current = (error.holder as Partial<Lease>).token;
    const lost = new LeaseLostError(lease.runId, lease.token, current ?? 0);
    return Object.assign(lost, { cause: error });
  }
  return asTaskloomError(lease.runId, error);
}
