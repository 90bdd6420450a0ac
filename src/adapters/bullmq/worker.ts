/**
 * `createWorker`: a process (or part of one) that runs node bodies sent by
 * `bullmqExecutor` coordinators. It looks a node's function up by graph
 * name and node id in its registry (the graphs it was given), checks that
 * its graph is the version the coordinator runs (same fingerprint), runs
 * the body with a remote context (`remote-context.ts`), and reports the result through
 * Redis (the run's results hash and `up` list) before BullMQ marks the job
 * completed.
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
 * running the body again; a body that runs again gets the journaled
 * results of the steps and waits that returned in the dead worker (each
 * run of a job has call ids of its own: `remote-context.ts`).
 *
 * @module
 */
import { UnrecoverableError, Worker, type Job, type Processor } from "bullmq";
import type { Redis } from "ioredis";
import { WorkerGraphMissingError } from "../worker-errors.js";
import { RunCancelledError } from "../../engine/errors.js";
import { assertKnownKeys, optionKeys } from "../../core/known-keys.js";
import type { NodeDefinition } from "../../graph/definition.js";
import type { TaskGraph } from "../../graph/task-graph.js";
import type { NodeActivation } from "../../engine/node-executor.js";
import { SIDE_CHANNEL_TTL_MS } from "./executor.js";
import { bullmqConnection, closeClient, openClient, runScript, type RedisConnection } from "./connection.js";
import { channelKeys, decodeActivation, encode, errorEnvelope, okEnvelope, type ChannelKeys, type ResultEnvelope } from "./job-payload.js";
import { RemoteContext } from "./remote-context.js";

/**
 * The graphs a worker can run: a list (each by its name) or an object by name.
 *
 * @example
 * ```ts
 * const graphs: GraphRegistry = [etl, report];
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- TaskGraph is invariant in its input and output types: only `any` admits every typed graph
export type GraphRegistry = readonly TaskGraph<any, any>[] | Readonly<Record<string, TaskGraph<any, any>>>;

/** One graph of a {@link GraphRegistry}. */
type RegisteredGraph = Extract<GraphRegistry, readonly unknown[]>[number];

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
  /** Stops taking jobs, waits for the running ones (unless `force`), and closes the connections. */
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
  assertKnownKeys("createWorker", options, WORKER_OPTION_KEYS);
  const connection = options.connection ?? "redis://127.0.0.1:6379";
  const prefix = options.prefix ?? "taskloom";
  const queue = options.queue ?? "taskloom";
  const keys = channelKeys(prefix, queue);
  const graphs = registryOf(options.graphs);
  const { client, owned } = openClient(connection);
  // Named, so `CLIENT LIST` tells what it is.
  const subscriber = openClient(connection, true, `taskloom:cancels:${prefix}:${queue}`).client;
  subscriber.on("error", () => undefined);
  const active = new Map<string, { readonly controller: AbortController; readonly runId: string }>();
  const subscribed = subscriber.subscribe(keys.cancel).then(() => undefined);
  subscriber.on("message", (_channel: string, text: string) => {
    try {
      const { jobId, reason } = JSON.parse(text) as { jobId: string; reason: string };
      const job = active.get(jobId);
      job?.controller.abort(new RunCancelledError(job.runId, reason));
    } catch {
      // not one of ours
    }
  });
  // Pub/sub keeps nothing: a cancel published while the subscriber was reconnecting never comes. Once subscribed
  // again, the marker each cancel leaves (`cancelled`, kept a day) tells which running jobs were cancelled meanwhile.
  let connections = 0;
  subscriber.on("ready", () => {
    if (++connections > 1)
      void subscribedAgain(subscriber, keys.cancel).then(
        () => abortCancelled(client, keys, active),
        () => undefined,
      );
  });

  const processor: Processor = async (job) => {
    const jobId = job.id ?? "";
    let activation: NodeActivation;
    try {
      activation = decodeActivation(job.data);
    } catch (error) {
      throw new UnrecoverableError((error as Error).message);
    }
    const [stored, cancelled] = await firstLook(client, keys, activation.runId, jobId);
    if (stored !== null) return stored; // it ran before this worker's predecessor died: never twice
    const node = resolveNode(graphs, activation);
    if (node instanceof WorkerGraphMissingError) {
      const failed = errorEnvelope(node);
      await report(client, keys, activation.runId, jobId, failed, encode(failed));
      throw new UnrecoverableError(node.message);
    }
    if (cancelled !== null) throw new UnrecoverableError(`cancelled by the coordinator before it started: ${cancelled}`);
    const controller = new AbortController();
    active.set(jobId, { controller, runId: activation.runId });
    let result: ResultEnvelope;
    try {
      const context = new RemoteContext(activation, jobId, controller.signal, client, keys);
      const value = await untilAborted(
        Promise.resolve().then(() => node.fn(context)),
        controller.signal,
      );
      result = okEnvelope(value, `node "${activation.activationId}"`);
    } catch (error) {
      if (controller.signal.aborted) {
        throw new UnrecoverableError(`cancelled by the coordinator: ${(controller.signal.reason as Error)?.message ?? ""}`);
      }
      result = errorEnvelope(error);
    } finally {
      active.delete(jobId);
    }
    const text = encode(result);
    await report(client, keys, activation.runId, jobId, result, text);
    return text;
  };

  const worker = new Worker(queue, processor, {
    connection: bullmqConnection(connection),
    prefix,
    concurrency: options.concurrency ?? 8,
    ...(options.lockDurationMs !== undefined && { lockDuration: options.lockDurationMs }),
    ...(options.stalledIntervalMs !== undefined && { stalledInterval: options.stalledIntervalMs }),
    ...(options.maxStalledCount !== undefined && { maxStalledCount: options.maxStalledCount }),
  });
  worker.on("error", () => undefined);

  return {
    worker,
    async waitUntilReady() {
      await subscribed;
      await worker.waitUntilReady();
    },
    async close(force = false) {
      await worker.close(force);
      subscriber.disconnect();
      if (owned) await closeClient(client);
    },
  };
}

/** Resolves once `channel` is subscribed to again after a reconnection (after ioredis's own resubscription, sent first on the same connection). */
async function subscribedAgain(subscriber: Redis, channel: string): Promise<void> {
  await subscriber.subscribe(channel);
}

/** Aborts each running job of `active` whose cancel marker is set (a cancel published while the subscriber was away). */
async function abortCancelled(
  client: Redis,
  keys: ChannelKeys,
  active: ReadonlyMap<string, { readonly controller: AbortController; readonly runId: string }>,
): Promise<void> {
  const running = [...active];
  if (running.length === 0) return;
  const markers = await client.mget(running.map(([jobId]) => keys.cancelled(jobId)));
  running.forEach(([jobId, job], i) => {
    const reason = markers[i];
    if (typeof reason === "string" && active.get(jobId) === job) job.controller.abort(new RunCancelledError(job.runId, reason));
  });
}

/** In one round trip: the job's stored result (it ran before), and the coordinator's cancel, if any. */
async function firstLook(client: Redis, keys: ChannelKeys, runId: string, jobId: string): Promise<[string | null, string | null]> {
  const reply = (await runScript(client, "taskloomFirstLook", FIRST_LOOK, [keys.results(runId), keys.cancelled(jobId)], [jobId])) as unknown[];
  const text = (v: unknown): string | null => (typeof v === "string" ? v : null);
  return [text(reply[0]), text(reply[1])];
}

// KEYS: results, cancelled. ARGV: jobId.
const FIRST_LOOK = `return {redis.call('HGET', KEYS[1], ARGV[1]), redis.call('GET', KEYS[2])}`;

// KEYS: results, up. ARGV: jobId, result, done message, ttl ms.
const REPORT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
`;

/** Stores a job's result (`text`: `result` encoded) and tells the run's coordinator, in one transaction. */
async function report(client: Redis, keys: ChannelKeys, runId: string, jobId: string, result: ResultEnvelope, text: string): Promise<void> {
  await runScript(
    client,
    "taskloomReport",
    REPORT,
    [keys.results(runId), keys.up(runId)],
    [jobId, text, encode({ t: "done", jobId, result }), SIDE_CHANNEL_TTL_MS],
  );
}

function registryOf(graphs: GraphRegistry): Map<string, RegisteredGraph> {
  const list: readonly RegisteredGraph[] = Array.isArray(graphs) ? graphs : Object.values(graphs);
  return new Map(list.map((g) => [g.name, g]));
}

/** The node definition to run, or the error saying why this worker cannot. */
function resolveNode(graphs: Map<string, RegisteredGraph>, a: NodeActivation): NodeDefinition | WorkerGraphMissingError {
  const graph = graphs.get(a.graphName);
  if (!graph) {
    const known = [...graphs.keys()].map((n) => `"${n}"`).join(", ") || "none";
    return new WorkerGraphMissingError(a.graphName, a.nodeId, `its registry has no graph "${a.graphName}" (it has ${known})`);
  }
  if (graph.fingerprint !== a.fingerprint) {
    return new WorkerGraphMissingError(
      a.graphName,
      a.nodeId,
      `it has another version of graph "${a.graphName}" (fingerprint ${graph.fingerprint}; the coordinator runs ${a.fingerprint})`,
    );
  }
  const node = graph.node(a.nodeId);
  if (!node) return new WorkerGraphMissingError(a.graphName, a.nodeId, `graph "${a.graphName}" has no node "${a.nodeId}"`);
  return node;
}

/** Settles with `work`, or rejects as soon as `signal` aborts (a body that ignores its signal cannot hold the worker). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Turns a JSON-in / JSON-out job handler (such as each stage of
 * `StageRunner.toJobHandlers()`) into a BullMQ processor: the job's data
 * (a JSON string, or any JSON value, which is stringified) goes in, the
 * handler's JSON string is the job's return value.
 *
 * @example
 * ```ts
 * const handlers = runner.toJobHandlers();
 * new Worker("triage", jobHandlerProcessor(handlers.triage), { connection });
 * await queue.add("triage", JSON.stringify({ taskId: "t1", data }));
 * ```
 */
export function jobHandlerProcessor(handler: (json: string) => Promise<string>): (job: Job) => Promise<string> {
  return async (job) => handler(typeof job.data === "string" ? job.data : JSON.stringify(job.data));
}
