/**
 * Every error taskloom throws on purpose is a {@link TaskloomError} with a
 * stable `code` from {@link ErrorCode}. Callers branch on the class
 * (`instanceof`) or the code, never on message text: messages are written
 * for people and say what to do next, so they may change.
 *
 * @module
 */

/** The stable codes of taskloom's errors, one per error class. */
export const ERROR_CODES = [
  "GRAPH_DEFINITION",
  "INPUT_VALIDATION",
  "NODE_FAILED",
  "NON_RETRYABLE",
  "NODE_TIMEOUT",
  "PENDING_WAITS",
  "GRAPH_CHANGED",
  "RUN_INPUTS_MISMATCH",
  "RUN_LOCKED",
  "SNAPSHOT_CORRUPT",
  "LOOP_LIMIT",
  "RUN_CANCELLED",
  "INVALID_OPTION",
  "INVALID_RUN_ID",
  "RUN_NOT_FOUND",
  "PERSISTENCE_FAILED",
  "OUTPUT_FAILED",
  "WAIT_TIMEOUT",
  "WAIT_NOT_FOUND",
  "WAIT_ALREADY_RESOLVED",
  "NON_DETERMINISM",
  "UNKNOWN_ROUTE",
  "STAGE_REGISTRATION",
  "UNKNOWN_PATHWAY",
  "ACTION_NOT_ALLOWED",
  "INVALID_SCHEDULE",
  "SCHEDULE_NOT_FOUND",
  "SCHEDULE_STATE",
  "LEASE_LOST",
  "WORKER_GRAPH_MISSING",
  "WORKER_JOB_FAILED",
  // schedules:
  "SCHEDULE_EXISTS",
  // values:
  "VALUE_NOT_STORABLE",
  // files:
  "UNSAFE_STORE_FILE",
  // session:
  "CANCEL_NOT_AVAILABLE",
  "OUTPUTS_NOT_STORED",
] as const;

/** A stable error code; see {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Base class of every error taskloom throws on purpose.
 *
 * @example
 * ```ts
 * try { await runAsync(g, inputs) }
 * catch (e) { if (e instanceof TaskloomError) console.error(e.code, e.message) }
 * ```
 */
export class TaskloomError extends Error {
  /** The stable code of this error. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * True when `err` is a {@link TaskloomError}, optionally with the given code.
 *
 * @example
 * ```ts
 * if (isTaskloomError(err, "RUN_LOCKED")) retryLater();
 * ```
 */
export function isTaskloomError(err: unknown, code?: ErrorCode): err is TaskloomError {
  return err instanceof TaskloomError && (code === undefined || err.code === code);
}

/**
 * The graph is not well formed: a duplicate id, an unknown dependency, a
 * cycle, a node that is not a function. Raised by `build()`, before anything runs.
 *
 * @example
 * ```ts
 * graph("g").node("a", f, { after: ["nope" as never] }).build(); // throws GraphDefinitionError
 * ```
 */
export class GraphDefinitionError extends TaskloomError {
  /** Each problem found, one sentence each. */
  readonly problems: readonly string[];

  constructor(graphName: string, problems: readonly string[]) {
    super(
      "GRAPH_DEFINITION",
      `graph "${graphName}" is not valid: ${problems.join("; ")}. Fix the graph definition; nothing was run.`,
    );
    this.problems = problems;
  }
}

/** One problem found by an input validator. */
export interface ValidationIssue {
  /** Where in the value the problem is (`[]` for the value itself). */
  readonly path: readonly (string | number)[];
  /** What is wrong. */
  readonly message: string;
}

/**
 * The graph's inputs (or another value checked at the boundary) failed
 * validation. Nothing was run.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof InputValidationError) for (const i of e.issues) console.log(i.path, i.message) }
 * ```
 */
export class InputValidationError extends TaskloomError {
  /** Every problem the validator reported. */
  readonly issues: readonly ValidationIssue[];

  constructor(what: string, issues: readonly ValidationIssue[], options?: { cause?: unknown }) {
    const list = issues
      .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
      .join("; ");
    super("INPUT_VALIDATION", `${what} failed validation: ${list}. Pass values that match the schema.`, options);
    this.issues = issues;
  }
}

/**
 * A node exhausted its attempts (or threw {@link NonRetryableError}) and
 * the run failed. `cause` is the last attempt's error.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof NodeFailedError) console.log(e.nodeId, e.attempts, e.cause) }
 * ```
 */
export class NodeFailedError extends TaskloomError {
  /** The node (activation) id that failed. */
  readonly nodeId: string;
  /** How many attempts ran. */
  readonly attempts: number;
  /** The run the node belongs to. */
  readonly runId: string;

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
  }
}

/**
 * Throw this from a node to fail it at once, without further attempts.
 *
 * @example
 * ```ts
 * .node("charge", async () => { if (!card) throw new NonRetryableError("no card on file") })
 * ```
 */
export class NonRetryableError extends TaskloomError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NON_RETRYABLE", message, options);
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
    super(
      "NODE_TIMEOUT",
      `node "${nodeId}" timed out after ${timeoutMs} ms. Raise timeoutMs or make the node honour its signal sooner.`,
    );
    this.nodeId = nodeId;
    this.timeoutMs = timeoutMs;
  }
}

/** One open wait of a run. */
export interface PendingWait {
  /** The key passed to `waitFor`. */
  readonly key: string;
  /** The node (activation) that waits. */
  readonly nodeId: string;
  /** When the wait began (epoch ms). */
  readonly since: number;
  /** When it times out (epoch ms), if it has a timeout. */
  readonly deadline?: number;
}

/**
 * The run cannot go on until external events arrive: it was saved with
 * status `waiting`. Resolve the waits, then call `runAsync` with the same run id.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof GraphHasPendingWaits) notify(e.runId, e.waits) }
 * ```
 */
export class GraphHasPendingWaits extends TaskloomError {
  /** The run that waits. */
  readonly runId: string;
  /** The open waits. */
  readonly waits: readonly PendingWait[];

  constructor(runId: string, waits: readonly PendingWait[]) {
    super(
      "PENDING_WAITS",
      `run "${runId}" is waiting for ${waits.map((w) => `"${w.key}"`).join(", ")}. ` +
        `Call resolveWait(runId, key, payload) for each, then runAsync with runId "${runId}" again.`,
    );
    this.runId = runId;
    this.waits = waits;
  }
}

/**
 * A stored run was made by a graph with another fingerprint (nodes, edges
 * or options changed). Pass `{ allowGraphChange: true }` to resume anyway.
 *
 * @example
 * ```ts
 * await runAsync(g, inputs, { runId, allowGraphChange: true });
 * ```
 */
export class GraphChangedError extends TaskloomError {
  /** The run. */
  readonly runId: string;
  /** The fingerprint stored with the run. */
  readonly storedFingerprint: string;
  /** The fingerprint of the graph passed now. */
  readonly fingerprint: string;

  constructor(runId: string, storedFingerprint: string, fingerprint: string) {
    super(
      "GRAPH_CHANGED",
      `run "${runId}" was started by a different version of the graph (fingerprint ${storedFingerprint.slice(0, 12)}, now ${fingerprint.slice(0, 12)}). ` +
        `Use a new runId, or pass { allowGraphChange: true } to resume it with the new graph.`,
    );
    this.runId = runId;
    this.storedFingerprint = storedFingerprint;
    this.fingerprint = fingerprint;
  }
}

/**
 * `runAsync` was given a stored run id with inputs other than the stored
 * ones. Omit the inputs (pass `undefined`) to resume with the stored ones.
 *
 * @example
 * ```ts
 * await runAsync(g, undefined, { runId }); // resume with the stored inputs
 * ```
 */
export class RunInputsMismatchError extends TaskloomError {
  /** The run. */
  readonly runId: string;

  constructor(runId: string) {
    super(
      "RUN_INPUTS_MISMATCH",
      `run "${runId}" was started with other inputs. Pass the same inputs, omit them (undefined) to reuse the stored ones, or use a new runId.`,
    );
    this.runId = runId;
  }
}

/** Who holds a run's lease. */
export interface LeaseHolder {
  /** A unique id of the holding driver. */
  readonly owner: string;
  /** Its process id. */
  readonly pid: number;
  /** Its host name. */
  readonly host: string;
  /** When the lease expires unless renewed (epoch ms). */
  readonly expiresAt: number;
}

/**
 * Another driver holds the run's lease: two processes never drive one run.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof RunLockedError) console.log(e.holder.pid, e.holder.host) }
 * ```
 */
export class RunLockedError extends TaskloomError {
  /** The run. */
  readonly runId: string;
  /** The current holder. */
  readonly holder: LeaseHolder;

  constructor(runId: string, holder: LeaseHolder) {
    super(
      "RUN_LOCKED",
      `run "${runId}" is held by pid ${holder.pid} on host ${holder.host} until ${new Date(holder.expiresAt).toISOString()}. ` +
        `Wait for that process to finish, or for the lease to expire, then call runAsync again.`,
    );
    this.runId = runId;
    this.holder = holder;
  }
}

/**
 * A stored snapshot or journal cannot be read. The file is left untouched.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof SnapshotCorruptError) console.error("inspect", e.file) }
 * ```
 */
export class SnapshotCorruptError extends TaskloomError {
  /** The file that could not be read. */
  readonly file: string;

  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    super(
      "SNAPSHOT_CORRUPT",
      `the stored run file ${file} cannot be read (${detail}). It was left as it is: restore it from a backup, or delete the run and start again.`,
      options,
    );
    this.file = file;
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
    super(
      "LOOP_LIMIT",
      `node "${nodeId}" was visited more than ${maxVisits} times. Check the loop's exit route, or raise maxVisits.`,
    );
    this.nodeId = nodeId;
    this.maxVisits = maxVisits;
  }
}

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
    super(
      "RUN_CANCELLED",
      `run "${runId}" was cancelled: ${reason}. Call runAsync with runId "${runId}" to continue it.`,
    );
    this.runId = runId;
    this.reason = reason;
  }
}

/**
 * An option passed to taskloom is out of range or of the wrong type.
 *
 * @example
 * ```ts
 * runAsync(g, inputs, { maxConcurrency: 0 }); // throws InvalidOptionError
 * ```
 */
export class InvalidOptionError extends TaskloomError {
  /** The option's name. */
  readonly option: string;

  constructor(option: string, problem: string) {
    super("INVALID_OPTION", `option ${option} ${problem}.`);
    this.option = option;
  }
}

/**
 * A run id is not acceptable (empty, too long, or could name a path).
 *
 * @example
 * ```ts
 * runAsync(g, inputs, { runId: "../etc" }); // throws InvalidRunIdError
 * ```
 */
export class InvalidRunIdError extends TaskloomError {
  constructor(runId: unknown, problem: string) {
    super(
      "INVALID_RUN_ID",
      `run id ${JSON.stringify(String(runId)).slice(0, 80)} is not valid: ${problem}. ` +
        `Use 1 to 200 characters from A-Z a-z 0-9 . _ - : @, starting with a letter or digit.`,
    );
  }
}

/**
 * No stored run has this id.
 *
 * @example
 * ```ts
 * await getRun("nope", { store }); // throws RunNotFoundError
 * ```
 */
export class RunNotFoundError extends TaskloomError {
  /** The run id looked up. */
  readonly runId: string;

  constructor(runId: string) {
    super("RUN_NOT_FOUND", `no stored run has id "${runId}". Check the id and the store (dir) it was saved in.`);
    this.runId = runId;
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
 * The graph's `output` function threw; every node had succeeded.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof OutputError) console.error(e.cause) }
 * ```
 */
export class OutputError extends TaskloomError {
  /** The run. */
  readonly runId: string;

  constructor(runId: string, cause: unknown) {
    super(
      "OUTPUT_FAILED",
      `the output function of run "${runId}" threw: ${describe(cause)}. Every node succeeded; fix output() and call runAsync again.`,
      { cause },
    );
    this.runId = runId;
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
      `node "${nodeId}" waited for "${key}" past its deadline ${new Date(deadline).toISOString()}. ` +
        `Resolve waits before their timeoutMs, or raise it.`,
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
 * A schedule's `when`, `repeat`, `timezone` or another of its options
 * cannot be used: a phrase that does not parse, a time in the past for a
 * one-off run, a cron pattern with the wrong number of fields. The message
 * quotes the input and lists the accepted forms. Nothing was stored.
 *
 * @example
 * ```ts
 * await schedule(g, inputs, { when: "someday" }); // throws InvalidScheduleError
 * ```
 */
export class InvalidScheduleError extends TaskloomError {
  /** The option at fault (`when`, `repeat.every`, `timezone`, …). */
  readonly option: string;
  /** The value given, as text. */
  readonly input: string;

  constructor(option: string, input: string, problem: string, options?: { cause?: unknown }) {
    super("INVALID_SCHEDULE", `${option} ${JSON.stringify(input)} ${problem}`, options);
    this.option = option;
    this.input = input;
  }
}

/**
 * No stored schedule has this id.
 *
 * @example
 * ```ts
 * await getSchedule("sch-nope", { store }); // throws ScheduleNotFoundError
 * ```
 */
export class ScheduleNotFoundError extends TaskloomError {
  /** The schedule id looked up. */
  readonly scheduleId: string;

  constructor(scheduleId: string) {
    super(
      "SCHEDULE_NOT_FOUND",
      `no stored schedule has id "${scheduleId}". Check the id (listSchedules, or taskloom schedule ls) and the store (dir) it was saved in.`,
    );
    this.scheduleId = scheduleId;
  }
}

/**
 * The schedule cannot do that in its current status: resuming a cancelled
 * or completed schedule, pausing one that is not active.
 *
 * @example
 * ```ts
 * await job.cancel(); await job.resume(); // throws ScheduleStateError
 * ```
 */
export class ScheduleStateError extends TaskloomError {
  /** The schedule. */
  readonly scheduleId: string;
  /** Its status now. */
  readonly status: string;

  constructor(scheduleId: string, status: string, action: string, hint: string) {
    super("SCHEDULE_STATE", `schedule "${scheduleId}" is ${status}, so it cannot ${action}. ${hint}`);
    this.scheduleId = scheduleId;
    this.status = status;
  }
}

/** A short, one-line description of any thrown value. */
export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  try {
    return String(err);
  } catch {
    return "(unprintable error)";
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
 * `schedule()` was given the id of a schedule that is already stored.
 * Nothing was changed.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof ScheduleExistsError) await getSchedule(e.scheduleId, { store }) }
 * ```
 */
export class ScheduleExistsError extends TaskloomError {
  /** The id that is taken. */
  readonly scheduleId: string;

  constructor(scheduleId: string) {
    super(
      "SCHEDULE_EXISTS",
      `a schedule with id "${scheduleId}" already exists. Use getSchedule("${scheduleId}") to manage it, remove it first, or give another id.`,
    );
    this.scheduleId = scheduleId;
  }
}

/**
 * A stored schedule file cannot be read (empty, cut short, or not the
 * shape of a schedule). A `SnapshotCorruptError` (code `SNAPSHOT_CORRUPT`)
 * worded for schedules; the file is left untouched.
 *
 * @example
 * ```ts
 * await listSchedules({ store, onProblem: (p) => console.warn(p.error.message) });
 * ```
 */
export class ScheduleCorruptError extends SnapshotCorruptError {
  /** The schedule the file is named after; undefined when the schedules folder itself cannot be read. */
  readonly scheduleId: string | undefined;

  constructor(file: string, scheduleId: string | undefined, detail: string, options?: { cause?: unknown }) {
    super(file, detail, options);
    this.scheduleId = scheduleId;
    this.message =
      scheduleId === undefined
        ? `the schedules folder ${file} cannot be read (${detail}). Fix its permissions, or restore it from a backup.`
        : `the stored schedule file ${file} cannot be read (${detail}). It was left as it is and schedule "${scheduleId}" does not fire: ` +
          `restore the file from a backup, or remove the schedule (taskloom schedule rm ${scheduleId}) and schedule it again.`;
  }
}

/**
 * A schedule could not be saved (disk full, read-only or missing folder):
 * a `PersistenceError` (code `PERSISTENCE_FAILED`) worded for schedules,
 * with the file system's error as `cause`. `runId` holds the schedule id.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof PersistenceError) console.error(e.cause) }
 * ```
 */
export class SchedulePersistenceError extends PersistenceError {
  /** The schedule. */
  readonly scheduleId: string;

  constructor(scheduleId: string, cause: unknown) {
    super(scheduleId, cause);
    this.scheduleId = scheduleId;
    this.message = `schedule "${scheduleId}" could not be saved: ${describe(cause)}. Free disk space or fix the permissions of the store's schedules folder, then try again.`;
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

/**
 * A store file or folder is not one taskloom can trust: a symbolic link,
 * not a plain file or folder, or owned by another user. Something other
 * than taskloom put it in the store folder (on a shared folder, perhaps
 * to make this process write elsewhere); nothing was read or written
 * through it.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof UnsafeStoreFileError) console.error("inspect", e.file) }
 * ```
 */
export class UnsafeStoreFileError extends TaskloomError {
  /** The file or folder refused. */
  readonly file: string;

  constructor(file: string, problem: string) {
    super(
      "UNSAFE_STORE_FILE",
      `refused to use ${file}: ${problem}. taskloom never makes such a file; nothing was read or written through it. ` +
        `Find out who put it there, remove it, and try again.`,
    );
    this.file = file;
  }
}

/**
 * `cancel()` of a handle from `retrieveRun` on a run this process does not
 * drive (another process drives it, or it waits, stopped, for events).
 * Cancelling a run from outside the process that drives it is not
 * available yet (issue 18 adds `cancelRun`).
 *
 * @example
 * ```ts
 * try { (await retrieveRun(id, { store })).cancel() }
 * catch (e) { if (e instanceof CancelNotAvailableError) console.error("cancel it where it runs") }
 * ```
 */
export class CancelNotAvailableError extends TaskloomError {
  /** The run. */
  readonly runId: string;
  /** Its status as last read from the store. */
  readonly status: string;

  constructor(runId: string, status: string) {
    super(
      "CANCEL_NOT_AVAILABLE",
      `run "${runId}" (${status}) is not driven by this process, and cancelling a run from another process is not available yet. ` +
        `Cancel it through the RunHandle (or AbortSignal) of the process that drives it, or stop that process.`,
    );
    this.runId = runId;
    this.status = status;
  }
}

/**
 * `result()` of a handle from `retrieveRun` on a succeeded run whose
 * outputs could not be stored exactly (an `OUTPUT_NOT_DURABLE` warning
 * said so when it ended): resuming it computes them again.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof RunOutputsNotStoredError) out = await runAsync(g, undefined, { runId: e.runId, store }) }
 * ```
 */
export class RunOutputsNotStoredError extends TaskloomError {
  /** The run. */
  readonly runId: string;

  constructor(runId: string) {
    super(
      "OUTPUTS_NOT_STORED",
      `run "${runId}" succeeded, but its outputs could not be stored exactly. ` +
        `Resume it with runAsync(graph, undefined, { runId: "${runId}" }) to compute them again from its stored node outputs.`,
    );
    this.runId = runId;
  }
}
