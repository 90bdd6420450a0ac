/**
 * Time, injected. The scheduler, retry sleeps, timeouts and leases read
 * time only through a {@link Clock}, so tests drive them with a
 * {@link ManualClock} and assert exact delays without sleeping.
 *
 * @module
 */

/** An opaque timer handle. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/**
 * A source of time and timers.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const h = run(g, inputs, { clock });
 * await clock.advance(1_000); // fires every timer due within the next second
 * ```
 */
export interface Clock {
  /** The current time, epoch ms. */
  now(): number;
  /**
   * Calls `fn` after `ms`. The timer keeps the process alive: a run
   * waiting out a retry backoff is work in progress. Every timer taskloom
   * sets is cleared when the run ends. `label` says what the timer is for
   * (`lease renewal of run "etl-1"`); a clock may show it (the
   * {@link ManualClock} does) or ignore it.
   */
  setTimeout(fn: () => void, ms: number, label?: string): TimerHandle;
  /** Cancels a timer (no-op when it already fired). */
  clearTimeout(handle: TimerHandle): void;
}

/** The longest delay one Node timer holds (2^31 - 1 ms, about 24.8 days): Node fires a longer one after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * A timer longer than one Node timer holds: a chain of Node timers, each at
 * most {@link MAX_TIMER_MS}, until the deadline (by `Date.now()`) is reached.
 */
class LongTimer {
  #timer: NodeJS.Timeout;
  #cleared = false;

  constructor(
    readonly fn: () => void,
    readonly deadline: number,
  ) {
    this.#timer = this.#next();
  }

  #next(): NodeJS.Timeout {
    const left = this.deadline - Date.now();
    return setTimeout(
      () => {
        if (this.#cleared) return;
        if (this.deadline - Date.now() > 0) this.#timer = this.#next();
        else this.fn();
      },
      Math.min(Math.max(left, 0), MAX_TIMER_MS),
    );
  }

  clear(): void {
    this.#cleared = true;
    clearTimeout(this.#timer);
  }
}

/**
 * The real clock: `Date.now()` and Node timers. A delay longer than one
 * Node timer holds (about 24.8 days: a lease TTL, a wait's timeout, a
 * sweep period given in days) is waited out in pieces, never cut to 1 ms
 * as a bare Node timer would.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    return ms > MAX_TIMER_MS ? new LongTimer(fn, Date.now() + ms) : setTimeout(fn, ms);
  },
  clearTimeout(handle) {
    if (handle instanceof LongTimer) handle.clear();
    else clearTimeout(handle as unknown as NodeJS.Timeout);
  },
};

interface ManualTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
  readonly label: string;
}

/** A timer of a {@link ManualClock} that has not fired yet. */
export interface PendingTimer {
  /** In how long it fires (ms from the clock's now). */
  readonly delayMs: number;
  /**
   * What set it: the label its setter gave (`lease renewal of run "r1"`),
   * else the function and file that called `setTimeout` (`at retrySleep
   * (…/retry-sleeps.js:60:5)`).
   */
  readonly label: string;
}

/**
 * The first stack frame below the call of `callee`: who called
 * `setTimeout` (or `sleep`). The frames are cut by function, not by file
 * name, since a bundle puts this file's code in one file with others.
 */
function callerFrame(callee: (...args: never[]) => unknown): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, callee);
  const frames = (holder.stack ?? "").split("\n").slice(1);
  const outside = frames.find((f) => !f.includes("(<anonymous>)") && !f.includes("node:internal"));
  return outside?.trim() ?? "unknown caller";
}

/**
 * A clock that moves only when told to. {@link ManualClock.advance} fires
 * due timers in time order and lets promises settle between them, so code
 * that awaits a timer continues before the next one fires.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(0);
 * clock.setTimeout(() => console.log("fired"), 100);
 * await clock.advance(100); // logs "fired"
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: ManualTimer[] = [];

  /** @param start the initial time, epoch ms. @default 0 */
  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number, label?: string): TimerHandle {
    // Not `ManualClock.prototype.setTimeout`: a class body that names its class is renamed by the build (scripts/build.mjs).
    // eslint-disable-next-line @typescript-eslint/unbound-method -- only the method's identity is used: the stack is cut at its call
    const setter = label ?? callerFrame(this.setTimeout);
    const timer: ManualTimer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn, label: setter };
    this.#timers.push(timer);
    return { id: timer.id };
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id?: number }).id;
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** The delays (from now) of the timers not yet fired, soonest first; {@link ManualClock.pendingTimers} says what set each. */
  pendingDelays(): number[] {
    return this.pendingTimers().map((t) => t.delayMs);
  }

  /**
   * The timers not yet fired, soonest first, each with what set it: a
   * run's lease renewal, a retry backoff, a node timeout, a wait deadline.
   *
   * @example
   * ```ts
   * clock.pendingTimers(); // [{ delayMs: 200, label: 'retry of node "fetch" (attempt 2)' }, { delayMs: 10000, label: 'lease renewal of run "r1"' }]
   * ```
   */
  pendingTimers(): PendingTimer[] {
    return [...this.#timers].sort((a, b) => a.at - b.at || a.id - b.id).map((t) => ({ delayMs: t.at - this.#now, label: t.label }));
  }

  /** Moves time forward by `ms`, firing due timers in order and letting work settle after each. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  /** Fires timers one at a time until none is left (or `limit` fired), advancing time to each. */
  async runAll(limit = 10_000): Promise<void> {
    for (let i = 0; i < limit; i++) {
      await settle();
      const next = [...this.#timers].sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) return;
      await this.advance(next.at - this.#now);
    }
    throw new Error(`ManualClock.runAll: more than ${limit} timers fired; is something rescheduling forever?`);
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Sleeps `ms` on `clock` (`label`: what for, see {@link Clock.setTimeout}); rejects with the signal's reason when `signal` aborts first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal, label?: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      ms,
      // A ManualClock names the timer by the frame that called `sleep`, not `sleep`'s own.
      label ?? (clock instanceof ManualClock ? callerFrame(sleep) : undefined),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
