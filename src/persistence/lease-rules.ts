/**
 * Rules every store applies to leases, kept in one place so that stores
 * only do the storing: whether a held lease can be taken over, and what a
 * new lease looks like.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import type { Lease, LeaseRequest } from "./run-store.js";

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
 * True when `current` may be replaced by `request`: it is the same owner,
 * it expired, or its holder is a dead process on this host (so a crashed
 * run can be resumed at once, without waiting for the TTL), or the request
 * says `takeover` (its caller knows the holder is dead).
 */
export function canTakeOver(current: Lease, request: LeaseRequest, thisHost: string): boolean {
  if (current.owner === request.owner) return true;
  if (request.takeover === true) return true;
  if (current.expiresAt <= request.now) return true;
  if (current.host === thisHost && current.pid !== process.pid && !processAlive(current.pid)) return true;
  return false;
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
  };
}
