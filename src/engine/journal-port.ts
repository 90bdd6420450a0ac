/**
 * The journal port: the narrow interface through which the engine hands
 * node records to whoever makes them durable (persistence implements it;
 * the engine never imports persistence). The engine *pushes* records: it
 * calls {@link RunJournal.put} with the new record after every journaled
 * change, and {@link RunJournal.revise} after a change that needs no write
 * of its own; it is never asked to read a record back. It waits for
 * {@link RunJournal.barrier} where durability matters (before a succeeded
 * node's dependents start, through {@link RunJournal.whenDurable} when the
 * journal has it; before `step` returns). What a barrier waits for is the
 * snapshot policy's business.
 *
 * @module
 */
import type { NodeRecord } from "../state/records.js";

/** Receives node records and makes them durable. */
export interface RunJournal {
  /**
   * Hands over the new record of an activation to be written. Several
   * records of one activation between two writes cost one stored record
   * (the latest). A record that is not `urgent` (an attempt starting)
   * schedules no write of its own: it rides along with the next one.
   * @default urgent true
   */
  put(record: NodeRecord, urgent?: boolean): void;
  /**
   * A newer record of an activation whose change is not journaled by itself
   * (it became ready, say): if a record of it waits to be written, the
   * newer one is written instead; otherwise nothing happens.
   */
  revise(record: NodeRecord): void;
  /** Resolves when what was put so far is as durable as the policy promises; rejects when the store failed. */
  barrier(): Promise<void>;
  /**
   * {@link RunJournal.barrier} without a promise: calls `done` once, when
   * what was put so far is as durable as the policy promises (no
   * argument), or with the store's failure. The engine waits this way for
   * each success something depends on (a promise, its awaiting function
   * and their closures are most of what a chain step allocates); a
   * journal without it is waited for with `barrier()`.
   */
  whenDurable?(done: (failure?: Error) => void): void;
}
