/**
 * Delivering an event to a run that another thread of this process drives
 * (a `worker_threads` Worker calls `resolveWait` while the main thread runs
 * the graph, or the reverse). Module state is per thread, so the thread
 * that calls `resolveWait` cannot reach the live run's object; it finds the
 * run's lease held by its own pid instead. It then asks the other threads
 * over a `BroadcastChannel`; the thread that drives the run delivers the
 * event to the waiting node, exactly as `resolveWait` in that thread would,
 * and answers.
 *
 * Protocol (one request, answers by request id):
 * - `{ kind: "deliver", id, location, runId, key, payload, instance? }`
 *   (the payload serialized as the store would write it; `instance`, the
 *   run mark the caller named, if it named one);
 * - the driving thread answers `ack` at once, then `done` (the node has the
 *   event and it is durable), `stopped` (the run stopped driving before it
 *   took the event, and its lease is given back: go through the store) or
 *   `error` (a typed refusal: unknown key, resolved already, bad payload).
 *
 * A thread listens from the first run it drives (or starts taking the
 * lease of) under a location (string) on, and its channel is unref'd, so it
 * never keeps a process alive. A thread that is taking the run's lease
 * (the lease is in the store, the run not yet registered) answers once it
 * registered the run, and not at all if it did not get the lease.
 * When no thread acknowledges within {@link ACK_MS}, no thread drives the
 * run (its driver thread was terminated with the lease held): the caller
 * gets `RunLockedError`, and the lease expires after its TTL.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { BroadcastChannel } from "node:worker_threads";
import { WaitAlreadyResolvedError, WaitNotFoundError } from "../engine/errors.js";
import { InputValidationError, type ValidationIssue } from "../graph/errors.js";
import { deserialize } from "../persistence/serialization.js";
import { errorFromRecord, toErrorRecord } from "../state/error-record.js";
import type { RunStore } from "../persistence/run-store.js";
import { RunNotFoundError } from "./errors.js";
import { acquiringRun, activeRun, registerAcquiring, registerActiveRun, type ActiveRun } from "./active-runs.js";

const CHANNEL = "taskloom:live-runs";
/** How long the caller waits for the driving thread to acknowledge (real time; the driver may be busy). */
export const ACK_MS = 5_000;

interface DeliverRequest {
  readonly kind: "deliver";
  readonly id: string;
  readonly location: string;
  readonly runId: string;
  readonly key: string;
  readonly payload: string;
  readonly instance?: string;
}

type Answer = { readonly kind: "ack" | "done" | "stopped"; readonly id: string } | { readonly kind: "error"; readonly id: string; readonly error: SentError };

interface SentError {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
  readonly openKeys?: readonly string[];
  readonly issues?: readonly ValidationIssue[];
}

let listener: BroadcastChannel | undefined;

/**
 * Registers a run driven in this thread (see `registerActiveRun`) and,
 * while this thread drives any run, answers other threads' deliveries.
 * Returns the function that unregisters it.
 */
export function registerLiveRun(store: RunStore, runId: string, run: ActiveRun): () => void {
  const unregister = registerActiveRun(store, runId, run);
  listen();
  return unregister;
}

/**
 * Notes that this thread is taking run `runId`'s lease to drive it (see
 * `registerAcquiring`), and answers other threads' deliveries from now on:
 * one that comes before the run is registered waits for it. Returns the
 * function to call once the run is registered (or the lease was not taken).
 */
export function registerAcquiringRun(store: RunStore, runId: string): () => void {
  const done = registerAcquiring(store, runId);
  listen();
  return done;
}

function listen(): void {
  if (listener) return;
  // The channel stays open (unref'd, so it never keeps a process or thread alive) once a run was driven here:
  // opening and closing one per run cost more than a short run itself. A request for a run this thread does
  // not drive gets no answer, as before.
  listener = new BroadcastChannel(CHANNEL);
  listener.unref();
  listener.onmessage = (event: unknown) => void answer((event as { data: unknown }).data as DeliverRequest);
}

async function answer(request: DeliverRequest): Promise<void> {
  if (request?.kind !== "deliver") return;
  let run = activeRun(request.location, request.runId);
  if (!run) {
    // This thread may be taking the run's lease: once it registered the run, it answers; if it did not get the
    // lease, it says nothing (the thread that holds it, if any, answers).
    const starting = acquiringRun(request.location, request.runId);
    if (!starting) return;
    await starting;
    run = activeRun(request.location, request.runId);
    if (!run) return;
  }
  // Its own channel: the listener closes when the run is unregistered, before a "stopped" answer goes out.
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref();
  const reply = (a: Answer): void => channel.postMessage(a);
  reply({ kind: "ack", id: request.id });
  try {
    if (await run.deliver(request.key, deserialize(request.payload), request.instance)) reply({ kind: "done", id: request.id });
    else {
      await run.stopped;
      reply({ kind: "stopped", id: request.id });
    }
  } catch (error) {
    reply({ kind: "error", id: request.id, error: sendable(error) });
  } finally {
    channel.close();
  }
}

function sendable(error: unknown): SentError {
  const record = toErrorRecord(error);
  const e = error as { openKeys?: readonly string[]; issues?: readonly ValidationIssue[] };
  return {
    name: record.name,
    message: record.message,
    ...(record.code !== undefined && { code: record.code }),
    ...(Array.isArray(e.openKeys) && { openKeys: [...(e.openKeys as readonly string[])] }),
    ...(Array.isArray(e.issues) && { issues: JSON.parse(JSON.stringify(e.issues)) as ValidationIssue[] }),
  };
}

function rebuilt(error: SentError, runId: string, key: string, instance: string | undefined): Error {
  switch (error.code) {
    case "RUN_NOT_FOUND":
      return new RunNotFoundError(runId, instance);
    case "WAIT_NOT_FOUND":
      return new WaitNotFoundError(runId, key, error.openKeys ?? []);
    case "WAIT_ALREADY_RESOLVED":
      return new WaitAlreadyResolvedError(runId, key);
    case "INPUT_VALIDATION":
      return new InputValidationError(`the payload of wait "${key}"`, error.issues ?? []);
    default:
      return errorFromRecord(error);
  }
}

/**
 * Asks the other threads of this process to deliver the event to run
 * `runId` kept at `location` (only to the run with mark `instance`, when given). Resolves to `"delivered"`, `"stopped"` (go
 * through the store now) or `"nobody"` (no thread drives it); rejects with
 * the driving thread's refusal.
 */
export function deliverInAnotherThread(
  location: string,
  runId: string,
  key: string,
  payload: string,
  instance?: string,
): Promise<"delivered" | "stopped" | "nobody"> {
  const id = randomUUID();
  const channel = new BroadcastChannel(CHANNEL);
  return new Promise<"delivered" | "stopped" | "nobody">((resolve, reject) => {
    const timer = setTimeout(() => resolve("nobody"), ACK_MS);
    channel.onmessage = (event: unknown) => {
      const a = (event as { data: unknown }).data as Answer;
      if (a?.id !== id) return;
      if (a.kind === "ack") return clearTimeout(timer);
      clearTimeout(timer);
      if (a.kind === "error") reject(rebuilt(a.error, runId, key, instance));
      else resolve(a.kind === "done" ? "delivered" : "stopped");
    };
    const request: DeliverRequest = { kind: "deliver", id, location, runId, key, payload, ...(instance !== undefined && { instance }) };
    channel.postMessage(request);
  }).finally(() => channel.close());
}
