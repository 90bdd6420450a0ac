/**
 * The schedules a scheduler holds, and the keeping of their leases: each
 * held schedule's lease is renewed every third of the TTL, busy or not (a
 * long run must not lose its schedule), until the scheduler has stopped.
 *
 * Invariants: a lease is renewed only while this scheduler still owns it
 * (a renewal never takes a schedule back from another scheduler); a held
 * schedule whose lease is lost, that was removed, or whose file went bad
 * is let go, at once when idle, else when its work ends; the lease request
 * carries this process's identity, so a dead scheduler is replaced at once
 * only when it is provably dead (`lease-rules.ts`).
 *
 * @module
 */
import { SnapshotCorruptError } from "../persistence/errors.js";
import { processIdentity } from "../persistence/lease-rules.js";
import type { LeaseRequest } from "../persistence/run-store.js";
import type { Clock, TimerHandle } from "../core/clock.js";
import { ScheduleNotFoundError } from "./errors.js";
import { holdsLease, leaseHost, withLease } from "./schedule-lease.js";
import type { ScheduleRecord } from "./schedule-record.js";
import type { ScheduleStore } from "./schedule-store.js";
import type { SchedulerEmit } from "./scheduler-events.js";

/** A schedule this scheduler holds the lease of, and the state of its work. */
export interface Held {
  record: ScheduleRecord;
  timer: TimerHandle | undefined;
  busy: Promise<void> | undefined;
  /** Set when new work appeared while busy. */
  again: boolean;
  running: { slot: number; runId: string; since: number } | undefined;
  /** No new attempt before this (set when the slot's run was locked by another process). */
  blockedUntil: number;
}

/** What keeping the leases needs from its scheduler. */
export interface LeaseKeeperHost {
  readonly owner: string;
  readonly ttlMs: number;
  readonly clock: Clock;
  readonly schedules: ScheduleStore;
  /** The held schedules, by id. */
  readonly held: ReadonlyMap<string, Held>;
  /** Lets a held schedule go (clears its timer). */
  drop(id: string): void;
  readonly emit: SchedulerEmit;
  /** Whether renewals go on (the scheduler is running or stopping). */
  renewing(): boolean;
}

/** Renews the leases of the held schedules. */
export class ScheduleLeaseKeeper {
  readonly #host: LeaseKeeperHost;
  #renewTimer: TimerHandle | undefined;
  /** Set by stop(): a renewal under way then sets no further timer. */
  #stopped = false;
  /** The renewal under way, if any. */
  #renewal: Promise<void> | undefined;

  constructor(host: LeaseKeeperHost) {
    this.#host = host;
  }

  /** The lease request of this scheduler, now. */
  request(): LeaseRequest {
    // The identity lets a dead scheduler be replaced at once only when it is provably dead (lease-rules.ts).
    return { owner: this.#host.owner, pid: process.pid, host: leaseHost(), ttlMs: this.#host.ttlMs, now: this.#host.clock.now(), identity: processIdentity() };
  }

  /** Renews every held lease each third of the TTL, busy or not (a long run must not lose its schedule). */
  start(): void {
    this.#stopped = false;
    this.#schedule();
  }

  #schedule(): void {
    this.#renewTimer = this.#host.clock.setTimeout(
      () => {
        this.#renewTimer = undefined;
        this.#renewal = this.#renewAll().finally(() => {
          this.#renewal = undefined;
          // A renewal that was under way when stop() was called must not leave a timer behind it.
          if (!this.#stopped && this.#host.renewing()) this.#schedule();
        });
      },
      Math.max(1, Math.floor(this.#host.ttlMs / 3)),
      "schedule lease renewal",
    );
  }

  /** Resolves when no renewal is under way (after stop(): none starts again). */
  async idle(): Promise<void> {
    await this.#renewal;
  }

  /** Clears the pending renewal. */
  stop(): void {
    this.#stopped = true;
    if (this.#renewTimer !== undefined) this.#host.clock.clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
  }

  async #renewAll(): Promise<void> {
    for (const [id, held] of [...this.#host.held]) {
      try {
        const renewed = await this.#host.schedules.update(id, (r) => (r.lease?.owner === this.#host.owner ? withLease(r, this.request()) : r));
        if (!holdsLease(renewed, this.#host.owner, this.#host.clock.now())) {
          if (held.busy === undefined) this.#host.drop(id);
          continue;
        }
        if (held.busy === undefined) held.record = renewed;
      } catch (error) {
        if (error instanceof ScheduleNotFoundError || error instanceof SnapshotCorruptError) {
          // Removed meanwhile, or its file went bad (the poll warns about it): the work on it (if any) lets it go when it ends.
          if (held.busy === undefined) this.#host.drop(id);
          continue;
        }
        this.#host.emit("error", { scheduleId: id, at: this.#host.clock.now(), error });
      }
    }
  }
}
