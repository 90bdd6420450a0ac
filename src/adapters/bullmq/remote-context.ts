/**
 * The node context in a worker. Data fields (`inputs`, `deps`, `item`…)
 * come with the job; `signal` aborts when the coordinator cancels the
 * attempt; `emit`, `step` and `waitFor` go to the coordinator, which runs
 * them on the attempt's own context, so events reach the run's emitter
 * and steps and waits are journaled as for a local body.
 *
 * A call is a message on the run's `up` list and an answer on a reply list
 * of its own. While no answer comes the worker sends the call again every
 * few seconds (the coordinator answers a call once and repeats that answer),
 * so a call made while the coordinator fails over reaches the next one.
 * A step runs its function here, in the worker: the coordinator first says
 * whether the step is journaled already (and returns its value) or must run.
 *
 * Call ids are `<incarnation>.<n>`: the incarnation is new each time a
 * worker starts the job (a stalled job runs again elsewhere as the same
 * attempt), so a reply meant for an earlier run of the job is never read
 * by this one; the coordinator answers by step name and wait key, so
 * this run gets what the earlier one was told (a journaled step's value).
 *
 * Once `signal` aborted, nothing the body does counts (the coordinator
 * cancelled the attempt, or the job runs in another worker: this one lost
 * its lock or was closed with force, maybe with its connection closed):
 * `emit` sends nothing, and `step` and `waitFor` reject with the abort's
 * reason without a round trip, so a body that goes on after the abort
 * neither reaches the run nor hangs on a connection that is gone.
 *
 * @module
 */
import type { RouteTrigger } from "../../graph/route.js";
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { ChildRunOptions, NodeContext, WaitOptions } from "../../graph/node-context.js";
import { InvalidOptionError } from "../../errors.js";
import { validateInput } from "../../graph/input-validator.js";
import { assertNoNodeStepOptions, assertOptionKeys, WAIT_OPTION_KEYS } from "../../graph/option-keys.js";
import type { NodeActivation } from "../../engine/node-executor.js";
import { SIDE_CHANNEL_TTL_MS } from "./executor.js";
import { NonRetryableError } from "../../graph/errors.js";
import {
  decode,
  encode,
  envelopeError,
  errorEnvelope,
  okEnvelope,
  travelProblem,
  type ChannelKeys,
  type Reply,
  type ResultEnvelope,
  type UpMessage,
} from "./job-payload.js";

/** How often an unanswered call is sent again (ms). */
const RESEND_MS = 3_000;

/**
 * The context of one job's attempt, in the worker.
 *
 * @example
 * ```ts
 * const context = new RemoteContext(activation, job.id, controller.signal, client, channelKeys("taskloom", "etl"));
 * ```
 */
export class RemoteContext implements NodeContext {
  readonly inputs: unknown;
  readonly deps: Record<string, unknown>;
  readonly runId: string;
  readonly runInstance: string | undefined;
  readonly nodeId: string;
  readonly attempt: number;
  readonly visit: number;
  readonly trigger: RouteTrigger | undefined;
  readonly signal: AbortSignal;
  readonly #jobId: string;
  readonly #client: Redis;
  readonly #keys: ChannelKeys;
  /** This run of the job, among every run of it on any worker. */
  readonly #incarnation = randomUUID();
  #calls = 0;

  constructor(activation: NodeActivation, jobId: string, signal: AbortSignal, client: Redis, keys: ChannelKeys) {
    this.inputs = activation.inputs;
    this.deps = { ...activation.deps };
    this.runId = activation.runId;
    this.runInstance = activation.runInstance;
    this.nodeId = activation.activationId;
    this.attempt = activation.attempt;
    this.visit = activation.visit ?? 1;
    this.trigger = activation.trigger;
    // A map element's context has `item` and `index`, as in the coordinator; other nodes' have neither.
    if (activation.index !== undefined) Object.assign(this, { item: activation.item, index: activation.index });
    this.signal = signal;
    this.#jobId = jobId;
    this.#client = client;
    this.#keys = keys;
  }

  get emit(): (name: string, data?: unknown) => void {
    return (name, data) => {
      // Locally the run's listeners get `data` itself; here it is serialized, which would change a class instance
      // into a plain object or drop a function without a word: refused instead, where the body can see it.
      const problem = travelProblem(data);
      if (problem !== undefined) {
        throw new NonRetryableError(`ctx.emit("${name}") in a BullMQ worker: its data cannot be sent to the coordinator: ${problem}; emit plain data`);
      }
      if (this.signal.aborted) return;
      void this.#send({ t: "emit", jobId: this.#jobId, name, data }).catch(() => undefined);
    };
  }

  get step(): <T>(name: string, fn: () => T | Promise<T>) => Promise<T> {
    return async <T>(name: string, fn: () => T | Promise<T>, ...options: unknown[]): Promise<T> => {
      assertNoNodeStepOptions(name, options[0]);
      const callId = this.#nextCallId();
      const first = await this.#call({ t: "step", jobId: this.#jobId, callId, name }, callId);
      if (first.ok !== "run") return unwrap(first) as T;
      let result: ResultEnvelope;
      try {
        result = okEnvelope(await fn(), `step "${name}"`);
      } catch (error) {
        result = errorEnvelope(error);
      }
      const valueId = `${callId}v`;
      return unwrap(await this.#call({ t: "step-value", jobId: this.#jobId, callId: valueId, name, result }, valueId)) as T;
    };
  }

  get waitFor(): <T = unknown>(key: string, options?: WaitOptions<T>) => Promise<T> {
    return async <T>(key: string, options?: WaitOptions<T>): Promise<T> => {
      assertOptionKeys(`waitFor("${String(key)}")`, options, WAIT_OPTION_KEYS);
      const callId = this.#nextCallId();
      const message: UpMessage = {
        t: "wait",
        jobId: this.#jobId,
        callId,
        key,
        ...(options?.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      };
      const payload = unwrap(await this.#call(message, callId));
      // The schema cannot travel: the payload is checked here, where the node's code is.
      return options?.schema ? validateInput(options.schema, payload, `the payload of wait "${key}"`) : (payload as T);
    };
  }

  get run(): <O = unknown>(graph: object, inputs: unknown, options: ChildRunOptions) => Promise<O> {
    return () =>
      Promise.reject(
        new InvalidOptionError("ctx.run", "is not available in a BullMQ worker: start child runs from a graphFn step or a node of a run without an executor"),
      );
  }

  #nextCallId(): string {
    return `${this.#incarnation}.${++this.#calls}`;
  }

  async #send(message: UpMessage): Promise<void> {
    const key = this.#keys.up(this.runId);
    await this.#client.multi().rpush(key, encode(message)).pexpire(key, SIDE_CHANNEL_TTL_MS).exec();
  }

  /** Sends `message` until its answer arrives (or the attempt is aborted). */
  async #call(message: UpMessage, callId: string): Promise<Reply> {
    if (this.signal.aborted) throw this.signal.reason;
    const replyKey = this.#keys.reply(this.#jobId, callId);
    const blocking = this.#client.duplicate({ maxRetriesPerRequest: null });
    blocking.on("error", () => undefined);
    const onAbort = (): void => blocking.disconnect();
    this.signal.addEventListener("abort", onAbort, { once: true });
    try {
      while (true) {
        if (this.signal.aborted) throw this.signal.reason;
        await this.#send(message);
        let popped: [string, string] | null;
        try {
          popped = await blocking.blpop(replyKey, RESEND_MS / 1000);
        } catch (error) {
          if (this.signal.aborted) throw this.signal.reason;
          throw error;
        }
        if (popped !== null) return decode<Reply>(popped[1]);
      }
    } finally {
      this.signal.removeEventListener("abort", onAbort);
      blocking.disconnect();
    }
  }
}

function unwrap(reply: Reply): unknown {
  if (reply.ok === true) return reply.value;
  if (reply.ok === false) throw envelopeError(reply.error);
  throw new Error("taskloom: the coordinator answered a finished call with 'run'");
}
