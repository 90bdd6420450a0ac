/**
 * A job's result in Redis, as a worker reads and writes it: the first look
 * before a body runs (a result stored by an earlier run of the job, the
 * coordinator's cancel, whether a run of the job reported already) and the
 * report (the result stored and the coordinator told, in one script, the
 * first result reported being the job's).
 *
 * Invariant: a job reports at most one result. Its own BullMQ hash keeps
 * that it reported (`REPORTED`), which lives exactly as long as the job, so
 * a run of the job after its run's results hash is gone (the run took the
 * result and stopped) still finds that its body ran.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { SIDE_CHANNEL_TTL_MS } from "./executor.js";
import { runScript } from "./connection.js";
import { encode, type ChannelKeys, type ResultEnvelope } from "./job-payload.js";

/**
 * In one round trip: the job's stored result (it ran before), the coordinator's cancel, if any, and whether a run of
 * this very job reported a result already (`REPORTED`, kept in the job's own hash, which lives exactly as long as
 * the job: when the run's results hash is gone, because the run stopped after it took the result, the job still
 * says that its body ran).
 */
export async function firstLook(
  client: Redis,
  keys: ChannelKeys,
  runId: string,
  jobId: string,
  jobKey: string,
): Promise<[string | null, string | null, boolean]> {
  const reply = (await runScript(
    client,
    "taskloomFirstLookOnce",
    FIRST_LOOK,
    [keys.results(runId), keys.cancelled(jobId), jobKey],
    [jobId, REPORTED],
  )) as unknown[];
  const text = (v: unknown): string | null => (typeof v === "string" ? v : null);
  return [text(reply[0]), text(reply[1]), reply[2] === 1];
}

/** The field of a BullMQ job's hash set once a run of the job reported its result. */
const REPORTED = "taskloomReported";

// KEYS: results, cancelled, the job's hash. ARGV: jobId, the reported field.
const FIRST_LOOK = `return {redis.call('HGET', KEYS[1], ARGV[1]), redis.call('GET', KEYS[2]), redis.call('HEXISTS', KEYS[3], ARGV[2])}`;

// KEYS: results, up, the job's hash. ARGV: jobId, result, done message, ttl ms, the reported field.
// The first result stored for a job is its result: a run of the job that ends after another one reported (its lock was
// lost, and BullMQ gave the job to another worker meanwhile) stores nothing and tells no coordinator; it gets the
// stored result back (or '', once the run stopped and its results hash is gone). The job's hash keeps that a result
// was reported (only while the job exists: a new job with the same id, in a resumed run, starts without it).
const REPORT = `
if redis.call('HEXISTS', KEYS[3], ARGV[5]) == 1 then return redis.call('HGET', KEYS[1], ARGV[1]) or '' end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return redis.call('HGET', KEYS[1], ARGV[1]) end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HSET', KEYS[3], ARGV[5], '1') end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return false
`;

/**
 * Stores a job's result (`text`: `result` encoded) and tells the run's coordinator, in one transaction, unless
 * a run of the job reported first: then nothing changes, and the text of that result is returned ('' once the
 * run's results hash is gone).
 */
export async function report(
  client: Redis,
  keys: ChannelKeys,
  job: { readonly runId: string; readonly jobId: string; readonly jobKey: string },
  result: ResultEnvelope,
  text: string,
): Promise<string | null> {
  const stored = await runScript(
    client,
    "taskloomReportOnce",
    REPORT,
    [keys.results(job.runId), keys.up(job.runId), job.jobKey],
    [job.jobId, text, encode({ t: "done", jobId: job.jobId, result }), SIDE_CHANNEL_TTL_MS, REPORTED],
  );
  return typeof stored === "string" ? stored : null;
}
