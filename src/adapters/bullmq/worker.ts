/**
 * `createWorker`: a process (or part of one) that runs node bodies sent by
 * `bullmqExecutor` coordinators. It looks a node's function up by graph
 * name and node id in its registry (the graphs it was given), checks that
 * its graph is the version the coordinator runs (same fingerprint), runs
 * the body with a remote context (`remote-context.ts`), and reports the result through
 * Redis (the run's results hash and `up` list) before BullMQ marks the job
 * completed.
 *
 * A job cancelled because its attempt timed out (the cancel carries a
 * `graceMs`) is kept while its body goes on, for `graceMs` at most (as
 * long again as the time limit), so the worker runs no more bodies than
 * its `concurrency` and the coordinator starts the node's next attempt
 * after it; other cancels end the job as soon as the signal aborts.
 *
 * A body that throws completes its job with an error result: the attempt
 * failed, and the coordinator's retry policy decides what comes next (a
 * job is never retried by BullMQ). A job the worker cannot run at all (a
 * graph or node missing from its registry, data that is not a taskloom
 * job) reports the error to the coordinator and fails in BullMQ with the
 * same message.
 *
 * A worker that dies mid-job leaves the job active with a lock that is no
 * longer renewed; BullMQ's stalled-job check moves it back to the wait
 * list (up to `maxStalledCount` times) and another worker runs it. It is
 * the same job, hence the same attempt for the coordinator. A job whose
 * result was stored before its worker died returns that result without
 * running the body again (also once the run took it and stopped, which
 * deletes the run's results hash: the job's own hash says it reported);
 * a body that runs again gets the journaled
 * results of the steps and waits that returned in the dead worker (each
 * run of a job has call ids of its own: `remote-context.ts`).
 *
 * Two runs of one job can overlap: a worker that could not renew the
 * job's lock in time (its event loop blocked) while BullMQ gave the job
 * to another. The first result reported is the job's result (a later
 * report stores nothing and tells no coordinator), and a worker told that
 * its lock renewal failed aborts its body's signal.
 *
 * `close(true)` leaves its running jobs as a worker that died would: it
 * aborts each body's signal (a `WorkerJobLeftError` that says so), reports
 * nothing, and ends no job in BullMQ (the processor throws BullMQ's
 * `WaitingError`, which a closing worker's `handleFailed` passes over,
 * where any other error would be `moveToFailed`: the node failed for
 * good). The job stays active until its lock expires; then the stalled
 * check hands it to another worker.
 *
 * Apart from this file: the registry and the lookup of a job's node
 * (`worker-graphs.ts`), the first look and the report in Redis
 * (`job-reports.ts`), the running jobs and how a cancel reaches them
 * (`running-jobs.ts`), and the stage handlers' processor
 * (`job-handler-processor.ts`); what is left is one worker's lifetime (its
 * options, connections, cancel subscriber, and the processor of one job).
 *
 * @module
 */
import { UnrecoverableError, WaitingError, Worker, type Processor } from "bullmq";
import { WorkerGraphMissingError, WorkerJobLeftError } from "../worker-errors.js";
import { InvalidOptionError } from "../../errors.js";
import { assertKnownKeys, optionKeys } from "../../core/known-keys.js";
import type { NodeActivation } from "../../engine/node-executor.js";
import { assertConnection, bullmqConnection, closeClient, openClient, untilHalted, type RedisConnection } from "./connection.js";
import { channelKeys, decodeActivation, describeValue, encode, errorEnvelope, nameOption, okEnvelope, type ResultEnvelope } from "./job-payload.js";
import { RemoteContext } from "./remote-context.js";
import { firstLook, report } from "./job-reports.js";
import { registryOf, resolveNode, type GraphRegistry } from "./worker-graphs.js";
import { abortCancelled, applyCancel, runningJob, settledWithin, type RunningJob } from "./running-jobs.js";

export type { GraphRegistry } from "./worker-graphs.js";

/**
 * Options of {@link createWorker}.
 *
 * @example
 * ```ts
 * const options: CreateWorkerOptions = { connection: "redis://127.0.0.1:6379", queue: "etl", graphs: [etl], concurrency: 16 };
 * ```
 */
export interface CreateWorkerOptions {
  /** Where Redis is. @default "redis://127.0.0.1:6379" */
  readonly connection?: RedisConnection;
  /** The BullMQ queue (the coordinators' `queue`). @default "taskloom" */
  readonly queue?: string;
  /** Key prefix (the coordinators' `prefix`). @default "taskloom" */
  readonly prefix?: string;
  /** The graphs whose nodes this worker runs. */
  readonly graphs: GraphRegistry;
  /** At most this many bodies at once in this worker. @default 8 */
  readonly concurrency?: number;
  /** How long a job's lock lasts without renewal (ms): a dead worker's job is re-queued after about this. @default 30_000 */
  readonly lockDurationMs?: number;
  /** How often stalled jobs are looked for (ms). @default 30_000 */
  readonly stalledIntervalMs?: number;
  /** How many times a job may stall (its worker died) before it fails. @default 1 */
  readonly maxStalledCount?: number;
}

const WORKER_OPTION_KEYS = optionKeys<CreateWorkerOptions>({
  connection: true,
  queue: true,
  prefix: true,
  graphs: true,
  concurrency: true,
  lockDurationMs: true,
  stalledIntervalMs: true,
  maxStalledCount: true,
});

/**
 * A running worker.
 *
 * @example
 * ```ts
 * const worker = createWorker({ graphs: [etl] });
 * process.on("SIGTERM", () => void worker.close());
 * ```
 */
export interface TaskloomWorker {
  /** The BullMQ worker (for its events: `completed`, `failed`, `error`…). */
  readonly worker: Worker;
  /** Resolves once the worker is connected and takes jobs. */
  waitUntilReady(): Promise<void>;
  /**
   * Stops taking jobs, then closes the connections.
   *
   * Without `force`, it waits for the running bodies and reports their results first. With `force`, it aborts each
   * running body's `signal` with a `WorkerJobLeftError` that says the worker was closed with force, reports
   * nothing and does not wait: each job is left active in BullMQ, neither completed nor failed, and once its lock
   * expires (`lockDurationMs`) the stalled check gives it to another worker, as for a worker that died (which counts
   * towards `maxStalledCount`). What the aborted body does after that counts for nothing: its `ctx.emit` sends
   * nothing, its `ctx.step` and `ctx.waitFor` reject with the abort's reason, and its return value is dropped.
   *
   * `close(true)` while a `close()` waits aborts the bodies it waits for, and both resolve once the worker is
   * closed; a second call of either kind resolves with the first.
   *
   * @example
   * ```ts
   * process.on("SIGTERM", () => {
   *   setTimeout(() => void worker.close(true), 20_000).unref(); // bodies still running then run elsewhere
   *   void worker.close();
   * });
   * ```
   */
  close(force?: boolean): Promise<void>;
}

/**
 * Starts a worker that runs node bodies for `bullmqExecutor` coordinators.
 *
 * @example
 * ```ts
 * import { createWorker } from "taskloom/bullmq";
 * import { etl } from "./graphs.js";
 * createWorker({ connection: "redis://127.0.0.1:6379", queue: "etl", graphs: [etl], concurrency: 16 });
 * ```
 */
export function createWorker(options: CreateWorkerOptions): TaskloomWorker {
  // Every option is checked before any connection opens: a refused option leaves nothing open behind it.
  assertKnownKeys("createWorker", options, WORKER_OPTION_KEYS);
  const connection = options.connection === undefined ? "redis://127.0.0.1:6379" : options.connection;
  assertConnection(connection);
  const prefix = nameOption("prefix", options.prefix);
  const queue = nameOption("queue", options.queue);
  const concurrency = countOption("concurrency", options.concurrency, 1) ?? 8;
  const lockDuration = countOption("lockDurationMs", options.lockDurationMs, 1);
  const stalledInterval = countOption("stalledIntervalMs", options.stalledIntervalMs, 1);
  const maxStalledCount = countOption("maxStalledCount", options.maxStalledCount, 0);
  const keys = channelKeys(prefix, queue);
  const graphs = registryOf(options.graphs);
  const { client, owned } = openClient(connection);
  // Named, so `CLIENT LIST` tells what it is.
  const subscriber = openClient(connection, true, `taskloom:cancels:${prefix}:${queue}`).client;
  subscriber.on("error", () => undefined);
  const active = new Map<string, RunningJob>();
  const subscribed = subscriber.subscribe(keys.cancel).then(() => undefined);
  // Rejected when the worker closes before it subscribed: `waitUntilReady` says so, nothing else must.
  subscribed.catch(() => undefined);
  subscriber.on("message", (_channel: string, text: string) => applyCancel(active, text));
  // Pub/sub keeps nothing: a cancel published while the subscriber was reconnecting never comes. Once subscribed
  // again, the marker each cancel leaves (`cancelled`, kept a day) tells which running jobs were cancelled meanwhile.
  // A look that fails (Redis answered an error, the client gave up its retries) is made again a few times: it must
  // neither reject unhandled (which ends the process) nor leave a cancelled body running for want of one try.
  let connections = 0;
  let closing = false;
  /** close(true) was called: every job running then, or taken after, is left to another worker. */
  let forced = false;
  /** Aborts a running body for close(true): nothing it does from now on counts, and its job is left as it is in BullMQ. */
  const leave = (jobId: string, job: RunningJob): void => {
    job.stopWaiting.abort(); // a cancelled body whose job was kept for it: the job ends now
    if (job.controller.signal.aborted) return; // cancelled, or its lock lost, already: that path ends it
    job.left = true;
    job.controller.abort(
      new WorkerJobLeftError(
        jobId,
        job.runId,
        `it was closed with force (close(true)); the job is neither reported nor failed, and BullMQ gives it to another worker once its lock expires (lockDurationMs, ${lockDuration ?? 30_000} ms)`,
      ),
    );
  };
  let closed: Promise<void> | undefined;
  const lookAtMarkers = async (): Promise<void> => {
    // Resolves after ioredis's own resubscription, sent first on the same connection.
    await subscriber.subscribe(keys.cancel);
    for (let tries = 1; ; tries++) {
      try {
        await abortCancelled(client, keys, active);
        return;
      } catch (error) {
        if (closing || tries >= MARKER_LOOKS) throw error;
        await new Promise((resolve) => setTimeout(resolve, MARKER_LOOK_PAUSE_MS).unref());
      }
    }
  };
  subscriber.on("ready", () => {
    if (++connections > 1) lookAtMarkers().catch(() => undefined);
  });

  const processor: Processor = async (job) => {
    const jobId = job.id ?? "";
    let activation: NodeActivation;
    try {
      activation = decodeActivation(job.data);
    } catch (error) {
      throw new UnrecoverableError((error as Error).message);
    }
    // Listening for this job's cancel from before the first look: a cancel published while the look is on its way
    // (its marker set after the look read none) still reaches the job, and aborts it before its body starts.
    const where = { runId: activation.runId, jobId, jobKey: worker.toKey(jobId) };
    const entry = runningJob(activation.runId);
    const { controller } = entry;
    active.set(jobId, entry);
    // BullMQ fetched this job while close(true) ran (it processes what it fetched): it runs elsewhere too.
    if (forced) leave(jobId, entry);
    const done = (): void => {
      if (active.get(jobId) === entry) active.delete(jobId);
    };
    let result: ResultEnvelope;
    let body: Promise<unknown> | undefined;
    try {
      const [stored, cancelled, reported] = await firstLook(client, keys, activation.runId, jobId, where.jobKey);
      if (stored !== null) return stored; // it ran before this worker's predecessor died: never twice
      // It ran and reported before, and the run took the result and stopped since (its results hash is gone).
      if (reported) return "";
      const node = resolveNode(graphs, activation);
      if (node instanceof WorkerGraphMissingError) {
        const failed = errorEnvelope(node);
        await report(client, keys, where, failed, encode(failed));
        throw new UnrecoverableError(node.message);
      }
      if (cancelled !== null) throw new UnrecoverableError(`cancelled by the coordinator before it started: ${cancelled}`);
      if (entry.lockLost || entry.left) throw controller.signal.reason as Error;
      if (controller.signal.aborted) {
        throw new UnrecoverableError(`cancelled by the coordinator before it started: ${(controller.signal.reason as Error)?.message ?? ""}`);
      }
      try {
        const context = new RemoteContext(activation, jobId, controller.signal, client, keys);
        body = Promise.resolve().then(() => node.fn(context));
        const value = await untilHalted(body, controller.signal);
        result = okEnvelope(value, `node "${activation.activationId}"`);
      } catch (error) {
        // Lock lost: BullMQ refuses to end the job for this worker, and the run that holds it (or will) reports.
        if (entry.lockLost) throw controller.signal.reason as Error;
        if (controller.signal.aborted) {
          // A timed-out attempt's body that goes on keeps its job, and so its place in `concurrency`, until it ends
          // (as in one process: engine/lingering-bodies.ts), for its grace at most; the coordinator starts the node's
          // next attempt once the job has ended.
          if (body !== undefined && entry.graceMs > 0) await settledWithin(body, entry.graceMs, entry.stopWaiting.signal);
          if (entry.lockLost) throw controller.signal.reason as Error;
          throw new UnrecoverableError(`cancelled by the coordinator: ${(controller.signal.reason as Error)?.message ?? ""}`);
        }
        result = errorEnvelope(error);
      }
    } catch (error) {
      // close(true) left the job to another worker: whatever ended this run of it, BullMQ must not end the job. A
      // closing worker passes over a WaitingError ("the processor moved the job itself") and would move the job to
      // failed for any other error.
      if (entry.left) throw new WaitingError((controller.signal.reason as Error).message);
      throw error;
    } finally {
      done();
    }
    const text = encode(result);
    return (await report(client, keys, where, result, text)) ?? text;
  };

  let worker: Worker;
  try {
    worker = new Worker(queue, processor, {
      connection: bullmqConnection(connection),
      prefix,
      concurrency,
      ...(lockDuration !== undefined && { lockDuration }),
      ...(stalledInterval !== undefined && { stalledInterval }),
      ...(maxStalledCount !== undefined && { maxStalledCount }),
    });
  } catch (error) {
    // BullMQ refused its options (ioredis options it does not take): the connections opened above must not keep the process alive.
    subscriber.disconnect();
    if (owned) client.disconnect();
    throw error;
  }
  worker.on("error", () => undefined);
  // This worker could not renew a job's lock (its event loop was blocked past lockDurationMs, say): BullMQ hands the
  // job to another worker, whose run of the body is the one that counts from then on. This one's body is told to stop.
  worker.on("lockRenewalFailed", (jobIds: string[]) => {
    for (const jobId of jobIds) {
      const job = active.get(jobId);
      if (job === undefined) continue;
      if (job.controller.signal.aborted) {
        // A cancelled body this worker kept its job for: the job is another worker's now, so it is not kept longer.
        if (!job.stopWaiting.signal.aborted) {
          job.lockLost = true;
          job.stopWaiting.abort();
        }
        continue;
      }
      job.lockLost = true;
      job.controller.abort(
        new WorkerJobLeftError(
          jobId,
          job.runId,
          `it lost the job's lock (it could not renew it within lockDurationMs, ${lockDuration ?? 30_000} ms), and BullMQ gives the job to another worker`,
        ),
      );
    }
  });

  return {
    worker,
    async waitUntilReady() {
      await subscribed;
      await worker.waitUntilReady();
    },
    async close(force = false) {
      closing = true;
      // BullMQ's close sets its `closing` at once (its processJob then fetches no next job, and a processor's
      // WaitingError ends nothing), and a second call returns the first one's promise: after close(), close(true) does
      // not stop BullMQ's wait for the running jobs; the aborts below end them.
      const workerClosed = worker.close(force);
      if (force) {
        forced = true;
        for (const [jobId, job] of active) leave(jobId, job);
      }
      closed ??= workerClosed.then(async () => {
        subscriber.disconnect();
        if (owned) await closeClient(client);
      });
      await closed;
    },
  };
}

/** How many times a worker whose subscriber reconnected tries to read the cancel markers of its running jobs. */
const MARKER_LOOKS = 5;
/** The pause between two such tries (ms). */
const MARKER_LOOK_PAUSE_MS = 1_000;

/** An integer option at least `min`, or undefined when not given. */
function countOption(option: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidOptionError(option, `must be a whole number of at least ${min} (got ${describeValue(value)})`);
  }
  return value;
}
