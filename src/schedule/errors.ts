/**
 * Errors of schedules: options that cannot be used, an unknown or taken
 * schedule id, an action the schedule's status forbids, and a schedule file
 * that cannot be read or saved (worded subclasses of the store errors).
 *
 * @module
 */
import { describe, TaskloomError } from "../errors.js";
import { PersistenceError } from "../engine/errors.js";
import { SnapshotCorruptError } from "../persistence/errors.js";

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
 * A schedule names an executor (`runOptions: { executor: "name" }`) that
 * the scheduler firing it was not given. The scheduler does not take such
 * a schedule: it records this error in the schedule's history once per due
 * slot, and the slot stays due until a scheduler with that executor runs.
 *
 * @example
 * ```ts
 * new Scheduler({ store, graphs: [digest], executors: { bullmq: executor } }); // serves schedules that name "bullmq"
 * ```
 */
export class ExecutorNotRegisteredError extends TaskloomError {
  /** The schedule. */
  readonly scheduleId: string;
  /** The executor name the schedule asks for. */
  readonly executorName: string;

  constructor(scheduleId: string, executorName: string, known: readonly string[]) {
    super(
      "EXECUTOR_NOT_REGISTERED",
      `schedule "${scheduleId}" runs on executor "${executorName}", which this scheduler was not given (it has ${known.length ? known.map((k) => `"${k}"`).join(", ") : "none"}). ` +
        `Pass it in new Scheduler({ executors: { ${JSON.stringify(executorName)}: executor } }); the slot stays due until then.`,
    );
    this.scheduleId = scheduleId;
    this.executorName = executorName;
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
 * A schedule could not be changed because its file lock stayed held (by a
 * live process, or one not yet judged gone), or was taken from this
 * process while it was stalled: a {@link SchedulePersistenceError} whose
 * message says so, instead of pointing at the disk. Nothing was written.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof SchedulePersistenceError) setTimeout(retry, 1_000) }
 * ```
 */
export class ScheduleLockError extends SchedulePersistenceError {
  constructor(scheduleId: string, detail: string) {
    super(scheduleId, new Error(detail));
    this.message = `schedule "${scheduleId}" was not changed: ${detail}`;
  }
}
