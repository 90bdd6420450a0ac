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
 * Per run the executor keeps one blocking Redis connection popping the
 * run's `up` list (job results, and `ctx.emit`, `ctx.step`, `ctx.waitFor`
 * calls from workers, which it hands to the attempt's own context, so they
 * are journaled exactly as for a local body), and one listener on BullMQ's
 * queue events for jobs that fail outside their body (a worker that
 * stalled too often).
 *
 * Failover. Job ids are deterministic, and results are kept in the run's
 * `results` hash until the run stops: a coordinator that resumes a run
 * another one was driving finds the result of an attempt that finished
 * meanwhile in the hash, and attaches to a job still queued or running
 * (BullMQ ignores an add with an existing job id) instead of running it twice.
 *
 * Cancellation. When the scheduler aborts an attempt (a timeout, a
 * cancellation, another node failing the run) the executor removes the
 * job if it has not started, and otherwise publishes a cancel that aborts
 * the body's `ctx.signal` in its worker (and leaves a marker with an
 * expiry, for a job that starts just after).
 *
 * @module
 */
import { Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import type { NodeContext } from "../../graph/node-context.js";
import { assertKnownKeys, optionKeys } from "../../core/known-keys.js";
import type { NodeActivation, NodeExecutor } from "../../scheduler/node-executor.js";
import { RunCancelledError, WorkerJobFailedError } from "../../errors.js";
import { bullmqConnection, closeClient, openClient, runScript, type RedisConnection } from "./connection.js";
import {
  channelKeys,
  decode,
  encode,
  encodeActivation,
  envelopeError,
  envelopeValue,
  errorEnvelope,
  jobIdOf,
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

// KEYS: results, cancelled. ARGV: jobId. The stored result (or false), and no cancel left for a new job.
const BEFORE_ADD = `redis.call('DEL', KEYS[2]) return redis.call('HGET', KEYS[1], ARGV[1])`;

/** One attempt sent to the workers and not yet settled. */
interface Pending {
  readonly jobId: string;
  readonly runId: string;
  readonly context: NodeContext;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** Calls from the worker (`step`, `waitFor`) by call id, with the replies sent, for re-sent requests. */
  readonly calls: Map<string, Call>;
  settled: boolean;
}

interface Call {
  readonly replies: Map<string, Reply>;
  provide?: { resolve: (value: unknown) => void; reject: (error: unknown) => void };
}

/** The listener of one run's `up` list. */
interface RunChannel {
  readonly client: Redis;
  stopped: boolean;
  loop: Promise<void>;
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
  readonly #keys: ChannelKeys;
  readonly #pending = new Map<string, Pending>();
  readonly #runs = new Map<string, RunChannel>();
  #queue: Queue | undefined;
  #events: QueueEvents | undefined;
  #client: { client: Redis; owned: boolean } | undefined;
  #closed = false;
  #blmpop = true;

  constructor(options: BullmqExecutorOptions = {}) {
    assertKnownKeys("bullmqExecutor", options, optionKeys<BullmqExecutorOptions>({ connection: true, queue: true, prefix: true }));
    this.#connection = options.connection ?? "redis://127.0.0.1:6379";
    this.#queueName = options.queue ?? "taskloom";
    this.#prefix = options.prefix ?? "taskloom";
    this.#keys = channelKeys(this.#prefix, this.#queueName);
  }

  /** The BullMQ queue the jobs go to (opened on first use). */
  get queue(): Queue {
    this.#queue ??= new Queue(this.#queueName, { connection: bullmqConnection(this.#connection), prefix: this.#prefix });
    return this.#queue;
  }

  get #redis(): Redis {
    this.#client ??= openClient(this.#connection);
    return this.#client.client;
  }

  execute(activation: NodeActivation, context: NodeContext): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error("taskloom: this bullmqExecutor was closed; create a new one"));
    const jobId = jobIdOf(activation.runId, activation.activationId, activation.attempt);
    this.#listen(activation.runId);
    this.#watchFailures();
    return new Promise((resolve, reject) => {
      const pending: Pending = { jobId, runId: activation.runId, context, resolve, reject, calls: new Map(), settled: false };
      this.#pending.set(jobId, pending);
      const signal = context.signal;
      if (signal.aborted) {
        this.#cancel(pending, signal.reason);
        return;
      }
      signal.addEventListener("abort", () => this.#cancel(pending, signal.reason), { once: true });
      this.#submit(pending, activation).catch((error: unknown) => this.#fail(pending, error));
    });
  }

  async #submit(pending: Pending, activation: NodeActivation): Promise<void> {
    // A result stored while no coordinator listened (failover) settles the attempt without a new job.
    // The same attempt number comes again when a stopped run resumes: a cancel left for its earlier job must not stop this one.
    const keys = [this.#keys.results(pending.runId), this.#keys.cancelled(pending.jobId)];
    const stored = await runScript(this.#redis, "taskloomBeforeAdd", BEFORE_ADD, keys, [pending.jobId]);
    if (typeof stored === "string") {
      this.#settle(pending, decode<ResultEnvelope>(stored));
      return;
    }
    if (pending.settled) return;
    await this.queue.add(activation.graphName, encodeActivation(activation), {
      jobId: pending.jobId,
      attempts: 1,
      removeOnComplete: true,
      removeOnFail: true,
    });
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

  /** The scheduler aborted the attempt: drop the job if it has not started, else abort its body in the worker. */
  #cancel(pending: Pending, reason: unknown): void {
    this.#fail(pending, reason);
    const message = reason instanceof Error ? reason.message : String(reason);
    const jobId = pending.jobId;
    void this.#redis
      .multi()
      .set(this.#keys.cancelled(jobId), message, "PX", SIDE_CHANNEL_TTL_MS)
      .publish(this.#keys.cancel, JSON.stringify({ jobId, reason: message }))
      .exec()
      .catch(() => undefined);
    void this.queue.remove(jobId).catch(() => undefined);
  }

  /** Starts popping the run's `up` list, once per run. */
  #listen(runId: string): void {
    if (this.#runs.has(runId)) return;
    const { client } = openClient(this.#connection, true);
    client.on("error", () => undefined);
    const channel: RunChannel = { client, stopped: false, loop: Promise.resolve() };
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
          const popped = (await client.call("BLMPOP", "5", "1", key, "LEFT", "COUNT", "1000")) as [string, string[]] | null;
          if (popped === null) continue;
          batch = popped[1];
        } else {
          const first = await client.blpop(key, 5);
          if (first === null) continue;
          batch = [first[1], ...((await client.lpop(key, 1000)) ?? [])];
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

  /** Jobs that fail outside their body (a worker stalled more than allowed) settle through BullMQ's events. */
  #watchFailures(): void {
    if (this.#events) return;
    this.#events = new QueueEvents(this.#queueName, { connection: bullmqConnection(this.#connection), prefix: this.#prefix });
    this.#events.on("failed", ({ jobId, failedReason }) => {
      const pending = this.#pending.get(jobId);
      if (!pending) return;
      // A failure the worker reported itself is in the results hash, with the full error.
      this.#redis.hget(this.#keys.results(pending.runId), jobId).then(
        (stored) => {
          if (stored !== null) this.#settle(pending, decode<ResultEnvelope>(stored));
          else this.#fail(pending, new WorkerJobFailedError(jobId, failedReason));
        },
        (error: unknown) => this.#fail(pending, error),
      );
    });
    this.#events.on("error", () => undefined);
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
        this.#call(pending, message.callId, (call) =>
          pending.context.step(message.name, () => {
            const value = new Promise<unknown>((resolve, reject) => (call.provide = { resolve, reject }));
            this.#reply(pending, call, message.callId, { ok: "run" });
            return value;
          }),
        );
        return;
      case "step-value": {
        const callId = message.callId.slice(0, -1);
        const call = pending.calls.get(callId);
        const sent = call?.replies.get(message.callId);
        if (sent) this.#push(pending.jobId, message.callId, sent);
        else if (call?.provide) {
          const provide = call.provide;
          call.provide = undefined;
          if (message.result.ok) provide.resolve(message.result.value);
          else provide.reject(envelopeError(message.result.error));
        }
        return;
      }
      case "wait":
        this.#call(pending, message.callId, () =>
          pending.context.waitFor(message.key, message.timeoutMs !== undefined ? { timeoutMs: message.timeoutMs } : undefined),
        );
        return;
    }
  }

  /**
   * Answers a call once, whatever how often the worker sends it: a repeated
   * request gets the reply already sent (or none yet, and waits for it).
   * A step whose function ran in the worker gets its final answer under
   * `<callId>v`, the id of the worker's second message.
   */
  #call(pending: Pending, callId: string, run: (call: Call) => Promise<unknown>): void {
    const existing = pending.calls.get(callId);
    if (existing) {
      const sent = existing.replies.get(callId);
      if (sent) this.#push(pending.jobId, callId, sent);
      return;
    }
    const call: Call = { replies: new Map() };
    pending.calls.set(callId, call);
    run(call).then(
      (value) => this.#reply(pending, call, call.replies.has(callId) ? `${callId}v` : callId, { ok: true, value }),
      (error: unknown) => this.#reply(pending, call, call.replies.has(callId) ? `${callId}v` : callId, errorEnvelope(error)),
    );
  }

  #reply(pending: Pending, call: Call, callId: string, reply: Reply): void {
    call.replies.set(callId, reply);
    this.#push(pending.jobId, callId, reply);
  }

  #push(jobId: string, callId: string, reply: Reply): void {
    const key = this.#keys.reply(jobId, callId);
    void this.#redis.multi().rpush(key, encode(reply)).pexpire(key, SIDE_CHANNEL_TTL_MS).exec().catch(() => undefined);
  }

  /**
   * The run stopped (finished, failed, cancelled or waiting): its jobs
   * still out are cancelled, its listener stops, and its side channels are
   * deleted (every result they held is in the run's journal by now). When
   * another coordinator took the run over (`leaseLost`), only the listener
   * stops: the jobs and results are the new coordinator's.
   */
  async runStopped(runId: string, stop: { readonly leaseLost: boolean } = { leaseLost: false }): Promise<void> {
    for (const pending of [...this.#pending.values()]) {
      if (pending.runId !== runId) continue;
      if (stop.leaseLost) this.#fail(pending, new RunCancelledError(runId, "another coordinator took the run over"));
      else this.#cancel(pending, new RunCancelledError(runId, "the run stopped"));
    }
    const channel = this.#runs.get(runId);
    if (channel) {
      channel.stopped = true;
      this.#runs.delete(runId);
      channel.client.disconnect();
      await channel.loop;
    }
    if (!stop.leaseLost) await this.#redis.del(this.#keys.results(runId), this.#keys.up(runId));
  }

  /** Closes the executor's connections (runs still using it fail). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const runId of [...this.#runs.keys()]) {
      const channel = this.#runs.get(runId);
      if (!channel) continue;
      channel.stopped = true;
      this.#runs.delete(runId);
      channel.client.disconnect();
      await channel.loop;
    }
    await this.#events?.close();
    await this.#queue?.close();
    const client = this.#client;
    this.#client = undefined;
    if (client?.owned) await closeClient(client.client);
  }
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
