/**
 * The narrow interface through which the scheduler hands transitions to
 * persistence. The scheduler calls {@link RunJournal.record} after every
 * change to a node and awaits {@link RunJournal.barrier} where durability
 * matters (before a succeeded node's dependents start, before `step`
 * returns). What a barrier waits for is the snapshot policy's business.
 *
 * @module
 */
/** Receives node transitions and makes them durable. */
export interface RunJournal {
  /**
   * Notes that the record of activation `id` changed. The journal reads
   * the record from the run state when it writes, so several changes to
   * one record between two writes cost one stored record. A change that is
   * not `urgent` (an attempt starting) schedules no write of its own: it
   * rides along with the next one. @default urgent true
   */
  record(id: string, urgent?: boolean): void;
  /** Resolves when what was recorded so far is as durable as the policy promises; rejects when the store failed. */
  barrier(): Promise<void>;
}
