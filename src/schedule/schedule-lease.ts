/**
 * Which scheduler fires a schedule's slots: the holder of the schedule's
 * lease, kept in the schedule's own document and changed only through the
 * store's atomic `update`. The rules are the run leases' own
 * (`lease-rules.ts`): a lease can be taken over when it expired, or when
 * its holder is a dead process on this host, so a scheduler killed with
 * SIGKILL is replaced at once by the next one that looks.
 *
 * @module
 */
import { hostname } from "node:os";
import { canTakeOver, grantLease } from "../persistence/lease-rules.js";
import type { LeaseRequest } from "../persistence/run-store.js";
import type { ScheduleRecord } from "./schedule-record.js";

const thisHost = hostname();

/** The record with its lease granted to `request`, or `record` itself when another live scheduler holds it. */
export function withLease(record: ScheduleRecord, request: LeaseRequest): ScheduleRecord {
  const current = record.lease;
  if (current && !canTakeOver(current, request, thisHost)) return record;
  return { ...record, lease: grantLease(record.id, request, current) };
}

/** True when `owner` holds the record's lease (unexpired at `now`). */
export function holdsLease(record: ScheduleRecord, owner: string, now: number): boolean {
  return record.lease !== undefined && record.lease.owner === owner && record.lease.expiresAt > now;
}

/** The record without `owner`'s lease (itself when `owner` does not hold it). */
export function withoutLease(record: ScheduleRecord, owner: string): ScheduleRecord {
  if (record.lease?.owner !== owner) return record;
  const { lease: _dropped, ...rest } = record;
  return rest;
}

/** This host's name, as leases record it. */
export function leaseHost(): string {
  return thisHost;
}
