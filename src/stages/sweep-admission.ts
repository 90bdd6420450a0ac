/**
 * Which tasks a stage takes in one sweep: `maxTasksPerStage` counted per
 * stage over the whole sweep, for the tasks the sweep chose at the stage
 * and for the tasks that flow into it from an earlier stage in the same
 * sweep, and only at the stages this runner serves.
 *
 * Invariants: at most `max` distinct tasks are admitted per stage per
 * sweep; a task admitted at a stage stays admitted there for the rest of
 * its processing in this sweep (an agent asked again, or a loop back to
 * the stage, is the same task); a stage this runner does not serve admits
 * nothing.
 *
 * @module
 */

/** The per-stage counts of one sweep. */
export class SweepAdmission {
  readonly #max: number;
  readonly #serves: (stageId: string) => boolean;
  readonly #counts = new Map<string, number>();

  constructor(max: number, serves: (stageId: string) => boolean) {
    this.#max = max;
    this.#serves = serves;
  }

  /** Whether this runner serves the stage (agent stages; every other stage is served). */
  serves(stageId: string): boolean {
    return this.#serves(stageId);
  }

  /**
   * Admits a task at `stageId` unless the stage is full for this sweep or
   * not served here. `admitted` holds the stages where this task was
   * already admitted in this sweep (updated).
   */
  admit(stageId: string, admitted: Set<string>): boolean {
    if (admitted.has(stageId)) return true;
    if (!this.#serves(stageId)) return false;
    const n = this.#counts.get(stageId) ?? 0;
    if (n >= this.#max) return false;
    this.#counts.set(stageId, n + 1);
    admitted.add(stageId);
    return true;
  }
}
