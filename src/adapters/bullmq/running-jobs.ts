/**
 * The jobs one worker runs now, and how a coordinator's cancel reaches
 * them: a cancel published on the queue's cancel channel (pub/sub, which
 * keeps nothing), or the marker each cancel leaves (`cancelled`, kept a
 * day), read for every running job once the worker's subscriber is
 * connected again.
 *
 * Invariants:
 * - A job's first abort wins; what aborted it is recorded on the job
 *   (`lockLost`, `left`) so the processor ends the job the way that abort
 *   asks (reported, left to another worker, or not ended by this worker).
 * - A cancel for a timed-out attempt carries a grace (`graceMs`): the job
 *   is kept while its body goes on, for that long at most
 *   ({@link settledWithin}), so the worker runs no more bodies than its
 *   `concurrency`; `stopWaiting` ends that wait early (a lost lock,
 *   `close(true)`).
 *
 * @module
 */
import type { Redis } from "ioredis";
import { RunCancelledError } from "../../engine/errors.js";
import type { ChannelKeys } from "./job-payload.js";

/** A job this worker runs: its body's abort, and why it was aborted. */
export interface RunningJob {
  readonly controller: AbortController;
  readonly runId: string;
  /** The abort says this worker lost the job's lock (not a cancel of the coordinator's). */
  lockLost: boolean;
  /** The abort says this worker was closed with force: the job is left, as it is, to another worker. */
  left: boolean;
  /** A timed-out attempt's cancel: how long the job is kept while its body goes on (0: not kept). */
  graceMs: number;
  /** Ends that wait early: the worker is closed with force, or lost the job's lock. */
  readonly stopWaiting: AbortController;
}

/** A new entry for a job of run `runId` that starts now. */
export function runningJob(runId: string): RunningJob {
  return { controller: new AbortController(), runId, lockLost: false, left: false, graceMs: 0, stopWaiting: new AbortController() };
}

/** The longest a worker keeps a cancelled job for its body (a timer's limit). */
const MAX_GRACE_MS = 2_147_483_647;

/**
 * A message of the cancel channel, `{ jobId, reason, graceMs? }`: aborts
 * that job if this worker runs it (with its grace, when the cancel is for
 * a timed-out attempt). Anything else on the channel is not ours, and is
 * ignored.
 */
export function applyCancel(active: ReadonlyMap<string, RunningJob>, text: string): void {
  let message: { jobId?: unknown; reason?: unknown; graceMs?: unknown };
  try {
    message = JSON.parse(text) as typeof message;
  } catch {
    return;
  }
  if (message === null || typeof message !== "object" || typeof message.jobId !== "string") return;
  const job = active.get(message.jobId);
  if (job === undefined) return;
  const { graceMs } = message;
  if (typeof graceMs === "number" && Number.isFinite(graceMs) && graceMs > 0 && !job.controller.signal.aborted) {
    job.graceMs = Math.min(graceMs, MAX_GRACE_MS);
  }
  job.controller.abort(new RunCancelledError(job.runId, String(message.reason)));
}

/** Resolves once `work` settles, `ms` have passed, or `stop` aborts, whichever comes first; never rejects. */
export function settledWithin(work: Promise<unknown>, ms: number, stop: AbortSignal): Promise<void> {
  if (stop.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const end = (): void => {
      clearTimeout(timer);
      stop.removeEventListener("abort", end);
      resolve();
    };
    const timer = setTimeout(end, ms);
    stop.addEventListener("abort", end, { once: true });
    work.then(end, end);
  });
}

/** Aborts each running job of `active` whose cancel marker is set (a cancel published while the subscriber was away). */
export async function abortCancelled(client: Redis, keys: ChannelKeys, active: ReadonlyMap<string, RunningJob>): Promise<void> {
  const running = [...active];
  if (running.length === 0) return;
  const markers = await client.mget(running.map(([jobId]) => keys.cancelled(jobId)));
  running.forEach(([jobId, job], i) => {
    const reason = markers[i];
    if (typeof reason === "string" && active.get(jobId) === job) job.controller.abort(new RunCancelledError(job.runId, reason));
  });
}
