/**
 * The coordinator's answers to the `ctx.step` and `ctx.waitFor` calls of
 * one attempt's job, whichever worker runs it and however often.
 *
 * A job may run more than once as the same attempt: BullMQ gives a
 * stalled job (its worker died) to another worker, and a coordinator
 * that takes a run over attaches to jobs already running. Each run of a
 * job (an incarnation) names its calls `<incarnation>.<n>`, so nothing
 * one incarnation was sent (a reply left in a list by a dead worker) can
 * reach another. Answers are kept by what was asked, not by call id:
 *
 * - a step, by name: the first ask goes to the attempt's own context
 *   (`ctx.step`), which returns a journaled value without running
 *   anything, or asks for the function to run (the reply `run`; the
 *   worker then sends the value, which the context journals). Every later
 *   ask for that name, from any incarnation, gets the same final answer,
 *   or `run` while the value has not come back (its worker may have died);
 * - a wait, by key: the first ask goes to `ctx.waitFor`; later asks share
 *   its answer;
 * - a step value sent to a coordinator that never asked for it (it took
 *   the run over from the one that did) becomes the step's value.
 *
 * A second ask for one name or key from one incarnation is the body
 * calling twice: it goes to the context, which decides as for a local
 * body (a step name used twice is refused). An answer is never sent once
 * the attempt is over for this coordinator, nor when it says the
 * coordinator lost the run's lease (`LEASE_LOST`): the worker sends the
 * call again, and the run's new coordinator answers it.
 *
 * @module
 */
import type { NodeContext } from "../../graph/node-context.js";
import type { ErrorRecord } from "../../state/records.js";
import { envelopeError, errorEnvelope, type Reply, type ResultEnvelope } from "./job-payload.js";

const RUN: Reply = { ok: "run" };

/** The incarnation part of a call id (`<incarnation>.<n>`, `<incarnation>.<n>v` for a step's value). */
export function incarnationOf(callId: string): string {
  const dot = callId.lastIndexOf(".");
  return dot < 0 ? "" : callId.slice(0, dot);
}

/** One step name or wait key of the attempt. */
interface Slot {
  /** The final answer, once known (the journaled value, or the error). */
  done?: Reply;
  /** Set while the step's function has been asked to run and its value has not come back. */
  provide?: { resolve: (value: unknown) => void; reject: (error: unknown) => void };
  /** Calls waiting for the final answer (or for `run`). */
  readonly waiting: string[];
  /** Incarnations that asked. */
  readonly askedBy: Set<string>;
}

/** The calls of one attempt's job. */
export class AttemptCalls {
  readonly #context: NodeContext;
  readonly #send: (callId: string, reply: Reply) => void;
  readonly #live: () => boolean;
  /** Every call id seen, with the answer sent (undefined while none). */
  readonly #answers = new Map<string, Reply | undefined>();
  readonly #slots = new Map<string, Slot>();

  /** `send` pushes a reply to the worker; `live` is false once the attempt is over for this coordinator. */
  constructor(context: NodeContext, send: (callId: string, reply: Reply) => void, live: () => boolean) {
    this.#context = context;
    this.#send = send;
    this.#live = live;
  }

  /** `ctx.step(name)` asked by call `callId`. */
  step(callId: string, name: string): void {
    this.#ask(callId, `s:${name}`, (slot) =>
      this.#context.step(name, () => {
        const value = new Promise<unknown>((resolve, reject) => (slot.provide = { resolve, reject }));
        for (const id of slot.waiting.splice(0)) this.#answer(id, RUN);
        return value;
      }),
    );
  }

  /** The value of step `name`'s function, run in a worker that was told `run`. */
  stepValue(callId: string, name: string, result: ResultEnvelope): void {
    if (this.#seen(callId)) return;
    const key = `s:${name}`;
    const slot = this.#slots.get(key);
    if (slot?.done) return this.#answer(callId, slot.done);
    if (slot) {
      slot.waiting.push(callId);
      const provide = slot.provide;
      slot.provide = undefined;
      if (provide && result.ok) provide.resolve(result.value);
      else if (provide && result.ok === false) provide.reject(envelopeError(result.error));
      return;
    }
    // Another coordinator said `run` (this one took the run over since): the value is the step's.
    this.#start(key, callId, () => this.#context.step(name, () => (result.ok ? result.value : Promise.reject(envelopeError(result.error)))));
  }

  /** `ctx.waitFor(key)` asked by call `callId`. */
  wait(callId: string, key: string, timeoutMs: number | undefined): void {
    this.#ask(callId, `w:${key}`, () => this.#context.waitFor(key, timeoutMs !== undefined ? { timeoutMs } : undefined));
  }

  /** True (and the answer sent again) when `callId` was seen before: the worker re-sent it. */
  #seen(callId: string): boolean {
    if (!this.#answers.has(callId)) {
      this.#answers.set(callId, undefined);
      return false;
    }
    const sent = this.#answers.get(callId);
    if (sent) this.#send(callId, sent);
    return true;
  }

  #ask(callId: string, key: string, run: (slot: Slot) => Promise<unknown>): void {
    if (this.#seen(callId)) return;
    const slot = this.#slots.get(key);
    const incarnation = incarnationOf(callId);
    if (!slot) return this.#start(key, callId, run);
    if (slot.askedBy.has(incarnation)) {
      // The same body asks twice: the context answers as it would locally (a step name used twice is refused).
      const again: Slot = { waiting: [callId], askedBy: new Set([incarnation]) };
      this.#settle(again, run(again));
      return;
    }
    slot.askedBy.add(incarnation);
    if (slot.done) this.#answer(callId, slot.done);
    else if (slot.provide)
      this.#answer(callId, RUN); // the incarnation told to run it may have died: this one runs it
    else slot.waiting.push(callId);
  }

  #start(key: string, callId: string, run: (slot: Slot) => Promise<unknown>): void {
    const slot: Slot = { waiting: [callId], askedBy: new Set([incarnationOf(callId)]) };
    this.#slots.set(key, slot);
    this.#settle(slot, run(slot));
  }

  #settle(slot: Slot, work: Promise<unknown>): void {
    const finish = (reply: Reply): void => {
      slot.done = reply;
      slot.provide = undefined;
      for (const id of slot.waiting.splice(0)) this.#answer(id, reply);
    };
    work.then(
      (value) => finish({ ok: true, value }),
      (error: unknown) => finish(errorEnvelope(error)),
    );
  }

  #answer(callId: string, reply: Reply): void {
    if (!this.#live() || (reply.ok === false && leaseLost(reply.error))) return;
    this.#answers.set(callId, reply);
    this.#send(callId, reply);
  }
}

/** True when the error says the coordinator lost the run's lease (anywhere in its causes). */
function leaseLost(record: ErrorRecord | undefined): boolean {
  for (let r = record, depth = 0; r !== undefined && depth < 16; r = r.cause, depth++) {
    if (r.code === "LEASE_LOST") return true;
  }
  return false;
}
