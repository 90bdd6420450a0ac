/**
 * How many task runs of a batch a stage runner drives at once: a window
 * of slots, taken in batch order. Each task run that is driven holds an
 * engine, its records and its pending writes; starting a whole batch (300
 * by default) at once, when only `maxConcurrency` agent calls can run,
 * kept hundreds of runs alive that only queued for an agent slot, and
 * garbage collection of that live memory was a third of a sweep's time.
 *
 * A run waiting out a retry backoff gives its slot back (`rest`, on the
 * engine's `node:retry`) and takes one again, without waiting, when its
 * next attempt starts (`wake`, on `node:start`): as agent slots, window
 * slots are never held by a backoff, so failing tasks never hold up the
 * others. A run that only waits (a person, a queue worker) ends, freeing
 * its slot.
 *
 * Invariants: slots are granted in the order they were asked for; at most
 * `size` slots are held at once, except by runs woken from a backoff (they
 * never wait); a slot is given back exactly once (`leave` after `rest`
 * gives nothing back twice).
 *
 * @module
 */

/** A task run's slot in the window. */
export interface WindowSlot {
  /** The run waits out a retry backoff: its slot goes to the next run. */
  rest(): void;
  /** The run's next attempt starts: it holds a slot again (at once, even beyond the window). */
  wake(): void;
  /** The run ended: its slot (unless resting) goes to the next run. */
  leave(): void;
}

/** Task runs driven at once: four per agent call slot, and at least 32 (`Infinity` for `maxConcurrency: Infinity`). */
export function windowSize(maxConcurrency: number): number {
  return Math.max(32, 4 * maxConcurrency);
}

/** The slots of one runner call. */
export class RunWindow {
  readonly #size: number;
  #held = 0;
  readonly #queued: (() => void)[] = [];
  #head = 0;

  constructor(size: number) {
    this.#size = size;
  }

  /** Slots held now. */
  get held(): number {
    return this.#held;
  }

  /** Resolves to a slot once one is free (at once while fewer than `size` are held). */
  enter(): Promise<WindowSlot> | WindowSlot {
    if (this.#held < this.#size) {
      this.#held++;
      return this.#slot();
    }
    return new Promise((resolve) => this.#queued.push(() => resolve(this.#slot())));
  }

  #slot(): WindowSlot {
    let holding = true;
    return {
      rest: () => {
        if (!holding) return;
        holding = false;
        this.#release();
      },
      wake: () => {
        if (holding) return;
        holding = true;
        this.#held++;
      },
      leave: () => {
        if (!holding) return;
        holding = false;
        this.#release();
      },
    };
  }

  /** A slot given back: to the first run asking for one, else free. */
  #release(): void {
    this.#held--;
    if (this.#held >= this.#size || this.#head >= this.#queued.length) return;
    const next = this.#queued[this.#head] as () => void;
    this.#queued[this.#head++] = noop;
    if (this.#head === this.#queued.length) {
      this.#queued.length = 0;
      this.#head = 0;
    }
    this.#held++;
    next();
  }
}

function noop(): void {}
