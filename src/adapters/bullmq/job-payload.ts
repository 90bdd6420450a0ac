/**
 * What travels between a coordinator and its workers, and the Redis keys
 * they share besides BullMQ's own.
 *
 * A job carries one attempt of one node activation. Its data is plain JSON
 * (so BullMQ's tools can show it) with the values (inputs, deps, the map
 * element) serialized with superjson, so `Date`, `Map`, `Set`, `BigInt`
 * and `undefined` arrive as they were sent. The job id is deterministic,
 * `<runId>/<activationId>/<attempt>/<instance>` (URI-encoded parts; the
 * run's random mark `instance` is absent from runs stored before it was
 * kept): a coordinator that takes a run over and sends the same attempt
 * again attaches to the job already queued or running instead of running
 * the body twice, while a run deleted and started again under the same id
 * has another mark, so it never attaches to the deleted run's jobs, nor
 * takes their results or cancel markers, which are kept by job id.
 *
 * A worker reports back through Redis lists, not pub/sub, so that nothing
 * is lost while no coordinator listens:
 * - `<base>:results:<runId>` (hash): the result envelope of each finished
 *   job, by job id, kept until the run stops, so a coordinator that takes
 *   over finds the results of jobs that finished while none was alive;
 * - `<base>:up:<runId>` (list): messages to the run's coordinator (a job
 *   finished, `ctx.emit`, `ctx.step`, `ctx.waitFor` calls);
 * - `<base>:reply:<jobId>:<callId>` (list): the coordinator's answer to one
 *   call; a call id is `<incarnation>.<n>`, unique to one run of the job in
 *   one worker, so a reply left for a dead worker never reaches the next;
 * - `<base>:cancel` (pub/sub) and `<base>:cancelled:<jobId>` (a key with
 *   an expiry, for a job that starts after its cancel was published).
 *
 * `<base>` is `<prefix>:x:<queue>`.
 *
 * @module
 */
import { NonRetryableError } from "../../graph/errors.js";
import { InvalidOptionError } from "../../errors.js";
import { isRoute, route } from "../../graph/route.js";
import { checkDurable } from "../../core/value-codec.js";
import { describe } from "../../errors.js";
import { deserialize, serialize } from "../../persistence/serialization.js";
import { errorFromRecord, toErrorRecord } from "../../state/error-record.js";
import type { ErrorRecord } from "../../state/records.js";
import type { NodeActivation } from "../../engine/node-executor.js";

/**
 * The data of a taskloom job in BullMQ.
 *
 * @example
 * ```ts
 * const activation = decodeActivation(job.data as JobPayload);
 * ```
 */
export type JobPayload = Pick<NodeActivation, "runId" | "runInstance" | "graphName" | "fingerprint" | "nodeId" | "activationId" | "attempt"> & {
  /** Format version. */
  readonly v: 1;
  /** superjson text of the {@link ActivationValues}. */
  readonly values: string;
};

/** The parts of an activation that travel as superjson (they may hold dates, maps, …). */
export type ActivationValues = Pick<NodeActivation, "inputs" | "deps" | "item" | "index" | "visit" | "trigger">;

/** How a job ended, as the worker reports it (superjson text in Redis). */
export type ResultEnvelope =
  | { readonly ok: true; readonly value: unknown; /** The route a routing node chose (its value is `value`). */ readonly route?: string }
  | { readonly ok: false; readonly error: ErrorRecord };

/** A message from a worker to the coordinator of a run. */
export type UpMessage =
  | { readonly t: "done"; readonly jobId: string; readonly result: ResultEnvelope }
  | { readonly t: "emit"; readonly jobId: string; readonly name: string; readonly data: unknown }
  | { readonly t: "step"; readonly jobId: string; readonly callId: string; readonly name: string }
  | { readonly t: "step-value"; readonly jobId: string; readonly callId: string; readonly name: string; readonly result: ResultEnvelope }
  | { readonly t: "wait"; readonly jobId: string; readonly callId: string; readonly key: string; readonly timeoutMs?: number };

/** The coordinator's answer to a call: `run` asks the worker to run a step's function. */
export type Reply = ResultEnvelope | { readonly ok: "run" };

/** The Redis keys of one queue's side channels. */
export interface ChannelKeys {
  results(runId: string): string;
  up(runId: string): string;
  reply(jobId: string, callId: string): string;
  readonly cancel: string;
  cancelled(jobId: string): string;
}

/**
 * Queue names whose BullMQ keys (`<prefix>:<queue>:…`) would share a key
 * family with the `RedisStore` and the side channels under the same
 * prefix: `run` (`P:run:<id>:snap`), `lease` (`P:lease:<id>`), `token`
 * (`P:token:<id>`) and `x` (`P:x:<queue>:…`). Such a queue's own keys
 * (`P:lease:meta`, `P:token:id`, `P:token:events`…) are the lease or
 * token key of a run named `meta`, `id` or `events`: the store's write
 * to one fails on the other's type, and `queue.obliterate()` deletes them
 * (a deleted token key hands a token out again, which fencing forbids).
 */
const RESERVED_QUEUES: ReadonlySet<string> = new Set(["run", "lease", "token", "x"]);

/**
 * A queue name or key prefix option (`taskloom` when not given): a
 * non-empty string, and for a queue one without ":" (BullMQ's rule) and
 * not one of the names whose keys the `RedisStore` and the side channels
 * use (`run`, `lease`, `token`, `x`); otherwise {@link InvalidOptionError}
 * naming the option. Workers and coordinators check theirs alike, since
 * both must name the same queue.
 *
 * @example
 * ```ts
 * nameOption("queue", undefined); // "taskloom"
 * ```
 */
export function nameOption(option: "queue" | "prefix", value: unknown): string {
  if (value === undefined) return "taskloom";
  if (typeof value !== "string" || value === "") {
    throw new InvalidOptionError(option, `must be a non-empty string, the same for workers and coordinators (got ${describeValue(value)})`);
  }
  if (option === "queue" && value.includes(":")) throw new InvalidOptionError(option, `cannot contain ":" (BullMQ's rule; got ${describeValue(value)})`);
  if (option === "queue" && RESERVED_QUEUES.has(value)) {
    throw new InvalidOptionError(
      option,
      `cannot be ${describeValue(value)}: under the same prefix, RedisStore and taskloom's side channels keep their keys as "<prefix>:${value}:…", ` +
        `which that queue's own keys would mix with (its "meta", "id" and "events" keys are those of runs named so, and its obliterate() deletes them). ` +
        `Name the queue otherwise (for example "${value}-jobs")`,
    );
  }
  return value;
}

/** A short, password-free description of an option's value for an error message. */
export function describeValue(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : typeof value === "number" ? String(value) : value === null ? "null" : typeof value;
}

/** The side-channel keys for `queue` under `prefix`. */
export function channelKeys(prefix: string, queue: string): ChannelKeys {
  const base = `${prefix}:x:${queue}`;
  return {
    results: (runId) => `${base}:results:${runId}`,
    up: (runId) => `${base}:up:${runId}`,
    reply: (jobId, callId) => `${base}:reply:${jobId}:${callId}`,
    cancel: `${base}:cancel`,
    cancelled: (jobId) => `${base}:cancelled:${jobId}`,
  };
}

/**
 * The BullMQ job id of one attempt: deterministic, URI-encoded parts
 * joined by `/` (BullMQ forbids `:` in custom ids; run ids may contain it).
 * `instance` is the run's random mark (`getRun(runId).instance`, set
 * when the run is created), so that a run deleted and started
 * again under the same id names its jobs apart from the deleted run's;
 * without it, the id of a run stored before the mark was kept.
 *
 * @example
 * ```ts
 * const { instance } = await getRun("etl-1", { store });
 * const job = await executor.queue.getJob(jobIdOf("etl-1", "fetch", 1, instance)); // "etl-1/fetch/1/<instance>"
 * ```
 */
export function jobIdOf(runId: string, activationId: string, attempt: number, instance?: string): string {
  const id = `${encodeURIComponent(runId)}/${encodeURIComponent(activationId)}/${attempt}`;
  return instance === undefined ? id : `${id}/${encodeURIComponent(instance)}`;
}

/** The job data for an activation. */
export function encodeActivation(a: NodeActivation): JobPayload {
  const values: ActivationValues = {
    inputs: a.inputs,
    deps: a.deps,
    ...(a.index !== undefined && { item: a.item, index: a.index }),
    ...(a.visit !== undefined && { visit: a.visit }),
    ...(a.trigger !== undefined && { trigger: a.trigger }),
  };
  return {
    v: 1,
    runId: a.runId,
    ...(a.runInstance !== undefined && { runInstance: a.runInstance }),
    graphName: a.graphName,
    fingerprint: a.fingerprint,
    nodeId: a.nodeId,
    activationId: a.activationId,
    attempt: a.attempt,
    values: serialize(values),
  };
}

/** The activation a job carries; throws when the data is not a taskloom job. */
export function decodeActivation(data: unknown): NodeActivation {
  const p = data as Partial<JobPayload> | null;
  if (p === null || typeof p !== "object" || p.v !== 1 || typeof p.values !== "string" || typeof p.runId !== "string") {
    throw new NonRetryableError("the job's data is not a taskloom node activation (format v1); was it added by bullmqExecutor?");
  }
  const values = deserialize<ActivationValues>(p.values);
  return {
    runId: p.runId,
    ...(typeof p.runInstance === "string" && { runInstance: p.runInstance }),
    graphName: String(p.graphName),
    fingerprint: String(p.fingerprint),
    nodeId: String(p.nodeId),
    activationId: String(p.activationId),
    attempt: Number(p.attempt),
    inputs: values.inputs,
    deps: values.deps,
    ...(values.index !== undefined && { item: values.item, index: values.index }),
    ...(values.visit !== undefined && { visit: values.visit }),
    ...(values.trigger !== undefined && { trigger: values.trigger }),
  };
}

/**
 * Why `value` cannot travel between a worker and a coordinator exactly
 * (superjson would turn a class instance into a plain object, drop a
 * function, or the text would be too long to store), or undefined when it can.
 */
export function travelProblem(value: unknown): string | undefined {
  try {
    const durability = checkDurable(value);
    return durability.ok ? undefined : durability.reason;
  } catch (error) {
    return `reading it threw ${describe(error)}`;
  }
}

/** The envelope of a value (or of the error saying it cannot be sent back). */
export function okEnvelope(result: unknown, what: string): ResultEnvelope {
  // A routing node's route(name, value) travels as the name and the plain value.
  const value = isRoute(result) ? result.value : result;
  const problem = travelProblem(value);
  if (problem !== undefined) {
    return errorEnvelope(new NonRetryableError(`${what} returned a value that cannot be sent back to the coordinator: ${problem}; return plain data`));
  }
  return isRoute(result) ? { ok: true, value, route: result.name } : { ok: true, value };
}

/** The value an ok envelope stands for: the value, or the `route(name, value)` a routing node returned. */
export function envelopeValue(result: { readonly value: unknown; readonly route?: string }): unknown {
  return result.route === undefined ? result.value : route(result.route, result.value);
}

/** The envelope of an error. */
export function errorEnvelope(error: unknown): ResultEnvelope {
  return { ok: false, error: toErrorRecord(error) };
}

/**
 * The error an envelope carries, rebuilt: its name, code, message and
 * cause survive, and a `NonRetryableError` is one again, so the
 * coordinator's retry policy decides as it would for a local body.
 */
export function envelopeError(record: ErrorRecord): Error {
  if (record.code === "NON_RETRYABLE") {
    const err = new NonRetryableError(record.message, record.cause ? { cause: errorFromRecord(record.cause) } : undefined);
    if (record.stack !== undefined) err.stack = record.stack;
    return err;
  }
  return errorFromRecord(record);
}

/** Text of a message or envelope. */
export const encode = (value: unknown): string => serialize(value);
/** A message or envelope from its text. */
export const decode = <T>(text: string): T => deserialize<T>(text);
