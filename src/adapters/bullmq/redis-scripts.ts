/**
 * The Lua scripts of {@link RedisStore}: every write and lease change of a
 * run is one script, so Redis runs it atomically (see `redis-store.ts` for
 * the keys and the fencing and takeover rules they implement).
 *
 * Invariants: a fenced write (snapshot, append) first compares the
 * writer's token with the run's current token and changes nothing when
 * they differ; the token is INCRemented only when the lease changes hands,
 * never reset (it outlives the lease and the run); a lease is always
 * written with a Redis-side expiry (PX of at least 1 ms); a run is deleted
 * only when no live holder has its lease.
 *
 * @module
 */
import type { Lease } from "../../persistence/run-store.js";

// Fenced writes. ARGV[1] is the writer's token (0: not fenced). Replies: {0} ok, {1, current} stale, {2} no snapshot.
const FENCE = `
local held = tonumber(ARGV[1])
if held > 0 then
  local current = tonumber(redis.call('GET', KEYS[1]) or '0')
  if current ~= held then return {1, current} end
end
`;

// KEYS: token, snap, journal, runs. ARGV: held, document, seq, runId, summary.
export const WRITE_SNAPSHOT = `${FENCE}
redis.call('SET', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
local seq = tonumber(ARGV[3])
while true do
  local head = redis.call('LINDEX', KEYS[3], 0)
  if not head then break end
  local s = tonumber(string.match(head, '^(%d+)|'))
  if s == nil or s > seq then break end
  redis.call('LPOP', KEYS[3])
end
return {0}
`;

// KEYS: token, snap, journal, runs. ARGV: held, runId, summary ('' for none), records...
export const APPEND = `${FENCE}
if redis.call('EXISTS', KEYS[2]) == 0 then return {2} end
for i = 4, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[4], ARGV[2], ARGV[3]) end
return {0}
`;

// KEYS: lease, token. ARGV: owner, pid, host, ttlMs, now, runId, force ('1' or ''), deadOwner, deadToken, identity (JSON or '').
// Replies: {0, leaseJson} granted, {1, holderJson} held by another.
export const ACQUIRE = `
local raw = redis.call('GET', KEYS[1])
local token
if raw then
  local cur = cjson.decode(raw)
  local now = tonumber(ARGV[5])
  if cur.owner == ARGV[1] then
    token = cur.token
  elseif ARGV[7] == '1' or cur.expiresAt <= now or (cur.owner == ARGV[8] and tostring(cur.token) == ARGV[9]) then
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
  expiresAt = tonumber(ARGV[5]) + tonumber(ARGV[4]), token = token, identity = identity})
redis.call('SET', KEYS[1], lease, 'PX', math.max(1, tonumber(ARGV[4])))
return {0, lease}
`;

// KEYS: lease. ARGV: owner, token, ttlMs, now. Replies: {0, leaseJson} renewed, {1, holderJson or ''} lost.
export const RENEW = `
local raw = redis.call('GET', KEYS[1])
if not raw then return {1, ''} end
local cur = cjson.decode(raw)
if cur.owner ~= ARGV[1] or tostring(cur.token) ~= ARGV[2] then return {1, raw} end
cur.expiresAt = tonumber(ARGV[4]) + tonumber(ARGV[3])
local lease = cjson.encode(cur)
redis.call('SET', KEYS[1], lease, 'PX', math.max(1, tonumber(ARGV[3])))
return {0, lease}
`;

// KEYS: lease. ARGV: token, reason, at, owner (empty: any). Sets cancelRequested on the lease when it has that token
// (and owner), keeping its expiry.
// Replies: 1 set, 0 no such lease.
export const REQUEST_CANCEL = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local cur = cjson.decode(raw)
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

// KEYS: lease. ARGV: owner, token.
export const RELEASE = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local cur = cjson.decode(raw)
if cur.owner == ARGV[1] and tostring(cur.token) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// KEYS: lease, snap, journal, runs. ARGV: runId, deadOwner, deadToken, now.
// Deletes unless a live holder has the lease. Replies: {0, existed} or {1, holderJson}.
export const DELETE = `
local raw = redis.call('GET', KEYS[1])
if raw then
  local cur = cjson.decode(raw)
  if cur.expiresAt > tonumber(ARGV[4]) and not (cur.owner == ARGV[2] and tostring(cur.token) == ARGV[3]) then
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

/** The fencing argument of the write scripts: the writer's token, or "0" for an unfenced write. */
export function fenceArg(lease: Lease | undefined): string {
  return String(lease?.token ?? 0);
}
