/**
 * The Lua scripts of {@link RedisStore}: every write and lease change of a
 * run is one script, so Redis runs it atomically (see `redis-store.ts` for
 * the keys and the fencing and takeover rules they implement).
 *
 * Invariants: a fenced write (snapshot, append) first compares the
 * writer's lease (owner and token) with the run's lease key and changes
 * nothing unless it is still that lease (expired or not: a lease nobody
 * took over is still its holder's); the token is INCRemented only when the
 * lease changes hands, never reset (it outlives the lease and the run), so
 * a lease given back keeps its token and the next one is above it; a lease
 * stays in its key until it is given back, taken over or deleted with its
 * run (no Redis-side expiry), and counts as expired by the requester's
 * clock or by Redis's (`redisOffsetMs`); a run is deleted only when no
 * live holder has its lease.
 *
 * A lease key written by an earlier version (JSON without `redisOffsetMs`,
 * with a PX expiry) reads as a lease too: its expiry is its `expiresAt`
 * until Redis drops it. An earlier version's renewal of a lease written
 * here keeps `redisOffsetMs`, which stays right: it is the holder's clock
 * offset, not a deadline.
 *
 * @module
 */
import type { Lease } from "../../persistence/run-store.js";

/** What a lease key holds beyond the {@link Lease}: Redis's clock minus the holder's `now`, at its last grant or renewal (ms). */
interface StoredLease extends Lease {
  readonly redisOffsetMs?: number;
}

// The lease a lease key holds, decoded; a value without a lease's fields raises an error instead of reading as nil
// (which a comparison would raise anyway, or pass over as "another owner"): RedisStore then reports the key as corrupt.
// The fields checked are those of checkLease (persistence/snapshot-schema.ts), which names the one that is wrong.
const DECODE = `
local function isCount(v)
  return type(v) == 'number' and v >= 0 and v <= 9007199254740991 and math.floor(v) == v
end
local function decodeLease(raw)
  local cur = cjson.decode(raw)
  if type(cur) ~= 'table' or type(cur.runId) ~= 'string' or type(cur.owner) ~= 'string' or not isCount(cur.pid)
    or type(cur.host) ~= 'string' or type(cur.expiresAt) ~= 'number' or cur.expiresAt ~= cur.expiresAt
    or not isCount(cur.token) then
    error('taskloom: the lease key holds no lease')
  end
  return cur
end
`;

// Redis's clock (epoch ms), and whether the decoded lease `cur` expired at the requester's `now` or by that clock.
const CLOCK = `${DECODE}
local function redisNow()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function expired(cur, now, clock)
  if cur.expiresAt <= now then return true end
  return type(cur.redisOffsetMs) == 'number' and cur.expiresAt + cur.redisOffsetMs <= clock
end
`;

// Fenced writes. KEYS[1] is the run's lease; ARGV[1] the writer's token (0: not fenced), ARGV[2] its owner.
// Replies: {0} ok, {1, current token or 0} not the run's lease, {2} no snapshot.
const FENCE = `${DECODE}
local held = tonumber(ARGV[1])
if held > 0 then
  local raw = redis.call('GET', KEYS[1])
  if not raw then return {1, 0} end
  local cur = decodeLease(raw)
  if cur.owner ~= ARGV[2] or cur.token ~= held then return {1, cur.token} end
end
`;

// KEYS: lease, snap, journal, runs. ARGV: held, owner, document, seq, runId, summary.
export const WRITE_SNAPSHOT = `${FENCE}
redis.call('SET', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[5], ARGV[6])
local seq = tonumber(ARGV[4])
while true do
  local head = redis.call('LINDEX', KEYS[3], 0)
  if not head then break end
  local s = tonumber(string.match(head, '^(%d+)|'))
  if s == nil or s > seq then break end
  redis.call('LPOP', KEYS[3])
end
return {0}
`;

// KEYS: lease, snap, journal, runs. ARGV: held, owner, runId, summary ('' for none), records...
export const APPEND = `${FENCE}
if redis.call('EXISTS', KEYS[2]) == 0 then return {2} end
for i = 5, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], ARGV[3], ARGV[4]) end
return {0}
`;

// KEYS: lease, token. ARGV: owner, pid, host, ttlMs, now, runId, force ('1' or ''), deadOwner, deadToken, identity (JSON or '').
// Replies: {0, leaseJson} granted, {1, holderJson} held by another.
export const ACQUIRE = `${CLOCK}
local raw = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[5])
local clock = redisNow()
local token
local cancel = nil
if raw then
  local cur = decodeLease(raw)
  if cur.owner == ARGV[1] then
    token = cur.token
    -- The holder taking its lease again keeps a cancel request made for its token (requestCancel said yes to it).
    if type(cur.cancelRequested) == 'table' and cur.cancelRequested.token == token then cancel = cur.cancelRequested end
  elseif ARGV[7] == '1' or expired(cur, now, clock) or (cur.owner == ARGV[8] and tostring(cur.token) == ARGV[9]) then
    token = redis.call('INCR', KEYS[2])
  else
    return {1, raw}
  end
else
  token = redis.call('INCR', KEYS[2])
end
local identity = nil
if ARGV[10] ~= '' then identity = cjson.decode(ARGV[10]) end
local lease = cjson.encode({runId = ARGV[6], owner = ARGV[1], pid = tonumber(ARGV[2]), host = ARGV[3],
  expiresAt = now + tonumber(ARGV[4]), token = token, identity = identity, cancelRequested = cancel, redisOffsetMs = clock - now})
redis.call('SET', KEYS[1], lease)
return {0, lease}
`;

// KEYS: lease. ARGV: owner, token, ttlMs, now. Replies: {0, leaseJson} renewed, {1, holderJson or ''} lost.
// An expired lease nobody took over is still its holder's: renewed.
export const RENEW = `${CLOCK}
local raw = redis.call('GET', KEYS[1])
if not raw then return {1, ''} end
local cur = decodeLease(raw)
if cur.owner ~= ARGV[1] or tostring(cur.token) ~= ARGV[2] then return {1, raw} end
local now = tonumber(ARGV[4])
cur.expiresAt = now + tonumber(ARGV[3])
cur.redisOffsetMs = redisNow() - now
local lease = cjson.encode(cur)
redis.call('SET', KEYS[1], lease)
return {0, lease}
`;

// KEYS: lease. Reply: {leaseJson or nil (no key: false, which Redis sends as nil), Redis's clock (epoch ms)}, read
// together so the clock is the lease's. Not '' for no key: a key holding '' is a damaged lease, not none.
export const READ_LEASE = `${CLOCK}
local raw = redis.call('GET', KEYS[1])
return {raw or false, redisNow()}
`;

// KEYS: lease. ARGV: token, reason, at, owner (empty: any). Sets cancelRequested on the lease when it has that token
// (and owner), expired or not, keeping its expiry (and the Redis-side one of a lease an earlier version wrote).
// Replies: 1 set, 0 no such lease.
export const REQUEST_CANCEL = `${DECODE}
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local cur = decodeLease(raw)
if tostring(cur.token) ~= ARGV[1] then return 0 end
if ARGV[4] ~= '' and cur.owner ~= ARGV[4] then return 0 end
cur.cancelRequested = { token = tonumber(ARGV[1]), reason = ARGV[2], at = tonumber(ARGV[3]) }
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('SET', KEYS[1], cjson.encode(cur), 'PX', ttl)
else
  redis.call('SET', KEYS[1], cjson.encode(cur))
end
return 1
`;

// KEYS: lease. ARGV: owner, token. The token key keeps the token given back.
export const RELEASE = `${DECODE}
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local cur = decodeLease(raw)
if cur.owner == ARGV[1] and tostring(cur.token) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// KEYS: lease, snap, journal, runs. ARGV: runId, owner, token, now, held ('1' or '').
// Without held: deletes unless a live holder has the lease (owner and token name a holder found dead, taken as
// gone). With held: the holder of that lease deletes, only while it is still the run's lease, expired or not
// (RunStore.delete's lease). Replies: {0, existed} or {1, holderJson or '' (no lease)}.
export const DELETE = `${CLOCK}
local raw = redis.call('GET', KEYS[1])
if ARGV[5] == '1' then
  if not raw then return {1, ''} end
  local cur = decodeLease(raw)
  if cur.owner ~= ARGV[2] or tostring(cur.token) ~= ARGV[3] then return {1, raw} end
elseif raw then
  local cur = decodeLease(raw)
  if not expired(cur, tonumber(ARGV[4]), redisNow()) and not (cur.owner == ARGV[2] and tostring(cur.token) == ARGV[3]) then
    return {1, raw}
  end
end
local existed = redis.call('DEL', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('HDEL', KEYS[4], ARGV[1])
return {0, existed}
`;

/** A script's reply: a status code and its detail. */
export type Reply = [number, string | number | undefined];

/** The fencing arguments of the write scripts: the writer's token and owner, or "0" and "" for an unfenced write. */
export function fenceArgs(lease: Lease | undefined): [string, string] {
  return lease === undefined ? ["0", ""] : [String(lease.token), lease.owner];
}

/**
 * The lease a lease key holds (`raw`, JSON), as the contract has it:
 * without the store's own `redisOffsetMs`.
 *
 * @example
 * ```ts
 * leaseOf('{"runId":"r1","owner":"o1","token":2,"redisOffsetMs":-3}').token; // 2
 * ```
 */
export function leaseOf(raw: string): Lease {
  const { redisOffsetMs: _offset, ...lease } = JSON.parse(raw) as StoredLease;
  return lease;
}

/**
 * The lease a lease key holds (`raw`, JSON) as a reader sees it at Redis's
 * clock `clock`: {@link leaseOf}, except that a lease expired by Redis's
 * clock alone (its holder's clock runs ahead, or its holder vanished with
 * its clock so) reads with the expiry Redis's clock gave it, so that a
 * reader whose clock is Redis's sees it expired, as a taker would.
 *
 * @example
 * ```ts
 * // The holder's clock ran an hour ahead: its expiresAt is an hour after Redis's deadline.
 * leaseAt('{"runId":"r1","owner":"o1","token":2,"expiresAt":3601000,"redisOffsetMs":-3600000}', 2000).expiresAt; // 1000
 * ```
 */
export function leaseAt(raw: string, clock: number): Lease {
  const { redisOffsetMs: offset, ...lease } = JSON.parse(raw) as StoredLease;
  if (typeof offset !== "number" || offset >= 0) return lease;
  const redisDeadline = lease.expiresAt + offset;
  return redisDeadline <= clock ? { ...lease, expiresAt: redisDeadline } : lease;
}
