/**
 * A lease request from this process, as the lease tests make them:
 * `leaseRequest("o1", { ttlMs: 100 })`.
 */
import { hostname } from "node:os";
import { processIdentity } from "../../src/persistence/lease-rules.js";
import type { LeaseRequest } from "../../src/persistence/run-store.js";

/** A request by `owner` from this process (pid, host, identity), for a minute from now, with `fields` over it. */
export const leaseRequest = (owner: string, fields: Partial<LeaseRequest> = {}): LeaseRequest => ({
  owner,
  pid: process.pid,
  host: hostname(),
  ttlMs: 60_000,
  now: Date.now(),
  identity: processIdentity(),
  ...fields,
});
