/**
 * `jobHandlerProcessor`: a JSON-in / JSON-out job handler as a BullMQ
 * processor, for queue-fed agent stages (`StageRunner.toJobHandlers()`).
 *
 * @module
 */
import type { Job } from "bullmq";

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
