/**
 * Lingering bodies: the bodies of attempts that timed out and go on.
 *
 * A timeout ends its attempt at once (its result is `NodeTimeoutError`,
 * and a retry may be scheduled), but it only signals the body, which may
 * go on. Such a body *lingers*: it keeps its concurrency slot until it
 * settles, so running bodies stay within `maxConcurrency`, and the next
 * attempt of the same activation is not started beside it: its start is
 * deferred until the body settles.
 *
 * Invariants:
 * - At most one body lingers per activation: its next attempt starts only
 *   once the body is no longer watched.
 * - A body that ignores its signal for its grace (as long again as its
 *   time limit) is given up on: a `warning` event
 *   (`NODE_BODY_IGNORED_ABORT`) says so, its slot is given back and its
 *   activation's next attempt may start; the body may still run, outside
 *   the limit.
 * - When the run stops, every lingering slot is given back and every
 *   deferred start queued at once ({@link LingeringBodies.releaseAll}):
 *   queued attempts need slots to end as cancelled.
 * - When the run ends, nothing is watched any more
 *   ({@link LingeringBodies.forget}): no timer outlives the run, and no
 *   warning comes after its end.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../core/clock.js";

/** What this module needs of an attempt (`LiveAttempt` in `attempts.ts`). */
export interface LingeringAttempt {
  readonly id: string;
  readonly attempt: number;
  /** Gives the attempt's slot back; kept while its body lingers. */
  release: (() => void) | undefined;
  timer: TimerHandle | undefined;
  /** True while its body lingers and is watched here. */
  lingering: boolean;
}

/** What lingering bodies work with. */
export interface LingeringEnv {
  readonly clock: Clock;
  /** Emits a `warning` event about node `nodeId`. */
  readonly warn: (nodeId: string, code: string, message: string) => void;
  /** Queues an attempt of `id` (a start deferred while its previous body lingered). */
  readonly start: (id: string) => void;
}

/** The run's lingering bodies, by activation id, and the starts deferred for them. */
export class LingeringBodies {
  readonly #env: LingeringEnv;
  readonly #bodies = new Map<string, LingeringAttempt>();
  readonly #deferred = new Set<string>();

  constructor(env: LingeringEnv) {
    this.#env = env;
  }

  /** True (and the start is deferred) when a body of `id` lingers: call before queueing an attempt of `id`. */
  defers(id: string): boolean {
    if (this.#bodies.size === 0 || !this.#bodies.has(id)) return false;
    this.#deferred.add(id);
    return true;
  }

  /** `live` timed out while its body runs: it keeps its slot until the body settles, or for `graceMs` at most. */
  linger(live: LingeringAttempt, graceMs: number): void {
    live.lingering = true;
    const previous = this.#bodies.get(live.id);
    if (previous !== undefined) this.settled(previous);
    this.#bodies.set(live.id, live);
    live.timer = this.#env.clock.setTimeout(
      () => {
        live.timer = undefined;
        if (!live.lingering) return;
        this.#env.warn(
          live.id,
          "NODE_BODY_IGNORED_ABORT",
          `attempt ${live.attempt} of node "${live.id}" timed out ${graceMs} ms ago and its body has not ended since: it ignores ctx.signal. ` +
            `Its concurrency slot is given back and its next attempt may start, so it may run beside them, outside maxConcurrency. ` +
            `Pass ctx.signal to what the body awaits (fetch, database drivers, timers) so it stops when it times out.`,
        );
        this.settled(live);
      },
      graceMs,
      `timed-out body of node "${live.id}" (attempt ${live.attempt})`,
    );
  }

  /** `live`'s body settled, was given up on, or the run stopped: its slot is given back, and a deferred start of its activation is queued. */
  settled(live: LingeringAttempt): void {
    if (!live.lingering) return;
    live.lingering = false;
    if (live.timer !== undefined) {
      this.#env.clock.clearTimeout(live.timer);
      live.timer = undefined;
    }
    if (this.#bodies.get(live.id) === live) this.#bodies.delete(live.id);
    const release = live.release;
    live.release = undefined;
    release?.();
    if (this.#deferred.delete(live.id)) this.#env.start(live.id);
  }

  /** The run stops: every lingering slot is given back, and every deferred start queued (to end as cancelled). */
  releaseAll(): void {
    for (const live of [...this.#bodies.values()]) this.settled(live);
  }

  /** The run ended: nothing is watched any more (no timer, no warning after the end). */
  forget(): void {
    for (const live of this.#bodies.values()) {
      if (live.timer !== undefined) this.#env.clock.clearTimeout(live.timer);
      live.timer = undefined;
      live.release = undefined;
      live.lingering = false;
    }
    this.#bodies.clear();
    this.#deferred.clear();
  }
}
