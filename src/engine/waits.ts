/**
 * Why this file is 440 lines (101 of them comments; 339 of code): it is one
 * concept, one key's life (open, delivered or held, resolved, expired, and
 * the inbox event that may stand in for a delivery), and every transition
 * reads the same maps (open waits, held deliveries, the inbox), so the
 * parts cannot move apart without handing those maps around. The
 * twenty-ninth pass added about 160 lines, each a rule of that life: an
 * inbox event taken before a crash, an event later than its deadline, a
 * held delivery that replaces the inbox's, the `$child:` keys, a deadline
 * longer than a timer holds. What a run's stored waits are is
 * `state/waits.ts`; delivering from outside the run is
 * `runner/resolve-wait.ts`.
 *
 * Waits and the inbox: `ctx.waitFor(key)`, delivering an event to it,
 * its deadline, and the events delivered while no process drove the run.
 *
 * States of one key: not waited for → open (an attempt suspended on it,
 * journaled `waiting`) → resolved (the payload journaled with the node:
 * never waited for twice) or expired (forgotten, so a retry waits afresh).
 * An event that arrived while nobody drove the run sits in the inbox until
 * its node calls `waitFor`; taking it is the transition `markWaitResolved`.
 * The stored inbox is rewritten only when the run ends, so an event taken
 * by a process that then died is dropped from it when the run starts again.
 *
 * Invariants:
 * - One open wait per key, one key at a time per attempt.
 * - A delivery resolves once its payload is durable; the attempt goes on
 *   only once it has a concurrency slot again.
 * - A delivery for a key the run has open whose node has not called
 *   `waitFor` again in this process (a resume) is held until it does.
 * - `node:wait` is emitted once the wait is open and before the run can
 *   end as waiting, so a listener may resolve it at once.
 * - An inbox event counts only if it arrived before its wait's deadline
 *   (its `at` against the deadline, once the run's clock says the deadline
 *   passed); a later one is dropped and the wait times out.
 * - A later event replaces an earlier one not yet taken: a live delivery
 *   held for a resumed wait wins over the inbox's event, which is taken
 *   only if every held delivery is refused. An event a node took is never
 *   replaced.
 * - A user's key never starts with `$child:`: only the runner's wait on a
 *   child run does (`openChildRunWait`).
 * - A deadline further off than a timer holds is timed in parts.
 *
 * @module
 */
// The longest delay a Node timer holds (2^31 - 1 ms); a longer wait is timed in parts (a clock may be a bare Node timer).
import { MAX_TIMER_MS, type Clock, type TimerHandle } from "../core/clock.js";
import { checkDurable } from "../core/value-codec.js";
import { InvalidOptionError } from "../errors.js";
import type { RunEvents } from "../events/run-events.js";
import { isInputValidator, validateInput, type InputValidator } from "../graph/input-validator.js";
import type { WaitOptions } from "../graph/node-context.js";
import { assertOptionKeys, WAIT_OPTION_KEYS } from "../graph/option-keys.js";
import { nodeRecords } from "../state/node-table.js";
import { forgetWait } from "../state/node-transitions.js";
import type { InboxEntry, WaitRecord } from "../state/records.js";
import { openWaitKeys } from "../state/run-state.js";
import { markWaiting, markWaitResolved } from "../state/node-transitions.js";
import type { ActivationNames } from "./activation-names.js";
import type { AttemptContext } from "./attempt-context.js";
import type { Attempts } from "./attempts.js";
import type { RunJournal } from "./journal-port.js";
import type { RecordBuffer } from "./record-buffer.js";
import type { SchedulerOutcome } from "./loop-types.js";
import { InputValidationError } from "../graph/errors.js";
import { WaitAlreadyResolvedError, WaitNotFoundError, WaitTimeoutError } from "./errors.js";
import { type PendingWait } from "../state/waits.js";
import { validateDuration } from "../graph/retry-options.js";

/** One open `waitFor`. */
interface OpenWait {
  readonly key: string;
  readonly nodeId: string;
  readonly since: number;
  readonly deadline: number | undefined;
  readonly schema: InputValidator<unknown> | undefined;
  readonly resolve: (payload: unknown) => void;
  readonly reject: (error: unknown) => void;
  timer: TimerHandle | undefined;
  /**
   * The older event of the inbox, left there because a live delivery was
   * held for this wait when it opened (that later one replaces it): taken
   * only if every held delivery is refused (see `deliver`).
   */
  fallback: InboxEntry | undefined;
}

/** The key prefix of the wait a parent's activation parks on while its child run (`ctx.run`) waits for events. */
export const CHILD_WAIT_PREFIX = "$child:";

/** True only during the synchronous call through which the runner opens a `$child:` wait (see {@link openChildRunWait}). */
let childWaitPermit = false;

/**
 * Opens the wait of a parent's activation on its child run: `open` must
 * call `ctx.waitFor`'s engine side synchronously. Only through it is a key
 * starting with {@link CHILD_WAIT_PREFIX} accepted: a user's `waitFor` with
 * such a key is refused, since `resolveWait` refuses it and it could never
 * be resolved.
 */
export function openChildRunWait<T>(open: () => Promise<T>): Promise<T> {
  childWaitPermit = true;
  try {
    return open();
  } finally {
    childWaitPermit = false;
  }
}

/** What waits need from the run loop. */
export interface WaitLoop {
  readonly finished: boolean;
  readonly done: Promise<SchedulerOutcome>;
  checkDone(): void;
  warn(nodeId: string, code: string, message: string): void;
}

/** What waits work with. */
export interface WaitsEnv {
  readonly runId: string;
  readonly clock: Clock;
  readonly events: RunEvents;
  readonly names: ActivationNames;
  readonly buffer: RecordBuffer;
  readonly journal: RunJournal;
  readonly loop: WaitLoop;
  readonly attempts: Pick<Attempts, "liveOf" | "suspend" | "resume">;
  /** Events delivered while no process drove the run, by wait key. */
  readonly inbox: Readonly<Record<string, InboxEntry>> | undefined;
}

/** The open waits and the inbox of one run. */
export class Waits {
  readonly #env: WaitsEnv;
  readonly #open = new Map<string, OpenWait>();
  /** Deliveries held until their key's wait opens (see `deliver`). */
  readonly #opening = new Map<string, (() => void)[]>();
  readonly #inbox: Map<string, InboxEntry>;
  /** Live deliveries under way, by key (see `OpenWait.fallback`). */
  readonly #delivering = new Map<string, number>();

  constructor(env: WaitsEnv) {
    this.#env = env;
    this.#inbox = new Map(Object.entries(env.inbox ?? {}));
    if (this.#inbox.size > 0) {
      // An event a node took (journaled with its record) before its process died is still in the stored inbox,
      // which is rewritten only when a run ends: it is spent, and must neither be kept nor taken again
      // (unless another activation, a later visit, has the key open: the entry is then that one's event).
      const { open, taken } = openWaitKeys(env.buffer.state);
      for (const key of taken) if (!open.includes(key)) this.#inbox.delete(key);
    }
  }

  /** The keys waited for now. */
  keys(): string[] {
    return [...this.#open.keys()];
  }

  /** Events delivered and not yet taken by their node. */
  inbox(): Record<string, InboxEntry> {
    return Object.fromEntries(this.#inbox);
  }

  /** See `ForwardScheduler.deliver`. */
  async deliver(key: string, payload: unknown): Promise<boolean> {
    if (this.#env.loop.finished) return false;
    this.#delivering.set(key, (this.#delivering.get(key) ?? 0) + 1);
    try {
      return await this.#deliver(key, payload);
    } finally {
      const left = (this.#delivering.get(key) ?? 1) - 1;
      if (left > 0) this.#delivering.set(key, left);
      else {
        this.#delivering.delete(key);
        // Every live delivery held for this wait was refused: the older event of the inbox is its event after all.
        const wait = this.#open.get(key);
        if (wait?.fallback !== undefined) void this.#takeFallback(wait);
      }
    }
  }

  async #deliver(key: string, payload: unknown): Promise<boolean> {
    const { loop, buffer } = this.#env;
    if (!this.#open.has(key) && openWaitKeys(buffer.state).open.includes(key)) {
      // The run has this wait open, but its node has not reached waitFor again in this process yet
      // (a resume: it is queued or re-running its journaled steps): hold the event until it does.
      await Promise.race([new Promise<void>((resolve) => this.#whenOpened(key, resolve)), loop.done]);
      if (loop.finished) return false;
    }
    const wait = this.#open.get(key);
    if (!wait) throw this.#notOpen(key);
    const value = wait.schema ? await validateInput(wait.schema, payload, `the payload of wait "${key}"`) : payload;
    if (loop.finished) return false;
    if (this.#open.get(key) !== wait) throw this.#notOpen(key);
    const unstorable = notStorable(payload, `the payload of wait "${key}"`);
    if (unstorable) throw unstorable;
    this.#close(wait);
    // A live delivery replaces any older event the inbox kept for this wait (one not taken: see OpenWait.fallback).
    this.#inbox.delete(key);
    const at = this.#env.clock.now();
    buffer.transition(markWaitResolved(key, waitRecord(wait, { payload, at })), wait.nodeId);
    const durable = this.#env.journal.barrier();
    this.#env.attempts.resume(wait.nodeId, () => wait.resolve(value));
    await durable;
    return true;
  }

  /** `ctx.waitFor` of the attempt `context`. */
  async wait<T>(context: AttemptContext<unknown>, key: string, options: WaitOptions<T> | undefined): Promise<T> {
    // Read first, while still in the synchronous call of openChildRunWait.
    const childWait = childWaitPermit;
    childWaitPermit = false;
    const id = context.nodeId;
    if (typeof key !== "string" || key.length === 0 || key.length > 200) {
      throw new InvalidOptionError("waitFor(key)", "must be a string of 1 to 200 characters");
    }
    if (!childWait && key.startsWith(CHILD_WAIT_PREFIX)) {
      throw new InvalidOptionError(
        `waitFor("${key}")`,
        `must not start with "${CHILD_WAIT_PREFIX}": that prefix names the waits of a parent run on its child runs, which resolveWait refuses; choose another key`,
      );
    }
    if (options !== undefined && (options === null || typeof options !== "object")) {
      throw new InvalidOptionError(`waitFor("${key}", options)`, "must be an object");
    }
    assertOptionKeys(`waitFor("${key}")`, options, WAIT_OPTION_KEYS);
    validateDuration(options?.timeoutMs, `waitFor("${key}").timeoutMs`, false);
    if (options?.schema !== undefined && !isInputValidator(options.schema)) {
      throw new InvalidOptionError(`waitFor("${key}").schema`, "must have a parse(value) method or be a Standard Schema");
    }
    const schema = options?.schema as InputValidator<unknown> | undefined;
    const abort = context.abortState;
    if (abort.aborted) throw abort.reason;
    const live = this.#env.attempts.liveOf(abort);
    if (!live) throw new InvalidOptionError(`waitFor("${key}")`, "was called after its attempt ended");
    if (live.waitingOn !== undefined) {
      throw new InvalidOptionError(
        `waitFor("${key}")`,
        `is called while node "${id}" already waits for "${live.waitingOn}"; wait for one key at a time in a node`,
      );
    }
    const holder = this.#open.get(key);
    if (holder) throw new InvalidOptionError(`waitFor("${key}")`, `is already waited for by node "${holder.nodeId}"; give each wait its own key`);

    const { buffer, clock, journal } = this.#env;
    const prior = buffer.get(id)?.waits?.[key];
    if (prior?.resolved) {
      // Taken in an earlier attempt or process and journaled: never wait twice for one event.
      return (schema ? await validateInput(schema, prior.resolved.payload, `the payload of wait "${key}"`) : prior.resolved.payload) as T;
    }
    const now = clock.now();
    const since = prior?.since ?? now;
    const deadline = prior?.deadline ?? (options?.timeoutMs !== undefined ? now + options.timeoutMs : undefined);

    let delivered = this.#inbox.get(key);
    if (delivered !== undefined && deadline !== undefined && deadline <= now && delivered.at >= deadline) {
      // Written into the stored run once the wait had timed out: it does not resolve it. (`at` is on the
      // resolver's clock: an event stamped on another clock than the run's counts only once the run's clock
      // says the deadline passed, as the deadline then has to be seen anyway.)
      this.#inbox.delete(key);
      this.#env.loop.warn(
        id,
        "WAIT_EVENT_LATE",
        `the event delivered for "${key}" at ${delivered.at} came after the wait's deadline ${deadline} and was dropped`,
      );
      delivered = undefined;
    }
    // A live delivery held for this wait came after the inbox's event (written while no one drove the run): it
    // replaces that one, which is kept as the fallback if the held one is refused. Once the deadline passed, the
    // inbox's event (in time) is taken.
    const replacing = delivered !== undefined && this.#opening.has(key) && !(deadline !== undefined && deadline <= now);
    if (delivered && !replacing) {
      this.#inbox.delete(key);
      try {
        const value = schema ? await validateInput(schema, delivered.payload, `the payload of wait "${key}"`) : delivered.payload;
        // Taking the event from the inbox is the wait's resolution, journaled like a delivery.
        buffer.transition(markWaitResolved(key, { since, ...(deadline !== undefined && { deadline }), resolved: delivered }), id);
        await journal.barrier();
        this.#opened(key);
        return value as T;
      } catch (error) {
        if (!(error instanceof InputValidationError)) throw error;
        this.#env.loop.warn(id, "WAIT_PAYLOAD_INVALID", `the event delivered for "${key}" was dropped and the node waits again: ${error.message}`);
      }
    }
    if (deadline !== undefined && deadline <= now) {
      // Forget the wait, so a retry waits afresh with a new deadline.
      this.#inbox.delete(key);
      buffer.transition(forgetWait(key), id);
      throw new WaitTimeoutError(id, key, deadline);
    }
    buffer.transition(markWaiting(key, { since, ...(deadline !== undefined && { deadline }) }), id);
    return new Promise<T>((resolve, reject) => {
      const wait: OpenWait = {
        key,
        nodeId: id,
        since,
        deadline,
        schema,
        resolve: resolve as (payload: unknown) => void,
        reject,
        timer: undefined,
        fallback: replacing ? delivered : undefined,
      };
      this.#arm(wait);
      this.#open.set(key, wait);
      this.#env.attempts.suspend(live, key);
      this.#env.events.emit(
        "node:wait",
        this.#env.names.tag(live.id, {
          runId: this.#env.runId,
          at: clock.now(),
          nodeId: live.id,
          key,
          ...(wait.deadline !== undefined && { deadline: wait.deadline }),
        }),
      );
      this.#env.loop.checkDone();
      this.#opened(key);
    });
  }

  /** Closes the wait on `key` of activation `id` (its attempt ended while waiting). */
  closeOf(key: string, id: string): void {
    const wait = this.#open.get(key);
    if (wait && wait.nodeId === id) this.#close(wait);
  }

  /** Rejects every open wait (the run stops). */
  rejectAll(reason: unknown): void {
    for (const wait of [...this.#open.values()]) {
      this.#close(wait);
      wait.reject(reason);
    }
  }

  /** The open waits, their timers stopped (the run ends as waiting). */
  pending(): PendingWait[] {
    const waits: PendingWait[] = [];
    for (const wait of this.#open.values()) {
      if (wait.timer !== undefined) this.#env.clock.clearTimeout(wait.timer);
      waits.push({ key: wait.key, nodeId: wait.nodeId, since: wait.since, ...(wait.deadline !== undefined && { deadline: wait.deadline }) });
    }
    return waits;
  }

  #whenOpened(key: string, resolve: () => void): void {
    let waiting = this.#opening.get(key);
    if (!waiting) this.#opening.set(key, (waiting = []));
    waiting.push(resolve);
  }

  /** Lets the deliveries held for `key` go on (its wait opened, or its node took the event from the inbox). */
  #opened(key: string): void {
    const waiting = this.#opening.get(key);
    this.#opening.delete(key);
    for (const resolve of waiting ?? []) resolve();
  }

  /** Why `key` cannot be delivered: taken already (as `resolveWait` on a stored run says), or not waited for. */
  #notOpen(key: string): Error {
    for (const n of nodeRecords(this.#env.buffer.state.nodes)) {
      if (n.waits?.[key]?.resolved) return new WaitAlreadyResolvedError(this.#env.runId, key);
    }
    return new WaitNotFoundError(this.#env.runId, key, this.keys());
  }

  /** Sets the timer of `wait`'s deadline, at most {@link MAX_TIMER_MS} ahead (`#expire` sets it again until the deadline). */
  #arm(wait: OpenWait): void {
    if (wait.deadline === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, wait.deadline - this.#env.clock.now()));
    wait.timer = this.#env.clock.setTimeout(() => this.#expire(wait), delay);
  }

  /** Takes the inbox's older event for `wait` once every live delivery held for it was refused. */
  async #takeFallback(wait: OpenWait): Promise<void> {
    const entry = wait.fallback;
    wait.fallback = undefined;
    if (entry === undefined || this.#inbox.get(wait.key) !== entry) return;
    let value: unknown;
    try {
      value = wait.schema ? await validateInput(wait.schema, entry.payload, `the payload of wait "${wait.key}"`) : entry.payload;
    } catch (error) {
      if (this.#inbox.get(wait.key) === entry) this.#inbox.delete(wait.key);
      const why = error instanceof Error ? error.message : String(error);
      this.#env.loop.warn(wait.nodeId, "WAIT_PAYLOAD_INVALID", `the event delivered for "${wait.key}" was dropped and the node waits again: ${why}`);
      return;
    }
    if (this.#env.loop.finished || this.#open.get(wait.key) !== wait || this.#inbox.get(wait.key) !== entry) return;
    this.#inbox.delete(wait.key);
    this.#close(wait);
    this.#env.buffer.transition(markWaitResolved(wait.key, waitRecord(wait, entry)), wait.nodeId);
    const durable = this.#env.journal.barrier();
    this.#env.attempts.resume(wait.nodeId, () => wait.resolve(value));
    await durable;
  }

  #expire(wait: OpenWait): void {
    if (this.#open.get(wait.key) !== wait) return;
    if (wait.deadline !== undefined && this.#env.clock.now() < wait.deadline) {
      this.#arm(wait); // a deadline further off than a timer holds
      return;
    }
    this.#close(wait);
    if (wait.fallback !== undefined && this.#inbox.get(wait.key) === wait.fallback) this.#inbox.delete(wait.key);
    this.#env.buffer.transition(forgetWait(wait.key), wait.nodeId);
    const error = new WaitTimeoutError(wait.nodeId, wait.key, wait.deadline ?? this.#env.clock.now());
    this.#env.attempts.resume(wait.nodeId, () => wait.reject(error));
  }

  #close(wait: OpenWait): void {
    if (wait.timer !== undefined) this.#env.clock.clearTimeout(wait.timer);
    wait.timer = undefined;
    if (this.#open.get(wait.key) === wait) this.#open.delete(wait.key);
  }
}

function waitRecord(wait: OpenWait, resolved: InboxEntry): WaitRecord {
  return { since: wait.since, ...(wait.deadline !== undefined && { deadline: wait.deadline }), resolved };
}

/**
 * The `InputValidationError` for a payload the store cannot keep exactly,
 * saying why (`checkDurable`'s reason: "a sparse array (a hole at [1])",
 * "a function at .f", …) and what to send instead; undefined for a
 * storable payload. A getter that throws makes it unstorable too.
 */
export function notStorable(payload: unknown, what: string): InputValidationError | undefined {
  let reason: string;
  try {
    const durable = checkDurable(payload);
    if (durable.ok) return undefined;
    reason = durable.reason;
  } catch (error) {
    reason = `reading it threw (${error instanceof Error ? error.message : String(error)})`;
  }
  return new InputValidationError(what, [
    { path: [], message: `it cannot be stored: ${reason}; send plain data (JSON values, Date, Map, Set, BigInt, RegExp, URL, binary data)` },
  ]);
}
