/**
 * Errors of the engine, the run loop over one TaskGraph: a node that ran out
 * of attempts or timed out, a routing loop past its limit or an unknown
 * route, a cancelled run, waits (timed out, unknown, already resolved) and
 * a graphFn that replays differently.
 *
 * Also the errors a save of run state fails with ({@link PersistenceError},
 * {@link LeaseLostError}, {@link ValueNotStorableError}): persistence raises
 * them, but the engine stops a run with them (and wraps any other failure of
 * a save in a `PersistenceError`), so they live here, at the lowest layer
 * that handles them; persistence, above, imports them.
 *
 * @module
 */
import { describe, TaskloomError } from "../errors.js";

/**
 * A node exhausted its attempts (or threw {@link NonRetryableError}) and
 * the run failed. `cause` is the last attempt's error; `causeName` and
 * `causeCode` are its class name and code (such as `UnknownPathwayError`
 * and `UNKNOWN_PATHWAY` when the cause is a taskloom error), so callers
 * branch on the cause's code without digging into `cause`.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof NodeFailedError) console.log(e.nodeId, e.attempts, e.causeCode ?? e.cause) }
 * ```
 */
export class NodeFailedError extends TaskloomError {
  /** The node (activation) id that failed. */
  readonly nodeId: string;
  /** How many attempts ran. */
  readonly attempts: number;
  /** The run the node belongs to. */
  readonly runId: string;
  /** The class name of the cause (an `Error`'s `name`), or undefined when a non-error was thrown. */
  readonly causeName: string | undefined;
  /** The cause's `code` when it has a string one (a taskloom code such as `UNKNOWN_PATHWAY`, or a Node code such as `ECONNRESET`). */
  readonly causeCode: string | undefined;

  constructor(runId: string, nodeId: string, attempts: number, cause: unknown) {
    super(
      "NODE_FAILED",
      `node "${nodeId}" of run "${runId}" failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${describe(cause)}. ` +
        `Fix the cause and call runAsync again with runId "${runId}": succeeded nodes are kept.`,
      { cause },
    );
    this.nodeId = nodeId;
    this.attempts = attempts;
    this.runId = runId;
    this.causeName = cause instanceof Error ? cause.name : undefined;
    const code = cause instanceof Error ? (cause as { code?: unknown }).code : undefined;
    this.causeCode = typeof code === "string" ? code : undefined;
  }
}

/**
 * An attempt ran longer than its `timeoutMs`; its signal was aborted with
 * this error and the attempt counts as failed (the retry policy applies).
 *
 * @example
 * ```ts
 * retry: { retryOn: (err) => !(err instanceof NodeTimeoutError) }
 * ```
 */
export class NodeTimeoutError extends TaskloomError {
  /** The node (activation) id. */
  readonly nodeId: string;
  /** The limit that was exceeded. */
  readonly timeoutMs: number;

  constructor(nodeId: string, timeoutMs: number) {
    super("NODE_TIMEOUT", `node "${nodeId}" timed out after ${timeoutMs} ms. Raise timeoutMs or make the node honour its signal sooner.`);
    this.nodeId = nodeId;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A loop through routing edges visited a node more than `maxVisits` times.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof LoopLimitExceeded) console.log(e.nodeId, e.maxVisits) }
 * ```
 */
export class LoopLimitExceeded extends TaskloomError {
  /** The node whose visits ran out. */
  readonly nodeId: string;
  /** The limit. */
  readonly maxVisits: number;

  constructor(nodeId: string, maxVisits: number) {
    super("LOOP_LIMIT", `node "${nodeId}" was visited more than ${maxVisits} times. Check the loop's exit route, or raise maxVisits.`);
    this.nodeId = nodeId;
    this.maxVisits = maxVisits;
  }
}

/**
 * The same class as {@link LoopLimitExceeded}, under a name with the usual
 * `Error` suffix. `LoopLimitExceeded` stays the contract name; either name
 * works with `instanceof`.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof LoopLimitExceededError) console.log(e.nodeId) }
 * ```
 */
export const LoopLimitExceededError = LoopLimitExceeded;
/** The same type as {@link LoopLimitExceeded}. */
export type LoopLimitExceededError = LoopLimitExceeded;

/**
 * The run was cancelled (by `handle.cancel(reason)` or the caller's signal).
 *
 * @example
 * ```ts
 * handle.cancel("user pressed stop"); await handle.result(); // rejects with RunCancelledError
 * ```
 */
export class RunCancelledError extends TaskloomError {
  /** The run. */
  readonly runId: string;
  /** Why it was cancelled. */
  readonly reason: string;

  constructor(runId: string, reason: string) {
    super("RUN_CANCELLED", `run "${runId}" was cancelled: ${reason}. Call runAsync with runId "${runId}" to continue it.`);
    this.runId = runId;
    this.reason = reason;
  }
}

/**
 * A routing node returned a route it does not declare, or did not return
 * `route(name, value)` at all; or a node without `routes` returned one.
 * The node fails at once (no retries): the choice is a bug, not a glitch.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof NodeFailedError && e.cause instanceof UnknownRouteError) console.log(e.cause.declared) }
 * ```
 */
export class UnknownRouteError extends TaskloomError {
  /** The node. */
  readonly nodeId: string;
  /** The route it chose, or undefined when it returned no route. */
  readonly route: string | undefined;
  /** The routes it declares. */
  readonly declared: readonly string[];

  constructor(nodeId: string, route: string | undefined, declared: readonly string[]) {
    const names = declared.map((d) => `"${d}"`).join(", ");
    super(
      "UNKNOWN_ROUTE",
      declared.length === 0
        ? `node "${nodeId}" returned route("${route ?? ""}") but declares no routes. Add { routes: { "${route ?? ""}": [target ids] } } to its options, or return a plain value.`
        : route === undefined
          ? `node "${nodeId}" declares routes ${names} but did not return route(name, value). Return route() with one of them.`
          : `node "${nodeId}" chose route "${route}", which it does not declare; its routes are ${names}. Return one of them, or declare "${route}" in its routes.`,
    );
    this.nodeId = nodeId;
    this.route = route;
    this.declared = declared;
  }
}

/**
 * A `waitFor` passed its `timeoutMs` before an event arrived, whether the
 * process was running then or not. The node's retry policy applies.
 *
 * @example
 * ```ts
 * retry: { retryOn: (err) => !(err instanceof WaitTimeoutError) }
 * ```
 */
export class WaitTimeoutError extends TaskloomError {
  /** The wait's key. */
  readonly key: string;
  /** The node that waited. */
  readonly nodeId: string;
  /** When the wait timed out (epoch ms). */
  readonly deadline: number;

  constructor(nodeId: string, key: string, deadline: number) {
    super(
      "WAIT_TIMEOUT",
      `node "${nodeId}" waited for "${key}" past its deadline ${new Date(deadline).toISOString()}. ` + `Resolve waits before their timeoutMs, or raise it.`,
    );
    this.key = key;
    this.nodeId = nodeId;
    this.deadline = deadline;
  }
}

/**
 * `resolveWait` named a key the run is not waiting for. Nothing was written.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof WaitNotFoundError) console.log("open waits:", e.openKeys) }
 * ```
 */
export class WaitNotFoundError extends TaskloomError {
  /** The run. */
  readonly runId: string;
  /** The key given. */
  readonly key: string;
  /** The keys the run waits for now. */
  readonly openKeys: readonly string[];

  constructor(runId: string, key: string, openKeys: readonly string[]) {
    super(
      "WAIT_NOT_FOUND",
      `run "${runId}" is not waiting for "${key}" (open waits: ${openKeys.length ? openKeys.map((k) => `"${k}"`).join(", ") : "none"}). ` +
        `Check the key; a wait opens only when its node calls waitFor.`,
    );
    this.runId = runId;
    this.key = key;
    this.openKeys = openKeys;
  }
}

/**
 * The wait was already resolved and its node has taken the payload: a
 * second resolution is refused, so delivering an event twice is harmless.
 *
 * @example
 * ```ts
 * try { await resolveWait(runId, key, payload) } catch (e) { if (!(e instanceof WaitAlreadyResolvedError)) throw e }
 * ```
 */
export class WaitAlreadyResolvedError extends TaskloomError {
  /** The run. */
  readonly runId: string;
  /** The key. */
  readonly key: string;

  constructor(runId: string, key: string) {
    super("WAIT_ALREADY_RESOLVED", `the wait "${key}" of run "${runId}" was already resolved and consumed; nothing was written.`);
    this.runId = runId;
    this.key = key;
  }
}

/**
 * A `graphFn` asked, on replay, for a different step than its journal
 * recorded at that position: the function is not deterministic, or it
 * changed since the run started.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof NonDeterminismError) console.log(e.position, e.expected, e.actual) }
 * ```
 */
export class NonDeterminismError extends TaskloomError {
  /** The run. */
  readonly runId: string;
  /** The step's position in call order, from 0. */
  readonly position: number;
  /** The step id the journal recorded there. */
  readonly expected: string;
  /** The step id the function asked for. */
  readonly actual: string;

  constructor(runId: string, position: number, expected: string, actual: string) {
    super(
      "NON_DETERMINISM",
      `run "${runId}" asked for step "${actual}" as step #${position + 1}, but its journal recorded "${expected}" there. ` +
        `A graphFn must ask for the same steps in the same order on every replay: move non-deterministic choices ` +
        `(time, randomness, I/O) into steps, or start a new run.`,
    );
    this.runId = runId;
    this.position = position;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * The store could not save the run (disk full, folder not writable). The
 * last snapshot that was saved is still readable.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof PersistenceError) console.error(e.cause) }
 * ```
 */
export class PersistenceError extends TaskloomError {
  /** The run. */
  readonly runId: string;

  constructor(runId: string, cause: unknown) {
    super(
      "PERSISTENCE_FAILED",
      `run "${runId}" could not be saved: ${describe(cause)}. Free disk space or fix the folder's permissions, then resume the run by its id.`,
      { cause },
    );
    this.runId = runId;
  }
}

/**
 * A store refused a write because the run's lease changed hands: another
 * coordinator took the run over (its fencing token is newer), so this
 * one's state is stale and must not overwrite the newer one's.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof LeaseLostError) console.error(`run ${e.runId} continues elsewhere`) }
 * ```
 */
export class LeaseLostError extends TaskloomError {
  /** The run. */
  readonly runId: string;
  /** The fencing token this writer held. */
  readonly heldToken: number;
  /** The run's current fencing token. */
  readonly currentToken: number;

  constructor(runId: string, heldToken: number, currentToken: number) {
    super(
      "LEASE_LOST",
      `run "${runId}" was taken over by another coordinator (lease token ${currentToken}; this one held ${heldToken}), ` +
        `so this coordinator's write was refused. Let the newer coordinator finish the run, or call runAsync with the ` +
        `run id again once it has stopped.`,
    );
    this.runId = runId;
    this.heldToken = heldToken;
    this.currentToken = currentToken;
  }
}

/**
 * A value cannot be written by taskloom's serializer (a getter that
 * throws, a record longer than the engine's longest string). Not a disk
 * problem: nothing is wrong with the store; the value is. Node outputs
 * that cannot be stored never get here (they are flagged
 * `OUTPUT_NOT_DURABLE` and run again on resume); this error is for what
 * is refused on the way to a store.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof ValueNotStorableError) console.error(e.what, e.cause) }
 * ```
 */
export class ValueNotStorableError extends TaskloomError {
  /** What could not be stored ("a value", "the output of node \"a\""). */
  readonly what: string;

  constructor(what: string, cause: unknown) {
    super(
      "VALUE_NOT_STORABLE",
      `${what} cannot be serialized for storage: ${describe(cause)}. This is not a disk problem: ` +
        `return or pass a value that docs/durability.md lists as storable ("What a node may return"), ` +
        `then resume the run by its id.`,
      { cause },
    );
    this.what = what;
  }
}
