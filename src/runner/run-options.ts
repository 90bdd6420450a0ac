/**
 * The options of `run` and `runAsync`: their type (each default in its
 * TSDoc), their validation at the boundary (every option is checked before
 * anything runs, and a bad one throws {@link InvalidOptionError} naming
 * it), and their resolution into a {@link RunConfig}.
 *
 * Invariant: the options stop here. `run()` validates and resolves them
 * once; every default is applied by {@link resolveRunOptions} (or by the
 * lower-layer constant it names) and nowhere below: the session, the lease
 * keeper, run preparation and the engine's wiring read the frozen
 * `RunConfig`, never the raw options.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import type { ListenerErrorHandler } from "../events/run-events.js";
import { DEFAULT_SNAPSHOT_POLICY, validateSnapshotPolicy, type SnapshotPolicy } from "../persistence/snapshot-policy.js";
import type { RunStore } from "../persistence/run-store.js";
import { systemClock, type Clock } from "../core/clock.js";
import { DEFAULT_MAX_VISITS } from "../engine/forward-scheduler.js";
import type { NodeExecutor } from "../engine/node-executor.js";
import { resolveRetryPolicy, type RetryPolicy } from "../engine/retry-policy.js";
import { validateDuration, validateRetryOptions, type BackoffOptions, type RetryOptions } from "../graph/retry-options.js";
import { assertRunId, newRunId } from "../core/run-id.js";
import { valueText } from "../core/text.js";
import { defaultStore } from "./default-store.js";

/**
 * Options of a run.
 *
 * @example
 * ```ts
 * await runAsync(g, inputs, { runId: "etl-2026-11-23", maxConcurrency: 16, retry: { maxAttempts: 5 } });
 * ```
 */
export interface RunOptions {
  /** The run id: give one to make the run resumable by it. @default a new `run-<uuid>` */
  readonly runId?: string;
  /** Where the run is kept. @default a `LowdbStore` in `TASKLOOM_DIR` or `./.taskloom` */
  readonly store?: RunStore;
  /** At most this many node bodies at once (`Infinity` for no limit). @default 8 */
  readonly maxConcurrency?: number;
  /** Retry policy for every node (a node's own `retry` wins field by field). @default `{ maxAttempts: 3 }` */
  readonly retry?: RetryOptions;
  /** At most this many visits of one node through routing loops; beyond it the run fails with `LoopLimitExceeded`. A node's own `maxVisits` wins. @default 100 */
  readonly maxVisits?: number;
  /** Let independent branches finish after a node fails; the run still fails. @default false */
  readonly continueOnError?: boolean;
  /** When the run's state is written. @default "group" */
  readonly snapshot?: SnapshotPolicy;
  /** Cancels the run when aborted. */
  readonly signal?: AbortSignal;
  /** Resume a stored run even though the graph's fingerprint changed. @default false */
  readonly allowGraphChange?: boolean;
  /** How long the run's lease lasts without renewal (ms, at least 100); it is renewed every third of that. @default 30_000 */
  readonly leaseTtlMs?: number;
  /**
   * Take the run's lease even though another driver holds it and it has
   * not expired: pass it only when you know that driver is dead (a
   * coordinator on another host that was killed; on this host a dead
   * holder is detected without it). Its later writes to a store with
   * fencing (such as `RedisStore`) are refused. @default false
   */
  readonly takeover?: boolean;
  /** Runs node bodies elsewhere, such as `bullmqExecutor` from `taskloom/bullmq`. @default this process */
  readonly executor?: NodeExecutor;
  /** Recorded with the run. */
  readonly sessionId?: string;
  /** Recorded with the run. */
  readonly agentId?: string;
  /** Recorded with the run. */
  readonly appId?: string;
  /** The clock (tests pass a `ManualClock`). @default the system clock */
  readonly clock?: Clock;
  /** Random numbers in [0, 1) for backoff jitter. @default Math.random */
  readonly random?: () => number;
  /** Called when an event listener throws. @default logs with console.error */
  readonly onListenerError?: ListenerErrorHandler;
  /**
   * A deadline for the whole run (ms from its start, at most 2147483647):
   * when it passes, the run is cancelled and rejects with `RunTimeoutError`
   * (`RUN_TIMEOUT`). The deadline is stored with the run: a resume keeps it
   * (and fails at once once it passed) unless it gives a new `timeoutMs`,
   * which counts from the resume. @default no deadline
   */
  readonly timeoutMs?: number;
}

/** Default concurrency. */
export const DEFAULT_MAX_CONCURRENCY = 8;
/** Default lease TTL (ms). */
export const DEFAULT_LEASE_TTL_MS = 30_000;

/**
 * A run's options with every default applied (see {@link resolveRunOptions}):
 * what the session and everything below it read. Frozen; a field is
 * optional (`| undefined`) only where the option has no default.
 */
export interface RunConfig {
  readonly runId: string;
  readonly store: RunStore;
  readonly maxConcurrency: number;
  /** The run-level retry policy, laid over the defaults ({@link DEFAULT_RETRY}); a node's own `retry` still wins field by field. */
  readonly retry: RetryPolicy;
  readonly maxVisits: number;
  readonly continueOnError: boolean;
  readonly snapshot: SnapshotPolicy;
  readonly signal: AbortSignal | undefined;
  readonly allowGraphChange: boolean;
  readonly leaseTtlMs: number;
  readonly takeover: boolean;
  readonly executor: NodeExecutor | undefined;
  readonly sessionId: string | undefined;
  readonly agentId: string | undefined;
  readonly appId: string | undefined;
  readonly clock: Clock;
  readonly random: () => number;
  /** `undefined` means the events' own default (logs with console.error). */
  readonly onListenerError: ListenerErrorHandler | undefined;
  /** `undefined`: keep the stored deadline (a new run has none). */
  readonly timeoutMs: number | undefined;
}

/** The run-level policy of every run without retry options (frozen: all those runs share it). */
const DEFAULT_RUN_RETRY: RetryPolicy = freezePolicy(resolveRetryPolicy(undefined));

/** The policy last resolved from a retry options object, with the fields it was resolved from. */
interface ResolvedRetry {
  readonly from: RetryOptions;
  readonly backoff: BackoffOptions | undefined;
  readonly policy: RetryPolicy;
}
const RUN_RETRY = new WeakMap<RetryOptions, ResolvedRetry>();

/** The same options with the same field values (and backoff fields) as `r.from`: nothing to resolve again. */
function sameRetry(o: RetryOptions, r: ResolvedRetry): boolean {
  const f = r.from;
  if (o.maxAttempts !== f.maxAttempts || o.retryOn !== f.retryOn || o.timeoutMs !== f.timeoutMs || o.backoff !== r.backoff) return false;
  const b = o.backoff;
  const rb = f.backoff;
  return b === undefined || (rb !== undefined && b.initialMs === rb.initialMs && b.factor === rb.factor && b.maxMs === rb.maxMs && b.jitter === rb.jitter);
}

/**
 * The run-level policy of `retry`: one frozen object for every run without
 * retry options, and one per options object while its fields stay the same
 * (a stage runner passes one object to each of its tasks' runs). Activation
 * policies are cached per run-level policy object (activation-defs.ts
 * `policyOf`), so a run that resolved its policy again would resolve its
 * nodes' again too.
 */
function runRetryPolicy(retry: RetryOptions | undefined): RetryPolicy {
  if (retry === undefined) return DEFAULT_RUN_RETRY;
  const known = RUN_RETRY.get(retry);
  if (known !== undefined && sameRetry(retry, known)) return known.policy;
  const policy = freezePolicy(resolveRetryPolicy(retry));
  // A copy of the fields it was resolved from (the caller's object may change later).
  const from: RetryOptions = { ...retry, ...(retry.backoff !== undefined && { backoff: { ...retry.backoff } }) };
  RUN_RETRY.set(retry, { from, backoff: retry.backoff, policy });
  return policy;
}

function freezePolicy(policy: RetryPolicy): RetryPolicy {
  Object.freeze(policy.backoff);
  return Object.freeze(policy);
}

/**
 * Applies every default of {@link RunOptions}, once, to options already
 * validated by {@link validateRunOptions}; returns them frozen. A run id is
 * generated (before the default store is opened) when none was given.
 */
export function resolveRunOptions(options: RunOptions = {}): RunConfig {
  const runId = options.runId ?? newRunId();
  const clock = options.clock ?? systemClock;
  const store = options.store ?? defaultStore();
  return Object.freeze({
    runId,
    store,
    maxConcurrency: options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
    retry: runRetryPolicy(options.retry),
    maxVisits: options.maxVisits ?? DEFAULT_MAX_VISITS,
    continueOnError: options.continueOnError ?? false,
    snapshot: options.snapshot ?? DEFAULT_SNAPSHOT_POLICY,
    signal: options.signal,
    allowGraphChange: options.allowGraphChange ?? false,
    leaseTtlMs: options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
    takeover: options.takeover ?? false,
    executor: options.executor,
    sessionId: options.sessionId,
    agentId: options.agentId,
    appId: options.appId,
    clock,
    random: options.random ?? Math.random,
    onListenerError: options.onListenerError,
    timeoutMs: options.timeoutMs,
  });
}

const KNOWN = optionKeys<RunOptions>({
  runId: true,
  store: true,
  maxConcurrency: true,
  retry: true,
  continueOnError: true,
  snapshot: true,
  signal: true,
  allowGraphChange: true,
  leaseTtlMs: true,
  takeover: true,
  executor: true,
  sessionId: true,
  agentId: true,
  appId: true,
  clock: true,
  random: true,
  onListenerError: true,
  maxVisits: true,
  timeoutMs: true,
});

/** The longest `timeoutMs` a timer can wait for (2^31 - 1 ms, about 24.8 days). */
export const MAX_RUN_TIMEOUT_MS = 2_147_483_647;

/** The longest delay a Node timer holds (2^31 - 1 ms): the lease is renewed every third of `leaseTtlMs`, so a longer TTL is refused. */
const MAX_LEASE_TTL_MS = MAX_RUN_TIMEOUT_MS;

/**
 * The shortest lease TTL (ms). The lease is renewed every third of its TTL
 * by a write to the store; a TTL of a few milliseconds expires between two
 * renewals of a live run (one slow write or event-loop turn is enough), so
 * another process may take the run over and run its nodes again while the
 * first still runs them, and the renewals alone keep the store busy.
 */
export const MIN_LEASE_TTL_MS = 100;

/** `leaseTtlMs` (a run's, or a `Scheduler`'s) checked: a finite number of ms from {@link MIN_LEASE_TTL_MS} to 2^31 - 1. */
export function validateLeaseTtl(value: unknown): void {
  validateDuration(value, "leaseTtlMs", false);
  if (typeof value !== "number") return;
  if (value < MIN_LEASE_TTL_MS) {
    throw new InvalidOptionError(
      "leaseTtlMs",
      `must be at least ${MIN_LEASE_TTL_MS} ms (got ${value}): the lease is renewed every third of it, and a shorter one expires between renewals ` +
        `while its holder is live, so another process could take over what it holds (and run a run's nodes again). The default, 30000, suits most uses`,
    );
  }
  if (value > MAX_LEASE_TTL_MS) throw new InvalidOptionError("leaseTtlMs", `must be at most ${MAX_LEASE_TTL_MS} ms (about 24.8 days; got ${value})`);
}

/** Throws {@link InvalidOptionError} (or `InvalidRunIdError`) unless `options` are valid. */
export function validateRunOptions(options: unknown): asserts options is RunOptions {
  if (options === undefined) return;
  if (options === null || typeof options !== "object" || Array.isArray(options)) throw new InvalidOptionError("options", "must be an object");
  const o = options as Record<string, unknown>;
  assertKnownKeys("the run", o, KNOWN);
  if (o.runId !== undefined) assertRunId(o.runId);
  const mc = o.maxConcurrency;
  if (mc !== undefined && !(mc === Infinity || (typeof mc === "number" && Number.isInteger(mc) && mc >= 1))) {
    throw new InvalidOptionError("maxConcurrency", `must be a whole number of at least 1, or Infinity (got ${valueText(mc)})`);
  }
  const mv = o.maxVisits;
  if (mv !== undefined && !(typeof mv === "number" && Number.isInteger(mv) && mv >= 1)) {
    throw new InvalidOptionError("maxVisits", `must be a whole number of at least 1 (got ${valueText(mv)})`);
  }
  validateRetryOptions(o.retry, "retry");
  validateSnapshotPolicy(o.snapshot);
  validateLeaseTtl(o.leaseTtlMs);
  validateDuration(o.timeoutMs, "timeoutMs", false);
  if (typeof o.timeoutMs === "number" && o.timeoutMs > MAX_RUN_TIMEOUT_MS) {
    throw new InvalidOptionError("timeoutMs", `must be at most ${MAX_RUN_TIMEOUT_MS} ms (about 24.8 days; got ${o.timeoutMs})`);
  }
  for (const key of ["continueOnError", "allowGraphChange", "takeover"] as const) {
    if (o[key] !== undefined && typeof o[key] !== "boolean") throw new InvalidOptionError(key, "must be true or false");
  }
  for (const key of ["sessionId", "agentId", "appId"] as const) {
    if (o[key] !== undefined && typeof o[key] !== "string") throw new InvalidOptionError(key, "must be a string");
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new InvalidOptionError("signal", "must be an AbortSignal");
  if (o.store !== undefined) assertStore(o.store);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- o.executor is unknown here: without the assertion tsc rejects .execute
  if (o.executor !== undefined && typeof (o.executor as Partial<NodeExecutor> | null)?.execute !== "function") {
    throw new InvalidOptionError("executor", "must have an execute(activation, context) method (see NodeExecutor)");
  }
  if (o.clock !== undefined) {
    // null has no properties to read: it is refused like any other value without the methods.
    const c = (o.clock ?? {}) as Partial<Clock>;
    if (typeof c.now !== "function" || typeof c.setTimeout !== "function" || typeof c.clearTimeout !== "function") {
      throw new InvalidOptionError("clock", "must have now(), setTimeout(fn, ms) and clearTimeout(handle)");
    }
  }
  for (const key of ["random", "onListenerError"] as const) {
    if (o[key] !== undefined && typeof o[key] !== "function") throw new InvalidOptionError(key, "must be a function");
  }
}

const STORE_METHODS = ["writeSnapshot", "append", "load", "list", "delete", "acquireLease", "renewLease", "releaseLease", "close"] as const;

/** Throws {@link InvalidOptionError} unless `store` implements `RunStore`. */
export function assertStore(store: unknown): asserts store is RunStore {
  const missing = STORE_METHODS.filter((m) => typeof (store as Record<string, unknown> | null)?.[m] !== "function");
  if (missing.length > 0) throw new InvalidOptionError("store", `must implement RunStore (missing ${missing.join(", ")})`);
}
