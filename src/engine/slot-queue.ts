/**
 * The slot queue: at most `concurrency` tasks hold a slot at once, the
 * others wait in first-in, first-out order. It does what the engine used
 * p-queue for, and nothing else: no promise, options object, id string or
 * event per task (p-queue's `add` makes all of them, which cost more than
 * the rest of a no-op node's bookkeeping).
 *
 * A task is an item handed to the queue's `start` function, which starts
 * some work and returns at once (the engine queues activation ids, so a
 * queued attempt costs no closure); the slot it took stays taken until
 * someone calls {@link SlotQueue.release} (once per task: the engine calls
 * it when the attempt gives its slot back). A task whose start throws
 * gives its slot back at once.
 *
 * Timing, as with p-queue: {@link SlotQueue.add} starts the task before it
 * returns when a slot is free; a released slot starts the next waiting
 * task in a microtask, not inside `release`, so whatever the releasing
 * code does next (settle the attempt, emit its events) happens before the
 * next task starts, and a long run of tasks that end at once never nests
 * one start inside the other. Starting is a loop guarded against
 * re-entry, for the same reason.
 *
 * Yielding. Tasks whose bodies settle in microtasks (no-op or cached
 * work) would otherwise all run in one turn of the event loop: a
 * million-branch fan-out would hold every record for one group commit
 * (and one giant write), and no timer (lease renewal, a timeout) could
 * fire until it ends. So after {@link YIELD_EVERY} starts within one turn
 * the next start waits for `setImmediate`, which lets I/O and timers in
 * and the group commit write what was done so far. The limit is high on
 * purpose: splitting a 10,000-node fan-out into turns of 1,024 made its
 * run measurably slower (about 1.3x to 2x p-queue's time), while one turn
 * per 16,384 tasks leaves runs of up to that size in one turn and costs a
 * million-node run some sixty turns.
 *
 * @module
 */
import { enqueueMicrotask } from "../core/microtask.js";

/** Tasks started in one turn of the event loop before the queue lets I/O and timers in. */
export const YIELD_EVERY = 16_384;

/** A FIFO of tasks under a concurrency limit; `start` starts one. */
export class SlotQueue<T> {
  readonly #concurrency: number;
  readonly #start: (task: T) => void;
  /** Waiting tasks; `#head` is the first one still waiting. */
  #waiting: (T | undefined)[] = [];
  #head = 0;
  /** Slots taken. */
  #taken = 0;
  /** True while `#pump` starts tasks (a task that adds or releases does not start another pump). */
  #pumping = false;
  /** True while a microtask (or, after a yield, an immediate) to start waiting tasks is due. */
  #due = false;
  /** Tasks started since the queue last yielded to the event loop. */
  #sinceYield = 0;
  /** True while the queue waits for the next turn (nothing starts until then, not even from `add`). */
  #yielding = false;
  readonly #pumpLater = (): void => {
    this.#due = false;
    this.#pump();
  };
  readonly #pumpAfterYield = (): void => {
    this.#due = false;
    this.#yielding = false;
    this.#sinceYield = 0;
    this.#pump();
  };

  /** `concurrency`: a positive integer or `Infinity`; `start` starts a task whose turn came. */
  constructor(concurrency: number, start: (task: T) => void) {
    this.#concurrency = concurrency;
    this.#start = start;
  }

  /** Waiting tasks (not started yet). */
  get size(): number {
    return this.#waiting.length - this.#head;
  }

  /** Slots taken now. */
  get taken(): number {
    return this.#taken;
  }

  /** Queues `task`; starts it before returning when a slot is free. */
  add(task: T): void {
    this.#waiting.push(task);
    this.#pump();
  }

  /** Gives one slot back; the next waiting task starts in a microtask (or, every {@link YIELD_EVERY} starts, on the next turn). */
  release(): void {
    this.#taken -= 1;
    if (this.#head < this.#waiting.length && !this.#due) {
      this.#due = true;
      if (this.#sinceYield >= YIELD_EVERY) {
        this.#yielding = true;
        setImmediate(this.#pumpAfterYield);
      } else {
        enqueueMicrotask(this.#pumpLater);
      }
    }
  }

  #pump(): void {
    if (this.#pumping || this.#yielding) return;
    this.#pumping = true;
    try {
      while (!this.#yielding && this.#taken < this.#concurrency && this.#head < this.#waiting.length) {
        const task = this.#waiting[this.#head] as T;
        this.#waiting[this.#head] = undefined;
        this.#head += 1;
        if (this.#head === this.#waiting.length) {
          this.#waiting = [];
          this.#head = 0;
        } else if (this.#head >= 1_024 && this.#head * 2 >= this.#waiting.length) {
          this.#waiting = this.#waiting.slice(this.#head);
          this.#head = 0;
        }
        this.#taken += 1;
        this.#sinceYield += 1;
        try {
          this.#start(task);
        } catch {
          this.#taken -= 1;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }
}
