/**
 * `taskloom/bullmq`: runs taskloom graphs beyond one machine. BullMQ on
 * Redis carries node bodies to worker processes on any number of hosts
 * ({@link bullmqExecutor}, {@link createWorker}), and {@link RedisStore}
 * keeps run state in Redis so any coordinator can resume any run.
 * `bullmq` and `ioredis` are optional peer dependencies: install them to
 * use this entry (`npm install bullmq ioredis`).
 *
 * @example
 * ```ts
 * import { runAsync } from "taskloom";
 * import { bullmqExecutor, createWorker, RedisStore } from "taskloom/bullmq";
 *
 * const connection = "redis://127.0.0.1:6379";
 * // in each worker process:
 * createWorker({ connection, queue: "etl", graphs: [etl], concurrency: 16 });
 * // in the coordinator:
 * const out = await runAsync(etl, inputs, {
 *   runId: "etl-1",
 *   store: new RedisStore({ connection }),
 *   executor: bullmqExecutor({ connection, queue: "etl" }),
 *   maxConcurrency: 64,
 * });
 * ```
 *
 * @module taskloom/bullmq
 */
export { RedisStore, type RedisStoreOptions } from "./redis-store.js";
export { BullmqMissingError, ExecutorClosedError, WorkerGraphMissingError, WorkerJobFailedError, WorkerJobLeftError } from "../worker-errors.js";
export { BullmqExecutor, bullmqExecutor, type BullmqExecutorOptions } from "./executor.js";
export { createWorker, type CreateWorkerOptions, type GraphRegistry, type TaskloomWorker } from "./worker.js";
export { jobHandlerProcessor } from "./job-handler-processor.js";
export { jobIdOf, type JobPayload, type ActivationValues } from "./job-payload.js";
export type { RedisConnection } from "./connection.js";
