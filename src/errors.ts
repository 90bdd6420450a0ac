/**
 * Every error taskloom throws on purpose is a {@link TaskloomError} with a
 * stable `code` from {@link ErrorCode}. Callers branch on the class
 * (`instanceof`) or the code, never on message text: messages are written
 * for people and say what to do next, so they may change.
 *
 * This module is the ground of the error families: the base class, the
 * code registry (one code per error class, whichever module defines it),
 * {@link isTaskloomError}, {@link describe}, and the errors every layer may
 * raise (a bad option, a bad run id). Each family lives next to its owner
 * and is exported from the same public entry as ever:
 *
 * - graph definition, inputs and the node contract: `src/graph/errors.ts`
 * - the engine (attempts, routing, waits, graphFn replay, failed saves): `src/engine/errors.ts`
 * - stores and leases: `src/persistence/errors.ts`
 * - runs (resume, lookup, output): `src/runner/errors.ts`
 * - stages: `src/stages/stage-errors.ts`; schedules: `src/schedule/errors.ts`
 * - worker executors (the BullMQ adapter): `src/adapters/worker-errors.ts`
 *
 * An error lives at the lowest layer that throws or catches it, so that no
 * module imports an error from a layer above its own.
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
  "STALE_CHILD_RUN",
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
  "WORKER_JOB_LEFT",
  // schedules:
  "SCHEDULE_EXISTS",
  "EXECUTOR_NOT_REGISTERED",
  // values:
  "VALUE_NOT_STORABLE",
  // files:
  "UNSAFE_STORE_FILE",
  "STORE_FOLDER_UNUSABLE",
  // session:
  "CANCEL_NOT_AVAILABLE",
  "RUN_HANDLE_DISPOSED",
  "OUTPUTS_NOT_STORED",
  // runs:
  "RUN_TIMEOUT",
  // adapters:
  "BULLMQ_MISSING",
  "EXECUTOR_CLOSED",
  // stages (queues, tasks that start where they are):
  "UNKNOWN_STAGE",
  "STALE_JOB_RESULT",
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
