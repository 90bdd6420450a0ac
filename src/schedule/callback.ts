/**
 * Callbacks: when a scheduled run ends, its result is POSTed as JSON to
 * the schedule's `callbackUrl`. With a secret, the body is signed with
 * HMAC-SHA256 and the signature sent as `X-Taskloom-Signature:
 * sha256=<hex>`; receivers check it with {@link verifySignature}.
 *
 * Delivery is retried with exponential backoff, slept on the injected
 * clock, until a 2xx response or the last attempt; a redirect, a 4xx or
 * 5xx, a refused connection and a timeout all count as failed attempts.
 * Each attempt is reported to the caller (the scheduler records it in the
 * schedule's history, so a restarted scheduler continues an unfinished
 * delivery). A callback never changes its run: the run's result is saved
 * before the first attempt.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { sleep, type Clock } from "../scheduler/clock.js";
import type { ErrorRecord } from "../state/records.js";
import type { CallbackAttempt, CallbackRetry } from "./schedule-record.js";

/** The header that carries the signature. */
export const SIGNATURE_HEADER = "X-Taskloom-Signature";

/** The JSON body POSTed to a callback URL. */
export interface CallbackPayload {
  readonly scheduleId: string;
  readonly runId: string;
  /** The slot, as an ISO timestamp. */
  readonly slot: string;
  readonly status: "succeeded" | "failed" | "waiting" | "cancelled";
  /** The graph outputs, when the run succeeded. */
  readonly outputs?: unknown;
  /** Why the run failed: name, message, code. */
  readonly error?: { readonly name: string; readonly message: string; readonly code?: string };
  readonly durationMs: number;
}

/**
 * The signature of `body` under `secret`: `sha256=<hex of HMAC-SHA256>`.
 *
 * @example
 * ```ts
 * signBody('{"runId":"r"}', "s3cret"); // "sha256=…"
 * ```
 */
export function signBody(body: string | Uint8Array, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/**
 * True when `header` (the `X-Taskloom-Signature` value) is the signature
 * of `body` (the raw request body, exactly as received) under `secret`.
 * Compares in constant time.
 *
 * @example
 * ```ts
 * const ok = verifySignature(rawBody, req.headers["x-taskloom-signature"], process.env.HOOK_SECRET!);
 * if (!ok) return res.writeHead(401).end();
 * ```
 */
export function verifySignature(body: string | Uint8Array, header: string | readonly string[] | undefined | null, secret: string): boolean {
  if (typeof header !== "string" || typeof secret !== "string" || secret.length === 0) return false;
  const expected = Buffer.from(signBody(body, secret));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The callback body for a run's result: JSON, with `BigInt` as a string, `Map` as an object, `Set` as an array. */
export function callbackBody(payload: CallbackPayload): string {
  return JSON.stringify(payload, (_key, v: unknown) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Map) return Object.fromEntries([...(v as Map<unknown, unknown>).entries()].map(([k, x]) => [String(k), x]));
    if (v instanceof Set) return [...(v as Set<unknown>)];
    return v;
  });
}

/** The short error of a payload: name, message and code of a stored error. */
export function payloadError(error: ErrorRecord | undefined): CallbackPayload["error"] {
  if (!error) return undefined;
  return { name: error.name, message: error.message, ...(error.code !== undefined && { code: error.code }) };
}

/**
 * The delay before attempt `attempt` (2 for the first retry):
 * `initialMs * factor^(attempt - 2)`, at most `maxMs`.
 *
 * @example
 * ```ts
 * callbackDelay({ maxAttempts: 5, initialMs: 1_000, factor: 2, maxMs: 60_000, timeoutMs: 10_000 }, 3); // 2_000
 * ```
 */
export function callbackDelay(retry: CallbackRetry, attempt: number): number {
  return Math.min(retry.maxMs, retry.initialMs * retry.factor ** Math.max(0, attempt - 2));
}

/** What {@link deliverCallback} needs. */
export interface DeliveryOptions {
  readonly url: string;
  readonly body: string;
  readonly secret?: string | undefined;
  readonly retry: CallbackRetry;
  readonly clock: Clock;
  /** Attempts already made (a delivery continued after a restart). */
  readonly previous?: readonly CallbackAttempt[];
  /** Stops between attempts (the scheduler is stopping); the delivery stays unfinished. */
  readonly signal?: AbortSignal;
  /** Called after every attempt, before the next; the scheduler records it. */
  onAttempt(attempt: CallbackAttempt, done: boolean, delivered: boolean): Promise<void> | void;
  /** Extra headers (the scheduler names the schedule and run). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * POSTs `body` to `url` until a 2xx response or the last attempt. Resolves
 * to true when delivered; never rejects for HTTP or network failures.
 *
 * @example
 * ```ts
 * await deliverCallback({ url, body, secret, retry: DEFAULT_CALLBACK_RETRY, clock: systemClock, onAttempt: (a) => console.log(a) });
 * ```
 */
export async function deliverCallback(options: DeliveryOptions): Promise<boolean> {
  const { retry, clock, signal } = options;
  const previous = options.previous ?? [];
  for (let attempt = previous.length + 1; attempt <= retry.maxAttempts; attempt++) {
    if (attempt > 1) {
      const last = previous[previous.length - 1];
      // After a restart, the wait counts from the attempt before it.
      const since = attempt === previous.length + 1 && last ? clock.now() - last.at : 0;
      const wait = Math.max(0, callbackDelay(retry, attempt) - since);
      try {
        if (wait > 0) await sleep(clock, wait, signal);
      } catch {
        return false;
      }
      if (signal?.aborted) return false;
    }
    const result = await post(options);
    const delivered = result.status !== undefined && result.status >= 200 && result.status < 300;
    const done = delivered || attempt >= retry.maxAttempts;
    await options.onAttempt(result, done, delivered);
    if (delivered) return true;
  }
  return false;
}

async function post(options: DeliveryOptions): Promise<CallbackAttempt> {
  const at = options.clock.now();
  const started = performance.now();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "taskloom-scheduler",
    ...options.headers,
  };
  if (options.secret !== undefined) headers[SIGNATURE_HEADER] = signBody(options.body, options.secret);
  try {
    const response = await fetch(options.url, {
      method: "POST",
      headers,
      body: options.body,
      redirect: "manual",
      signal: AbortSignal.timeout(options.retry.timeoutMs),
    });
    await response.arrayBuffer().catch(() => undefined);
    return { at, status: response.status, durationMs: Math.round(performance.now() - started) };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? (err instanceof Error ? err.message : String(err));
    return { at, error: reason, durationMs: Math.round(performance.now() - started) };
  }
}
