/**
 * The errors of stage workflows. Each is a `TaskloomError` with its own
 * code, and each message lists the valid choices, so a typo is fixed from
 * the message alone.
 *
 * @module
 */
import { TaskloomError } from "../errors.js";

/** Quotes and joins names for a message: `"a", "b"`, or `none`. */
export function nameList(names: readonly string[]): string {
  return names.length ? names.map((n) => `"${n}"`).join(", ") : "none";
}

/**
 * An agent was registered for a stage that does not exist or is not an
 * agent stage, twice without `overwrite`, or is missing when the workflow
 * is compiled.
 *
 * @example
 * ```ts
 * runner.stage("pre-label", agent);
 * runner.stage("pre-label", other); // throws StageRegistrationError: pass { overwrite: true } to replace it
 * ```
 */
export class StageRegistrationError extends TaskloomError {
  /** The stage id or title given. */
  readonly stage: string;

  constructor(stage: string, problem: string) {
    super("STAGE_REGISTRATION", `stage "${stage}": ${problem}.`);
    this.stage = stage;
  }
}

/**
 * An agent returned a pathway its stage does not have. Not retried: the
 * same code would choose the same pathway again.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof UnknownPathwayError) console.log(e.pathway, "valid:", e.validPathways) }
 * ```
 */
export class UnknownPathwayError extends TaskloomError {
  /** The stage whose agent chose the pathway. */
  readonly stageId: string;
  /** The pathway it returned. */
  readonly pathway: string;
  /** The pathways of the stage. */
  readonly validPathways: readonly string[];

  constructor(stageId: string, pathway: string, validPathways: readonly string[]) {
    super(
      "UNKNOWN_PATHWAY",
      `the agent of stage "${stageId}" returned pathway ${JSON.stringify(pathway)}, which the stage does not have ` +
        `(valid pathways: ${nameList(validPathways)}). Return one of them, or undefined to keep the task in the stage.`,
    );
    this.stageId = stageId;
    this.pathway = pathway;
    this.validPathways = validPathways;
  }
}

/**
 * A person's action was refused: the task's current stage does not allow
 * it (or the task is not at a human stage). Nothing was written.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof ActionNotAllowedError) console.log("allowed:", e.allowed) }
 * ```
 */
export class ActionNotAllowedError extends TaskloomError {
  /** The task. */
  readonly taskId: string;
  /** The task's current stage, when it has one. */
  readonly stageId: string | undefined;
  /** The action given. */
  readonly action: string;
  /** The actions the task allows now. */
  readonly allowed: readonly string[];

  constructor(taskId: string, stageId: string | undefined, action: string, allowed: readonly string[], why: string) {
    super("ACTION_NOT_ALLOWED", `action ${JSON.stringify(action)} on task "${taskId}" was refused: ${why} (allowed now: ${nameList(allowed)}).`);
    this.taskId = taskId;
    this.stageId = stageId;
    this.action = action;
    this.allowed = allowed;
  }
}

/**
 * A task's source says it is at a stage the workflow does not have. Only
 * that task fails (it is reported with this error); the others go on.
 *
 * @example
 * ```ts
 * for (const f of report.failed) if (f.error?.code === "UNKNOWN_STAGE") console.log(f.taskId, f.error.message);
 * ```
 */
export class UnknownStageError extends TaskloomError {
  /** The task. */
  readonly taskId: string;
  /** The stage its source gave. */
  readonly stageId: string;
  /** The stages of the workflow. */
  readonly stages: readonly string[];

  constructor(taskId: string, stageId: string, stages: readonly string[]) {
    super(
      "UNKNOWN_STAGE",
      `task "${taskId}" is at stage ${JSON.stringify(stageId)} in its source, which is not a stage of this workflow ` +
        `(stages: ${nameList(stages)}). Fix the task's stageId in the source (or remove it to start at the start stage).`,
    );
    this.taskId = taskId;
    this.stageId = stageId;
    this.stages = stages;
  }
}

/**
 * `runner.apply` was given a job result that no longer fits its task: the
 * task already moved on (another result was applied, or it left the stage),
 * or it is not due at the result's stage. Nothing was written. Applying the
 * very same result twice is not an error (it moves the task once).
 *
 * @example
 * ```ts
 * try { await runner.apply("labeling-1", result) }
 * catch (e) { if (e instanceof StaleJobResultError) console.log("dropped:", e.message) }
 * ```
 */
export class StaleJobResultError extends TaskloomError {
  /** The task. */
  readonly taskId: string;
  /** The stage the result was for. */
  readonly stageId: string;

  constructor(taskId: string, stageId: string, why: string) {
    super("STALE_JOB_RESULT", `the job result for task "${taskId}" at stage "${stageId}" was not applied: ${why}. Drop it (the task has moved on).`);
    this.taskId = taskId;
    this.stageId = stageId;
  }
}
