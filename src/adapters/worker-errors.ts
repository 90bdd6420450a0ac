/**
 * Errors of executors that send node attempts to worker processes (today
 * the BullMQ adapter): a worker without the graph a job names, and a job
 * that failed in its worker outside the node's body. Exported from
 * `taskloom/bullmq` and, as before, from `taskloom`. This module sits
 * beside the adapters, not inside one, and imports nothing but the error
 * base, so the main entry can export these classes without reaching an
 * adapter or an optional peer (bullmq, ioredis).
 *
 * @module
 */
import { TaskloomError } from "../errors.js";

/**
 * A worker was sent a node of a graph it does not have in its registry
 * (or has another version of). The job fails; the scheduler's retry
 * policy decides whether another attempt runs (maybe on another worker).
 *
 * @example
 * ```ts
 * createWorker({ connection, queue: "taskloom", graphs: [etl, report] }); // every graph the coordinators run
 * ```
 */
export class WorkerGraphMissingError extends TaskloomError {
  /** The graph's name. */
  readonly graphName: string;
  /** The node asked for. */
  readonly nodeId: string;

  constructor(graphName: string, nodeId: string, problem: string) {
    super(
      "WORKER_GRAPH_MISSING",
      `this worker cannot run node "${nodeId}" of graph "${graphName}": ${problem}. ` +
        `Pass the graph to the worker's \`graphs\` (the same version the coordinator runs) and restart the worker.`,
    );
    this.graphName = graphName;
    this.nodeId = nodeId;
  }
}

/**
 * The reason a worker aborts a body's `ctx.signal` with when the job goes
 * on in another worker: this worker lost the job's lock (it could not
 * renew it within `lockDurationMs`) or was closed with force
 * (`close(true)`). Nothing the body does from then on counts: its result
 * is not reported, and the other worker's run of the body is the one the
 * run takes. A body only sees it as its signal's reason; it is never a
 * run's or a node's error.
 *
 * @example
 * ```ts
 * if (ctx.signal.reason instanceof WorkerJobLeftError) return; // another worker runs this job now
 * ```
 */
export class WorkerJobLeftError extends TaskloomError {
  /** The BullMQ job id. */
  readonly jobId: string;
  /** The run the job belongs to. */
  readonly runId: string;

  constructor(jobId: string, runId: string, why: string) {
    super(
      "WORKER_JOB_LEFT",
      `this worker stopped running job "${jobId}" of run "${runId}": ${why}. ` +
        `Another worker runs the job, and its run of the body is the one that counts; stop the work this body started.`,
    );
    this.jobId = jobId;
    this.runId = runId;
  }
}

/**
 * A node attempt was made with, or left waiting in, an executor that was
 * closed (`bullmqExecutor(...).close()`): the attempt fails with it, and
 * its job stays in the queue. Resume the run with a new executor; it
 * attaches to the jobs left there.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof NodeFailedError && e.cause instanceof ExecutorClosedError) await runAsync(g, inputs, { runId, executor: bullmqExecutor(options) }) }
 * ```
 */
export class ExecutorClosedError extends TaskloomError {
  constructor(executor: string) {
    super("EXECUTOR_CLOSED", `this ${executor} was closed; resume the run with a new one (it attaches to the jobs left in the queue)`);
  }
}

/**
 * A job carrying a node attempt failed in the worker outside the node's
 * body (the worker could not run it: a missing graph, a payload it could
 * not read); the worker's reason is the message. Counts as a failed attempt.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof NodeFailedError && e.cause instanceof WorkerJobFailedError) console.error(e.cause.jobId) }
 * ```
 */
export class WorkerJobFailedError extends TaskloomError {
  /** The BullMQ job id. */
  readonly jobId: string;

  constructor(jobId: string, reason: string) {
    super("WORKER_JOB_FAILED", `job "${jobId}" failed in its worker: ${reason}`);
    this.jobId = jobId;
  }
}

/**
 * `taskloom/bullmq` was imported (or the `taskloom worker` command run)
 * where the optional peer packages `bullmq` and `ioredis` cannot be
 * found. The message is the one-line advice: which are missing, and the
 * `npm install` that adds them.
 *
 * @example
 * ```ts
 * try { await import("taskloom/bullmq") } catch (e) { if (e instanceof BullmqMissingError) console.error(e.missing) }
 * ```
 */
export class BullmqMissingError extends TaskloomError {
  /** The packages that cannot be found (`bullmq`, `ioredis`). */
  readonly missing: readonly string[];

  constructor(missing: readonly string[], what = "taskloom/bullmq") {
    super(
      "BULLMQ_MISSING",
      `${what} needs the optional packages bullmq and ioredis (not found: ${missing.join(", ")}). Run "npm install bullmq ioredis" in your project.`,
    );
    this.missing = missing;
  }
}
