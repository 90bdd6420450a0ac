/**
 * `bullmqExecutor`: the coordinator's side of the BullMQ adapter. The
 * process that called `runAsync` keeps the `ForwardScheduler` (ready
 * sets, `maxConcurrency`, retries, timeouts, journaling); the executor
 * turns each attempt the scheduler starts into one BullMQ job and settles
 * the attempt when a worker reports the job's result. Since the scheduler
 * starts at most `maxConcurrency` attempts at once, at most that many
 * jobs of a run exist at once, across every worker: the limit holds
 * cluster-wide, and retries stay the scheduler's (a job is never retried
 * by BullMQ; a stalled one is re-queued, which is the same attempt).
 *
 * Why this file is long (about 710 lines): submitting a job, settling it
 * from the `up` list, from queue events or from a look at the queue,
 * cancelling it and stopping a run
 * all read and change the same private state (the pending attempts by job
 * id and the per-run channels), and each step's order matters for
 * failover and cancellation; split across modules, that state would have
 * to be shared between them. The parts without that state already live
 * apart: the payloads (`job-payload.ts`), the answers to `step` and
 * `waitFor` calls (`attempt-calls.ts`) and the connection (`connection.ts`).
 * The thirty-third pass added about 30 lines: a timed-out attempt settles
 * when its job ends, not at the timeout, and the cancel says how long the
 * worker may keep the job for its body.
 *
 * Per run the executor keeps one blocking Redis connection popping the
 * run's `up` list (job results, and `ctx.emit`, `ctx.step`, `ctx.waitFor`
 * calls from workers, which it hands to the attempt's own context, so they
 * are journaled exactly as for a local body), and one listener on BullMQ's
 * queue events (`job-events.ts`) for jobs that fail outside their body (a worker that
 * stalled too often). Events can be lost (BullMQ trims the stream) and some
 * ends have none (`Queue.drain`), so the queue itself is asked about the
 * jobs waited for (`#reconcile`) when the reader lost events, when jobs
 * were removed, and every {@link RECONCILE_EVERY_MS}: a job gone settles
 * its attempt with the result its worker stored, or fails it.
 *
 * Failover. Job ids are deterministic, and results are kept in the run's
 * `results` hash until the run stops: a coordinator that resumes a run
 * another one was driving finds the result of an attempt that finished
 * meanwhile in the hash, and attaches to a job still queued or running
 * (BullMQ ignores an add with an existing job id) instead of running it twice.
 * Job ids carry the run's random mark (`NodeActivation.runInstance`), so a
 * run deleted and started again under its id attaches to none of the
 * deleted run's jobs and takes none of their results.
 *
 * Cancellation. When the scheduler aborts an attempt (a timeout, a
 * cancellation, another node failing the run) the executor removes the
 * job if it has not started, and otherwise publishes a cancel that aborts
 * the body's `ctx.signal` in its worker (and leaves a marker with an
 * expiry, for a job that starts just after). A timed-out attempt's
 * promise settles only when its job ends: its worker keeps the job while
 * the body goes on, for as long again as the time limit at most. Attempts aborted because
 * the run stops are cancelled in `runStopped`, and not at all when the
 * run was taken over: a live takeover leaves the bodies running for the
 * new coordinator, which attached to their jobs.
 *
 * Calls. `ctx.step` and `ctx.waitFor` calls are answered by
 * `attempt-calls.ts`, by step name and wait key, so every run of a job
 * (a stalled job re-run on another worker is the same attempt) gets the
 * journaled answers, never a reply meant for an earlier run.
 *
 * @module
 */
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { NodeContext } from "../../graph/node-context.js";
import { assertKnownKeys, optionKeys } from "../../core/known-keys.js";
import type { NodeActivation, NodeExecutor } from "../../engine/node-executor.js";
import { ExecutorClosedError, WorkerJobFailedError } from "../worker-errors.js";
import { NodeTimeoutError, RunCancelledError } from "../../engine/errors.js";
import { AttemptCalls } from "./attempt-calls.js";
import { EVENTS_PACE_MS, JobEvents, streamIdAfter } from "./job-events.js";
import { assertConnection, closeClient, openClient, runScript, untilHalted, type RedisConnection } from "./connection.js";
import {
  channelKeys,
  decode,
  encode,
  encodeActivation,
  envelopeError,
  envelopeValue,
  jobIdOf,
  nameOption,
  type ChannelKeys,
  type Reply,
  type ResultEnvelope,
  type UpMessage,
} from "./job-payload.js";

/**
 * Options of {@link bullmqExecutor}.
 *
 * @example
 * ```ts
 * const options: BullmqExecutorOptions = { connection: "redis://127.0.0.1:6379", queue: "etl" };
 * ```
 */
export interface BullmqExecutorOptions {
  /** Where Redis is. @default "redis://127.0.0.1:6379" */
  readonly connection?: RedisConnection;
  /** The BullMQ queue (the workers' `queue`). @default "taskloom" */
  readonly queue?: string;
  /** Key prefix of the queue and of the adapter's own keys (the workers' `prefix`). @default "taskloom" */
  readonly prefix?: string;
}

/** How long side-channel keys live without use (ms): a day, for a coordinator that comes back late. */
export const SIDE_CHANNEL_TTL_MS = 86_400_000;

// KEYS: results and cancelled of job 1, of job 2, …, then the queue's events stream. ARGV: jobId 1, jobId 2, ….
// For each job: no cancel left for a new job, and its stored result (or false); then the id of the events stream's
// last entry (every event of an earlier job with the same id is at or before it).
const BEFORE_ADD = `
local out = {}
for i = 1, #ARGV do
  redis.call('DEL', KEYS[2 * i])
  out[i] = redis.call('HGET', KEYS[2 * i - 1], ARGV[i]) or false
end
local last = redis.call('XREVRANGE', KEYS[#KEYS], '+', '-', 'COUNT', 1)
out[#ARGV + 1] = (last[1] and last[1][1]) or '0-0'
return out
`;

/**
 * Above this many jobs a batch goes by one `addBulk`, at or below by one `add` per job, all sent at once:
 * measured on the coordinator (bullmq 6.7, ioredis 6), an `addBulk` of 2 jobs cost about 140 to 180 us of
 * CPU per job against 70 for adds, of 4 about 100 to 120 against 60 to 75, of 16 about the same (50 to 70).
 */
const ADD_BULK_ABOVE = 16;

// KEYS: job key and results of job 1, of job 2, …. ARGV: jobId 1, jobId 2, ….
// For each job: 0 while it is in the queue; once it is gone (jobs are removed when they end), its stored result, or
// 1 when there is none (it failed outside its body, as a worker that stalled too often).
/**
 * How often the coordinator asks Redis about the jobs it waits for, events
 * or none (ms): a job removed with no event (`Queue.drain`) fails its
 * attempt within this time rather than never. One script call per
 * {@link RECONCILE_BATCH} jobs waited for.
 */
export const RECONCILE_EVERY_MS = 30_000;

/** How many jobs one {@link GONE_JOBS} call looks at, so a sweep of many never holds Redis long. */
const RECONCILE_BATCH = 500;

/** The reason of a job found gone with no result, whose `failed` event was not read. */
const LOST_FAILURE =
  "it left the queue without a result: it was removed (Job.remove, Queue.clean, Queue.drain), or it failed outside its body (a worker that stalled too often) and its failure event was trimmed from the queue's events stream before the coordinator read it";

const GONE_JOBS = `
local out = {}
for i = 1, #ARGV do
  if redis.call('EXISTS', KEYS[2 * i - 1]) == 1 then
    out[i] = 0
  else
    out[i] = redis.call('HGET', KEYS[2 * i], ARGV[i]) or 1
  end
end
return out
`;

/** An attempt waiting for the next batch of submissions. */
interface Submission {
  readonly pending: Pending;
  readonly activation: NodeActivation;
}

/** One attempt sent to the workers and not yet settled. */
interface Pending {
  readonly jobId: string;
  readonly runId: string;
  readonly context: NodeContext;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** The answers to the job's `step` and `waitFor` calls, by step name and wait key, for every run of the job. */
  readonly calls: AttemptCalls;
  settled: boolean;
  /** The attempt timed out: its job's body may still run, but its `step` and `waitFor` calls are no longer answered. */
  ended: boolean;
  /**
   * The events stream showed this attempt's add (`added`, or `duplicated`
   * when it attached to a job already there), after {@link Pending.since}.
   * A `failed` event before it is of an earlier job with the same id (the
   * job of the same attempt in a run that stopped and resumes: its
   * cancel), not of this one.
   */
  added: boolean;
  /**
   * The events stream's last entry just before this attempt's job was
   * added (undefined until then): an `added` event at or before it is an
   * earlier job's with the same id, read late by the paced reader, and
   * does not count as this attempt's add.
   */
  since: string | undefined;
  /** The attempt's job is in the queue (its `add` returned): from then on, a job gone with no result stored has failed. */
  submitted: boolean;
  /**
   * Look at the job once it is in the queue ({@link BullmqExecutor.#reconcile}):
   * an event of it may have been lost, or a failure came that could not be
   * told apart from an earlier job's before the add returned.
   */
  recheck: boolean;
}

/** The listener of one run's `up` list. */
interface RunChannel {
  readonly client: Redis;
  stopped: boolean;
  /** Aborted when the listener stops: ends a pop that its disconnected client would leave pending forever. */
  readonly halt: AbortController;
  loop: Promise<void>;
  /** Jobs of attempts the run's stop aborted: cancelled in the workers by `runStopped`, unless the run was taken over. */
  readonly stopping: string[];
}

/**
 * Sends node bodies to BullMQ workers (see {@link createWorker}); pass it
 * as `executor` in the run options, with a `RedisStore` as `store` so any
 * coordinator can resume the run.
 *
 * @example
 * ```ts
 * const executor = bullmqExecutor({ connection: "redis://127.0.0.1:6379", queue: "etl" });
 * const store = new RedisStore({ connection: "redis://127.0.0.1:6379" });
 * await runAsync(etl, inputs, { runId: "etl-1", store, executor, maxConcurrency: 64 });
 * await executor.close();
 * ```
 */
export class BullmqExecutor implements NodeExecutor {
  readonly #connection: RedisConnection;
  readonly #queueName: string;
  readonly #prefix: string;
  /** The timer of the sweep at each {@link RECONCILE_EVERY_MS} (set with the events reader). */
  #sweeps: NodeJS.Timeout | undefined;
  /** The queue's events stream (BullMQ's `<prefix>:<queue>:events`). */
  readonly #eventsKey: string;
  readonly #keys: ChannelKeys;
  readonly #pending = new Map<string, Pending>();
  readonly #runs = new Map<string, RunChannel>();
  #queue: Queue | undefined;
  /** The queue's client: the executor's own, so that close() ends it whether Redis answers or not. */
  #queueClient: Redis | undefined;
  #events: JobEvents | undefined;
  #client: { client: Redis; owned: boolean } | undefined;
  #closed = false;
  #blmpop = true;
  /** Attempts started in this turn of the event loop: submitted together by `#flush`. */
  #batch: Submission[] = [];

  constructor(options: BullmqExecutorOptions = {}) {
    assertKnownKeys("bullmqExecutor", options, optionKeys<BullmqExecutorOptions>({ connection: true, queue: true, prefix: true }));
    const connection = options.connection === undefined ? "redis://127.0.0.1:6379" : options.connection;
    assertConnection(connection);
    this.#connection = connection;
    this.#queueName = nameOption("queue", options.queue);
    this.#prefix = nameOption("prefix", options.prefix);
    this.#keys = channelKeys(this.#prefix, this.#queueName);
    this.#eventsKey = `${this.#prefix}:${this.#queueName}:events`;
  }

  /** The BullMQ queue the jobs go to (opened on first use). */
  get queue(): Queue {
    if (this.#queue === undefined) {
      // A client BullMQ opened itself it would close with QUIT, which waits, and close() with it, for as long as Redis
      // is away (for ever, once the client was told to close). BullMQ leaves a client it was given to its owner.
      this.#queueClient = openClient(this.#connection, true).client;
      this.#queue = new Queue(this.#queueName, { connection: this.#queueClient, prefix: this.#prefix });
    }
    return this.#queue;
  }

  get #redis(): Redis {
    this.#client ??= openClient(this.#connection);
    return this.#client.client;
  }

  execute(activation: NodeActivation, context: NodeContext): Promise<unknown> {
    if (this.#closed) return Promise.reject(closedError());
    const jobId = jobIdOf(activation.runId, activation.activationId, activation.attempt, activation.runInstance);
    this.#listen(activation.runId);
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        jobId,
        runId: activation.runId,
        context,
        resolve,
        reject,
        calls: new AttemptCalls(
          context,
          (callId, reply) => this.#push(jobId, callId, reply),
          () => !pending.settled && !pending.ended,
        ),
        settled: false,
        ended: false,
        added: false,
        since: undefined,
        submitted: false,
        recheck: false,
      };
      this.#pending.set(jobId, pending);
      const signal = context.signal;
      if (signal.aborted) {
        this.#aborted(pending, signal.reason);
        return;
      }
      signal.addEventListener("abort", () => this.#aborted(pending, signal.reason), { once: true });
      if (this.#batch.length === 0) setImmediate(() => void this.#flush());
      this.#batch.push({ pending, activation });
    });
  }

  /**
   * Submits the attempts started since the last flush (the scheduler starts
   * many at once in a fan-out): one script call looks at all of them, then
   * one `addBulk` adds the jobs (a few: one `add` each, sent together),
   * instead of two round trips per attempt in turn.
   */
  async #flush(): Promise<void> {
    const batch = this.#batch.filter((s) => !s.pending.settled);
    this.#batch = [];
    if (batch.length === 0) return;
    if (this.#closed) {
      for (const s of batch) this.#fail(s.pending, closedError());
      return;
    }
    try {
      await this.#submit(batch);
    } catch (error) {
      for (const s of batch) this.#fail(s.pending, error);
    }
  }

  async #submit(batch: readonly Submission[]): Promise<void> {
    // A result stored while no coordinator listened (failover) settles the attempt without a new job.
    // The same attempt number comes again when a stopped run resumes: a cancel left for its earlier job must not stop this one.
    // Listening for completions before looking: a result whose `done` message another coordinator popped is seen.
    await this.#watchJobs().ready;
    // Closed meanwhile: its attempts failed with it, and a client opened now would outlive it.
    if (this.#closed) return;
    const keys = batch.flatMap(({ pending }) => [this.#keys.results(pending.runId), this.#keys.cancelled(pending.jobId)]);
    keys.push(this.#eventsKey);
    const stored = (await runScript(
      this.#redis,
      "taskloomBeforeAddMany",
      BEFORE_ADD,
      keys,
      batch.map(({ pending }) => pending.jobId),
    )) as unknown[];
    if (this.#closed) return;
    const since = String(stored[batch.length]);
    for (const { pending } of batch) pending.since = since;
    const jobs: Parameters<Queue["addBulk"]>[0] = [];
    const owners: Pending[] = [];
    batch.forEach(({ pending, activation }, i) => {
      const result = stored[i];
      if (typeof result === "string") this.#settle(pending, decode<ResultEnvelope>(result));
      else if (!pending.settled) {
        jobs.push({
          name: activation.graphName,
          data: encodeActivation(activation),
          opts: { jobId: pending.jobId, attempts: 1, removeOnComplete: true, removeOnFail: true },
        });
        owners.push(pending);
      }
    });
    if (jobs.length > ADD_BULK_ABOVE) {
      await this.queue.addBulk(jobs);
      this.#inQueue(owners);
      return;
    }
    // A few jobs (attempts that finish and start a few at a time: slow bodies, several workers) go by one `add`
    // each, all sent at once: `addBulk` builds an ioredis pipeline, which copies every BullMQ script command onto
    // itself, a cost per call larger than a few adds. An add that fails fails its own attempt only.
    const added = await Promise.allSettled(jobs.map((job) => this.queue.add(job.name, job.data, job.opts)));
    added.forEach((outcome, i) => {
      const pending = owners[i];
      if (outcome.status === "rejected" && pending) this.#fail(pending, outcome.reason);
    });
    this.#inQueue(owners.filter((_, i) => added[i]?.status === "fulfilled"));
  }

  /** The jobs of `owners` are in the queue: those to look at once they were ({@link Pending.recheck}) are looked at now. */
  #inQueue(owners: readonly Pending[]): void {
    const recheck: Pending[] = [];
    for (const pending of owners) {
      pending.submitted = true;
      if (pending.recheck && !pending.settled) recheck.push(pending);
    }
    if (recheck.length > 0) this.#reconcile(recheck);
  }

  /**
   * Any job this coordinator waits for may have ended unheard: the events
   * reader lost events (`missed`: the stream was trimmed past them before
   * it read them, or BullMQ removed jobs in bulk, `job-events.ts`), or, at
   * each {@link RECONCILE_EVERY_MS}, a job may have left the queue with no
   * event at all (`Queue.drain`). Each job in the queue is looked at now;
   * after a loss, each job not yet added too, once its add returns.
   */
  #sweep(missed: boolean): void {
    const inQueue: Pending[] = [];
    for (const pending of this.#pending.values()) {
      if (pending.settled) continue;
      if (pending.submitted) inQueue.push(pending);
      else if (missed) pending.recheck = true;
    }
    for (let i = 0; i < inQueue.length; i += RECONCILE_BATCH) this.#reconcile(inQueue.slice(i, i + RECONCILE_BATCH));
  }

  /** Asks Redis about `pending`'s job ({@link BullmqExecutor.#reconcile}): now when it is in the queue, else once its add returns. */
  #lookAt(pending: Pending): void {
    if (pending.submitted) this.#reconcile([pending]);
    else pending.recheck = true;
  }

  /**
   * Asks Redis about the jobs of `pendings` (one script call): a job still
   * in the queue runs or waits, and its attempt waits on; a job gone (jobs
   * are removed when they end) settles its attempt with the result its
   * worker stored, or, with none, fails it as BullMQ's `failed` event would
   * have: the job failed outside its body.
   */
  #reconcile(pendings: readonly Pending[]): void {
    for (const pending of pendings) pending.recheck = false;
    if (this.#closed) return; // its attempts failed when it closed

    const keys = pendings.flatMap((p) => [this.queue.toKey(p.jobId), this.#keys.results(p.runId)]);
    runScript(
      this.#redis,
      "taskloomGoneJobs",
      GONE_JOBS,
      keys,
      pendings.map((p) => p.jobId),
    ).then(
      (reply) => {
        (reply as unknown[]).forEach((found, i) => {
          const pending = pendings[i];
          if (pending === undefined || found === 0) return;
          if (typeof found === "string") this.#settle(pending, decode<ResultEnvelope>(found));
          else this.#fail(pending, new WorkerJobFailedError(pending.jobId, LOST_FAILURE));
        });
      },
      (error: unknown) => {
        for (const pending of pendings) this.#fail(pending, error);
      },
    );
  }

  #settle(pending: Pending, result: ResultEnvelope): void {
    if (pending.settled) return;
    pending.settled = true;
    this.#pending.delete(pending.jobId);
    if (result.ok) pending.resolve(envelopeValue(result));
    else pending.reject(envelopeError(result.error));
  }

  #fail(pending: Pending, error: unknown): void {
    if (pending.settled) return;
    pending.settled = true;
    this.#pending.delete(pending.jobId);
    pending.reject(error);
  }

  /**
   * The scheduler aborted the attempt. One attempt aborted while the run
   * goes on (a timeout) is cancelled in the workers at once. An attempt
   * aborted because the run stops (`RunCancelledError`) is cancelled by
   * `runStopped`, which knows whether the run was taken over: if it was,
   * the job is the new coordinator's, which attached to it, and its body
   * goes on.
   */
  #aborted(pending: Pending, reason: unknown): void {
    const channel = this.#runs.get(pending.runId);
    if (!(reason instanceof NodeTimeoutError)) {
      this.#fail(pending, reason);
      if (reason instanceof RunCancelledError && channel) channel.stopping.push(pending.jobId);
      else void this.#cancel(pending.jobId, reason);
      return;
    }
    // A timeout: the attempt has ended, but a body that started goes on in its worker, which keeps the job until the
    // body ends (for as long again as its limit at most: `graceMs`). The promise settles when the job ends (its
    // failure or result arrives as any job's does), so the coordinator keeps the attempt's slot until then and the
    // node's next attempt does not run beside it (engine/lingering-bodies.ts). A job removed before it started ends now.
    pending.ended = true;
    void this.#cancel(pending.jobId, reason, reason.timeoutMs).then((removed) => {
      if (removed) this.#fail(pending, reason);
    });
  }

  /**
   * Drops the job if it has not started, else aborts its body in the worker
   * (which keeps the job for up to `graceMs` while its body goes on, when
   * given). Resolves to true when the job was dropped, or no worker can be
   * reached (a closed executor).
   */
  async #cancel(jobId: string, reason: unknown, graceMs?: number): Promise<boolean> {
    // A closed executor reaches no worker: reopening a client here would keep the process alive after close().
    if (this.#closed) return true;
    const message = reason instanceof Error ? reason.message : String(reason);
    const [, removed] = await Promise.all([
      this.#redis
        .multi()
        .set(this.#keys.cancelled(jobId), message, "PX", SIDE_CHANNEL_TTL_MS)
        .publish(this.#keys.cancel, JSON.stringify({ jobId, reason: message, ...(graceMs !== undefined && { graceMs }) }))
        .exec()
        .catch(() => undefined),
      this.queue.remove(jobId).then(
        (n) => n > 0,
        () => false,
      ),
    ]);
    return removed;
  }

  /** Starts popping the run's `up` list, once per run. */
  #listen(runId: string): void {
    if (this.#runs.has(runId)) return;
    const { client } = openClient(this.#connection, true);
    client.on("error", () => undefined);
    const channel: RunChannel = { client, stopped: false, halt: new AbortController(), loop: Promise.resolve(), stopping: [] };
    this.#runs.set(runId, channel);
    channel.loop = this.#pop(channel, this.#keys.up(runId));
  }

  async #pop(channel: RunChannel, key: string): Promise<void> {
    const client = channel.client;
    while (!channel.stopped) {
      let batch: string[];
      try {
        if (this.#blmpop) {
          // Up to 1,000 messages in one round trip (Redis 7).
          const popped = (await untilHalted(client.call("BLMPOP", "5", "1", key, "LEFT", "COUNT", "1000"), channel.halt.signal)) as [string, string[]] | null;
          if (popped === null) continue;
          batch = popped[1];
        } else {
          const first = await untilHalted(client.blpop(key, 5), channel.halt.signal);
          if (first === null) continue;
          batch = [first[1], ...((await untilHalted(client.lpop(key, 1000), channel.halt.signal)) ?? [])];
        }
      } catch (error) {
        if (channel.stopped) return;
        if (/unknown command/i.test((error as Error).message)) this.#blmpop = false; // Redis before 7
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      for (const text of batch) {
        try {
          this.#handle(decode<UpMessage>(text));
        } catch {
          // A message this version cannot read is dropped; the worker re-sends calls that get no answer.
        }
      }
    }
  }

  /**
   * BullMQ's events settle what the `up` list may not bring: jobs that fail
   * outside their body (a worker stalled more than allowed), and results
   * whose `done` message another coordinator popped (a live takeover: the
   * old coordinator listens until it learns it lost the run). A job's
   * result is in the results hash either way.
   */
  #watchJobs(): JobEvents {
    if (this.#events) return this.#events;
    const { client } = openClient(this.#connection, true);
    client.on("error", () => undefined);
    this.#events = new JobEvents(
      client,
      this.#eventsKey,
      (event) => {
        const pending = this.#pending.get(event.jobId);
        if (!pending) return; // settled already: the common case, the `up` list brought the result
        if (event.event === "added") {
          // Only an add after this attempt's own: an earlier job's, read late, is no sign of this one.
          if (pending.since !== undefined && streamIdAfter(event.id, pending.since)) pending.added = true;
          return;
        }
        // Removed (`Job.remove`): settled by what its worker stored, or failed; an earlier job's, read late, finds this
        // one in the queue. A failure read before this attempt's add: an earlier job's with the same id (a stopped
        // run's cancel, read late), or this job's with its `added` lost. The queue tells which, once the add returned.
        if (event.event === "removed" || (event.event === "failed" && !pending.added)) {
          this.#lookAt(pending);
          return;
        }
        this.#redis.hget(this.#keys.results(pending.runId), event.jobId).then(
          (stored) => {
            if (stored !== null) this.#settle(pending, decode<ResultEnvelope>(stored));
            else if (event.event === "failed") this.#fail(pending, new WorkerJobFailedError(event.jobId, event.failedReason));
          },
          (error: unknown) => this.#fail(pending, error),
        );
      },
      EVENTS_PACE_MS,
      () => this.#sweep(true),
    );
    this.#sweeps = setInterval(() => this.#sweep(false), RECONCILE_EVERY_MS);
    this.#sweeps.unref();
    return this.#events;
  }

  #handle(message: UpMessage): void {
    const pending = this.#pending.get(message.jobId);
    if (!pending) return; // an attempt this coordinator no longer waits for
    switch (message.t) {
      case "done":
        this.#settle(pending, message.result);
        return;
      case "emit":
        pending.context.emit(message.name, message.data);
        return;
      case "step":
        pending.calls.step(message.callId, message.name);
        return;
      case "step-value":
        pending.calls.stepValue(message.callId, message.name, message.result);
        return;
      case "wait":
        pending.calls.wait(message.callId, message.key, message.timeoutMs);
        return;
    }
  }

  #push(jobId: string, callId: string, reply: Reply): void {
    if (this.#closed) return; // the worker sends the call again, to whichever coordinator drives the run next
    const key = this.#keys.reply(jobId, callId);
    void this.#redis
      .multi()
      .rpush(key, encode(reply))
      .pexpire(key, SIDE_CHANNEL_TTL_MS)
      .exec()
      .catch(() => undefined);
  }

  /**
   * The run stopped (finished, failed, cancelled or waiting): its jobs
   * still out are cancelled, its listener stops, and its side channels are
   * deleted (every result they held is in the run's journal by now). When
   * another coordinator took the run over (`leaseLost`), only the listener
   * stops: the jobs (their bodies go on) and results are the new
   * coordinator's, which attached to them.
   */
  async runStopped(runId: string, stop: { readonly leaseLost: boolean } = { leaseLost: false }): Promise<void> {
    const channel = this.#runs.get(runId);
    const reason = new RunCancelledError(runId, stop.leaseLost ? "another coordinator took the run over" : "the run stopped");
    for (const pending of [...this.#pending.values()]) {
      if (pending.runId !== runId) continue;
      this.#fail(pending, reason);
      channel?.stopping.push(pending.jobId);
    }
    // Awaited: the run's lease is given back after this, and the next coordinator sends jobs with the same
    // ids (a resume starts attempts from 1 again); a cancel or removal landing after its add would hit its job.
    if (!stop.leaseLost) await Promise.all((channel?.stopping ?? []).map((jobId) => this.#cancel(jobId, reason)));
    if (channel) {
      this.#stopListening(runId, channel);
      await channel.loop;
    }
    // After close() nothing is deleted (the keys expire a day after their last write) rather than a client reopened.
    if (!stop.leaseLost && !this.#closed) await this.#redis.del(this.#keys.results(runId), this.#keys.up(runId));
  }

  /** Stops the listener of run `runId`'s `up` list (its loop ends at once, Redis reachable or not). */
  #stopListening(runId: string, channel: RunChannel): void {
    channel.stopped = true;
    this.#runs.delete(runId);
    channel.halt.abort(new Error("taskloom: the run's listener stopped"));
    channel.client.disconnect();
  }

  /**
   * Closes the executor's connections. Attempts still waiting for their
   * jobs fail at once (nothing could settle them any more), and so do
   * later ones, so runs still using it fail rather than wait forever; their
   * jobs stay in the queue, for a coordinator that resumes the run.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = closedError();
    for (const pending of [...this.#pending.values()]) this.#fail(pending, closed);
    for (const runId of [...this.#runs.keys()]) {
      const channel = this.#runs.get(runId);
      if (!channel) continue;
      this.#stopListening(runId, channel);
      await channel.loop;
    }
    clearInterval(this.#sweeps);
    await this.#events?.close();
    await this.#queue?.close();
    if (this.#queueClient) await closeClient(this.#queueClient);
    const client = this.#client;
    this.#client = undefined;
    if (client?.owned) await closeClient(client.client);
  }
}

/** The error of an attempt made with, or left waiting in, a closed executor. */
function closedError(): Error {
  return new ExecutorClosedError("bullmqExecutor");
}

/**
 * An executor that sends node bodies to BullMQ workers.
 *
 * @example
 * ```ts
 * import { bullmqExecutor, RedisStore } from "taskloom/bullmq";
 * const connection = "redis://127.0.0.1:6379";
 * const out = await runAsync(etl, inputs, {
 *   runId: "etl-1",
 *   store: new RedisStore({ connection }),
 *   executor: bullmqExecutor({ connection, queue: "etl" }),
 * });
 * ```
 */
export function bullmqExecutor(options: BullmqExecutorOptions = {}): BullmqExecutor {
  return new BullmqExecutor(options);
}
