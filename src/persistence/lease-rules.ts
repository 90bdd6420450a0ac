/**
 * Rules every store applies to leases, kept in one place so that stores
 * only do the storing: whether a held lease can be taken over, what a new
 * lease looks like, whether a writer's lease is still the current one
 * (fencing), and whether a run may be deleted.
 *
 * Lease identity rules (docs/durability.md, "Leases"). A lease that has
 * not expired is taken over before its expiry only when its holder is
 * provably a dead process: same host name, same boot (`bootId`), same PID
 * namespace (`pidNs`), and its pid is gone or now belongs to a process
 * with another start time (the pid was reused). Anything less certain
 * (another namespace, a field missing, a `/proc` that is not this
 * namespace's) waits for the lease to expire: two containers with one
 * host name must never both run a node. Platforms without PID namespaces
 * (not Linux) keep the plain host-and-pid rule.
 *
 * @module
 */
import { readFileSync, readlinkSync } from "node:fs";
import { LeaseLostError } from "../engine/errors.js";
import { RunLockedError } from "./errors.js";
import type { CancelRequest, Lease, LeaseRequest, ProcessIdentity } from "./run-store.js";

let ownIdentity: ProcessIdentity | undefined;

/**
 * This process's identity (boot id, PID namespace, start time), read from
 * `/proc` once. A field that cannot be read is left out; so is the
 * namespace when `/proc` is not this namespace's own (a container without
 * its own `/proc` mount), since pids could not be checked there.
 */
export function processIdentity(): ProcessIdentity {
  if (ownIdentity) return ownIdentity;
  const bootId = attempt(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
  const ownProc = attempt(() => readlinkSync("/proc/self")) === String(process.pid);
  const pidNs = ownProc ? attempt(() => readlinkSync("/proc/self/ns/pid")) : undefined;
  const startTime = startTimeOf("self");
  ownIdentity = {
    ...(bootId && { bootId }),
    ...(pidNs && { pidNs }),
    ...(startTime !== undefined && { startTime }),
  };
  return ownIdentity;
}

/** Field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot), or undefined. */
export function startTimeOf(pid: number | "self"): string | undefined {
  return attempt(() => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The fields after the command name (in parentheses, which may hold spaces) start at field 3.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  });
}

function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/**
 * True when the process `pid` is alive on this host. Signal 0 probes
 * without signalling; on Linux a zombie (killed, not yet reaped by its
 * parent) also answers it, so `/proc/<pid>/stat` is read to tell: a
 * crashed driver must not hold its run until its parent gets round to it.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The state follows the command name, which is in parentheses and may contain spaces.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return true; // no /proc (not Linux): trust the signal probe
  }
}

/**
 * True when the lease's holder is provably a dead process of this host,
 * boot and PID namespace (see the module's identity rules), so its lease
 * may be taken over before it expires.
 */
export function holderDeadHere(holder: Pick<Lease, "host" | "pid" | "identity">, thisHost: string): boolean {
  if (holder.host !== thisHost) return false;
  const mine = processIdentity();
  const theirs = holder.identity;
  if (process.platform !== "linux" && mine.pidNs === undefined && theirs?.pidNs === undefined) {
    return holder.pid !== process.pid && !processAlive(holder.pid);
  }
  if (mine.bootId === undefined || mine.pidNs === undefined || theirs?.bootId === undefined || theirs.pidNs === undefined) {
    return false; // in doubt: wait for the lease to expire
  }
  if (theirs.bootId !== mine.bootId || theirs.pidNs !== mine.pidNs) return false;
  if (!processAlive(holder.pid)) return true;
  // Alive: a process with that pid runs, but it is the holder only if it started when the holder did.
  const now = holder.pid === process.pid ? mine.startTime : startTimeOf(holder.pid);
  return theirs.startTime !== undefined && now !== undefined && now !== theirs.startTime;
}

/**
 * True when `current` may be replaced by `request`: it is the same owner,
 * it expired, or its holder is provably a dead process on this host (so a
 * crashed run can be resumed at once, without waiting for the TTL), or the
 * request says `takeover` (its caller knows the holder is dead).
 */
export function canTakeOver(current: Lease, request: LeaseRequest, thisHost: string): boolean {
  if (current.owner === request.owner) return true;
  if (request.takeover === true) return true;
  return leaseVacant(current, request.now, thisHost);
}

/**
 * True when nobody holds `current` any more: it expired by `now`, or its
 * holder is provably a dead process on this host (`holderDeadHere`).
 * Anyone may then take the run over (`canTakeOver`), or delete it without
 * a lease of their own (`assertMayDelete`).
 */
export function leaseVacant(current: Lease, now: number, thisHost: string): boolean {
  return current.expiresAt <= now || holderDeadHere(current, thisHost);
}

/** The lease granted for `request`, replacing `current` (if any). */
export function grantLease(runId: string, request: LeaseRequest, current: Lease | undefined): Lease {
  const sameOwner = current !== undefined && current.owner === request.owner;
  return {
    runId,
    owner: request.owner,
    pid: request.pid,
    host: request.host,
    expiresAt: request.now + request.ttlMs,
    token: current === undefined ? 1 : sameOwner ? current.token : current.token + 1,
    ...(request.identity !== undefined && { identity: request.identity }),
  };
}

/**
 * Whether the cancel `request` is addressed to `current`, the run's lease:
 * its token, and its owner when the request names one (`CancelRequest.owner`).
 *
 * @example
 * ```ts
 * if (!current || !cancelReaches(current, request)) return false;
 * ```
 */
export function cancelReaches(current: Pick<Lease, "owner" | "token">, request: CancelRequest): boolean {
  return current.token === request.token && (request.owner === undefined || request.owner === current.owner);
}

/** What a lease keeps of a cancel request (`Lease.cancelRequested`): its token, reason and time, not the owner it was checked against. */
export function keptCancel(request: CancelRequest): CancelRequest {
  return { token: request.token, reason: request.reason, at: request.at };
}

/**
 * The lease granted for `request` over `current` (undefined: nobody holds
 * the run), with a token above every one the run has seen (`top`: a lease
 * given back keeps its token, so the next holder's is above it). The
 * holder itself, taking its lease again, keeps its token, and with it a
 * cancel request made for that token: `requestCancel` said yes to it, so
 * it must still reach the holder's next renewal.
 *
 * @example
 * ```ts
 * grantOver("r1", request, undefined, 3).token; // 4: the lease given back had token 3
 * ```
 */
export function grantOver(runId: string, request: LeaseRequest, current: Lease | undefined, top: number): Lease {
  const granted = grantLease(runId, request, current);
  if (current === undefined || current.owner !== request.owner) return { ...granted, token: top + 1 };
  const cancel = current.cancelRequested;
  return cancel !== undefined && cancel.token === granted.token ? { ...granted, cancelRequested: cancel } : granted;
}

/**
 * True when `lease` is still the run's `current` lease (same owner and
 * token), so its holder may write: the fencing check of every store.
 * Expiry does not matter here: a lease nobody took over is still its holder's.
 */
export function stillHeld(current: Pick<Lease, "owner" | "token"> | undefined, lease: Lease): boolean {
  return current !== undefined && current.owner === lease.owner && current.token === lease.token;
}

/**
 * Throws `RunLockedError` unless `RunStore.delete` may remove the run whose
 * lease is `current` (undefined: the run has no lease, or no longer
 * exists). With `lease`, its holder deletes: only while `lease` is still
 * `current` (`stillHeld`; expired or not, as for fenced writes), else the
 * error names `current`, or the caller's own lease when the run has none.
 * Without `lease`, only when nobody holds the run (`leaseVacant`), else
 * the error names the holder. Each store calls it under its own lock; the
 * Redis store makes the same decision in its `DELETE` script.
 *
 * @example
 * ```ts
 * assertMayDelete(runId, this.#leases.get(runId), lease, this.#host, Date.now());
 * ```
 */
export function assertMayDelete(runId: string, current: Lease | undefined, lease: Lease | undefined, thisHost: string, now: number): void {
  if (lease !== undefined) {
    if (!stillHeld(current, lease)) throw new RunLockedError(runId, current ?? { ...lease, expiresAt: now });
  } else if (current !== undefined && !leaseVacant(current, now, thisHost)) {
    throw new RunLockedError(runId, current);
  }
}

/** The error for a write fenced off because `lease` is no longer `current`. */
export function leaseLost(lease: Lease, current: Pick<Lease, "token"> | undefined): LeaseLostError {
  return new LeaseLostError(lease.runId, lease.token, current?.token ?? 0);
}
