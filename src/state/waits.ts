/**
 * The data of a run's open waits, as a run reports them (events, run
 * details, `GraphHasPendingWaits`). Plain data: no behaviour.
 *
 * @module
 */

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
  /**
   * The run that waits, when it is a child run (`ctx.run`) of the run
   * reporting it: resolve it with `resolveWait(runId, key, payload)`, then
   * resume the parent.
   */
  readonly runId?: string;
}
