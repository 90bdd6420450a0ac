/**
 * Callbacks: when a scheduled run ends, its result is POSTed as JSON to
 * the schedule's `callbackUrl`. With a secret, each attempt is signed:
 * `X-Taskloom-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>">` (the scheme of the large webhook providers). The
 * timestamp is signed with the body, so a captured callback cannot be
 * replayed later: {@link verifySignature} refuses a signature whose
 * timestamp is further than a tolerance (default 5 minutes) from now.
 *
 * Only http and https URLs without credentials are delivered. The URL is
 * checked again before delivery (the stored schedule may have been edited
 * since `schedule()` checked it): anything else is recorded as one failed
 * attempt with the reason, and nothing is sent.
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
import { assertKnownKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { sleep, systemClock, type Clock } from "../core/clock.js";
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
  /** The schedule's `metadata`, when it has some. */
  readonly metadata?: unknown;
}

/** How long a signature stays acceptable by default: 5 minutes either way (ms). */
export const DEFAULT_SIGNATURE_TOLERANCE_MS = 5 * 60_000;

/** Options of {@link signBody}. */
export interface SignOptions {
  /** The time to sign, epoch ms (a `Date` works too). @default now */
  readonly now?: number | Date;
}

/**
 * The `X-Taskloom-Signature` value for `body` under `secret`:
 * `t=<unix seconds>,v1=<hex of HMAC-SHA256 over "<t>.<body>">`.
 *
 * @example
 * ```ts
 * signBody('{"runId":"r"}', "s3cret"); // "t=1763892000,v1=…"
 * ```
 */
export function signBody(body: string | Uint8Array, secret: string, options: SignOptions = {}): string {
  assertKnownKeys("signBody", options, ["now"]);
  assertBody(body);
  if (typeof secret !== "string") throw new InvalidOptionError("secret", "must be a string (the callbackSecret of the schedule)");
  const now = options.now === undefined ? Date.now() : options.now instanceof Date ? options.now.getTime() : options.now;
  if (!Number.isFinite(now)) throw new InvalidOptionError("now", "must be a time (epoch ms or a Date)");
  const t = Math.floor(now / 1_000);
  return `t=${t},v1=${hmac(t, body, secret)}`;
}

/**
 * Refuses a body that is not the raw bytes or text: a parsed JSON object
 * (`express.json()`'s `req.body`) would otherwise fail deep in `crypto`
 * with a raw TypeError, and could never verify anyway.
 */
function assertBody(body: unknown): void {
  if (typeof body !== "string" && !(body instanceof Uint8Array)) {
    throw new InvalidOptionError(
      "body",
      "must be the raw request body (a string or bytes, exactly as received), not a parsed object: use express.raw() or read the stream",
    );
  }
}

function hmac(t: number | string, body: string | Uint8Array, secret: string): string {
  return createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");
}

/** Options of {@link verifySignature}. */
export interface VerifyOptions {
  /**
   * How far the signed timestamp may be from now, either way (ms). Pass
   * `Infinity` to accept any age (no replay protection: only do so knowingly).
   * @default 300_000 (5 minutes)
   */
  readonly toleranceMs?: number;
  /** "Now", epoch ms or a `Date` (tests). @default the clock's now */
  readonly now?: number | Date;
  /** The clock "now" is read from. @default the system clock */
  readonly clock?: Pick<Clock, "now">;
}

/**
 * True when `header` (the `X-Taskloom-Signature` value) signs `body` (the
 * raw request body, exactly as received) under `secret`, with a timestamp
 * within `toleranceMs` of now (default 5 minutes). Compares in constant
 * time. Several `v1=` entries are allowed (any one may match). A header
 * given as an array (`req.headersDistinct`) is read as its values joined
 * with commas, as Node joins a repeated header: one value verifies as the
 * string would.
 *
 * @example
 * ```ts
 * const ok = verifySignature(rawBody, req.headers["x-taskloom-signature"], process.env.HOOK_SECRET!);
 * if (!ok) return res.writeHead(401).end();
 * ```
 */
export function verifySignature(
  body: string | Uint8Array,
  header: string | readonly string[] | undefined | null,
  secret: string,
  options: VerifyOptions = {},
): boolean {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("options", "of verifySignature must be an object");
  assertKnownKeys("verifySignature", options, ["toleranceMs", "now", "clock"]);
  const tolerance = options.toleranceMs ?? DEFAULT_SIGNATURE_TOLERANCE_MS;
  if (typeof tolerance !== "number" || Number.isNaN(tolerance) || tolerance < 0) {
    throw new InvalidOptionError("toleranceMs", `must be a number of ms of at least 0, or Infinity (got ${String(tolerance)})`);
  }
  assertBody(body);
  if (options.clock !== undefined && typeof (options.clock as Partial<Clock> | null)?.now !== "function") {
    throw new InvalidOptionError("clock", "must have now() (a Clock, e.g. a ManualClock), or be left out");
  }
  const now = options.now === undefined ? (options.clock ?? systemClock).now() : options.now instanceof Date ? options.now.getTime() : options.now;
  if (typeof now !== "number" || !Number.isFinite(now)) throw new InvalidOptionError("now", "must be a time (epoch ms or a Date)");
  const text = typeof header === "string" ? header : Array.isArray(header) && header.every((h) => typeof h === "string") ? header.join(",") : undefined;
  if (text === undefined || typeof secret !== "string" || secret.length === 0) return false;
  let t: string | undefined;
  const given: string[] = [];
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") t = t === undefined ? value : "";
    else if (key === "v1") given.push(value);
  }
  if (t === undefined || !/^\d{1,15}$/.test(t) || given.length === 0) return false;
  if (tolerance !== Infinity && Math.abs(now - Number(t) * 1_000) > tolerance) return false;
  const expected = Buffer.from(hmac(t, body, secret));
  return given.some((v) => {
    const candidate = Buffer.from(v);
    return candidate.length === expected.length && timingSafeEqual(candidate, expected);
  });
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
  /**
   * Asked before each attempt after a wait (a backoff, or the rest of one
   * after a restart): false stops the delivery unfinished, sending nothing
   * (the scheduler lost the schedule's lease meanwhile: its new holder
   * delivers). @default always true
   */
  readonly mayAttempt?: () => Promise<boolean> | boolean;
  /** Extra headers (the scheduler names the schedule and run). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Why `url` must not be delivered to (see `callbackUrlProblem`): recorded as one final failed attempt, nothing is sent. */
  readonly refused?: string | undefined;
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
  if (options.refused !== undefined) {
    const attempt = { at: clock.now(), error: `not sent: the callback URL ${options.refused}`, durationMs: 0 };
    await options.onAttempt(attempt, true, false);
    return false;
  }
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
      if (options.mayAttempt !== undefined && !(await options.mayAttempt())) return false;
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
  if (options.secret !== undefined) headers[SIGNATURE_HEADER] = signBody(options.body, options.secret, { now: at });
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
