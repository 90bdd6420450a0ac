/**
 * Keeps a driver's lease on one run for the life of its run session:
 * takes it (waiting while a `resolveWait` holds it for its one write,
 * delivery-lease.ts), renews it every third of its TTL on its own timer,
 * reports its loss once, and gives it back. (The lease request and the
 * translation of store failures live in run-lease.ts; this module is apart
 * from it because delivery-lease.ts builds on run-lease.ts too.)
 *
 * States: held and renewing (after {@link LeaseKeeper.keep}) → stopped
 * renewing ({@link LeaseKeeper.stopRenewing}) → released
 * ({@link LeaseKeeper.release}).
 *
 * Invariants. A renewal that fails ends the renewing for good:
 * {@link LeaseKeeper.lost} holds why (`LeaseLostError` when another driver
 * took the run over, as a fenced write says; `PersistenceError` when the
 * store failed) and `onLost` is called once with it. A renewal that
 * succeeds after `stopRenewing` starts no other. Giving the lease back
 * never fails the run: a store that refuses is a `LEASE_RELEASE_FAILED`
 * warning, and the lease stays until it expires. A renewal that returns
 * the lease with `cancelRequested` (another process called `cancelRun`,
 * `RunStore.requestCancel`) calls `onCancel` once, so the driver stops
 * the run within one renewal interval.
 *
 * @module
 */
import { describe, type TaskloomError } from "../errors.js";
import type { RunEvents } from "../events/run-events.js";
import type { CancelRequest, Lease, RunStore } from "../persistence/run-store.js";
import type { Clock, TimerHandle } from "../core/clock.js";
import { acquireAfterDeliveries } from "./delivery-lease.js";
import { leaseRequest, renewalFailure } from "./run-lease.js";

/** What {@link LeaseKeeper.acquire} needs besides the store and run id. */
export interface LeaseKeeperOptions {
  /** How long the lease lasts unless renewed (ms). */
  readonly ttlMs: number;
  readonly clock: Clock;
  /** Where the `LEASE_RELEASE_FAILED` warning goes. */
  readonly events: RunEvents;
  /** Take the lease from a live holder. */
  readonly takeover: boolean;
}

/** A driver's lease on one run, renewed while the run goes on (see the module comment). */
export class LeaseKeeper {
  readonly #store: RunStore;
  readonly #runId: string;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #events: RunEvents;
  /** The lease as first taken: journal writes carry it, so the store fences this driver once another takes the run. */
  readonly taken: Lease;
  #lease: Lease;
  #timer: TimerHandle | undefined;
  #renewing = false;
  #lost: TaskloomError | undefined;
  #cancelSeen = false;

  private constructor(store: RunStore, lease: Lease, options: LeaseKeeperOptions) {
    this.#store = store;
    this.#runId = lease.runId;
    this.taken = lease;
    this.#lease = lease;
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
    this.#events = options.events;
  }

  /**
   * Takes run `runId`'s lease. A resolver holding it for its one write is
   * waited for, not reported as a driver (`RunLockedError`); a store that
   * cannot take it (disk full, read-only) fails with `PersistenceError`.
   */
  static async acquire(store: RunStore, runId: string, options: LeaseKeeperOptions): Promise<LeaseKeeper> {
    const { ttlMs, clock } = options;
    const request = leaseRequest({ ttlMs, now: clock.now(), takeover: options.takeover });
    const lease = await acquireAfterDeliveries(store, runId, () => ({ ...request, now: clock.now() }));
    // `this`, not the class's name: a class body that names its class is renamed by the build (scripts/build.mjs).
    return new this(store, lease, options);
  }

  /** The lease as it is now (renewals replace it). */
  get lease(): Lease {
    return this.#lease;
  }

  /** Why the lease was lost, once a renewal failed. */
  get lost(): TaskloomError | undefined {
    return this.#lost;
  }

  /**
   * Starts renewing every `ttlMs / 3`; `onLost` is called once, when a
   * renewal fails, and `onCancel` once, when a renewal brings a cancel
   * request addressed to this lease.
   */
  keep(onLost: (error: TaskloomError) => void, onCancel?: (request: CancelRequest) => void): void {
    this.#renewing = true;
    const renew = (): void => {
      this.#timer = this.#clock.setTimeout(
        () => {
          this.#store.renewLease(this.#lease, this.#ttlMs, this.#clock.now()).then(
            (renewed) => {
              this.#lease = renewed;
              const request = renewed.cancelRequested;
              if (request !== undefined && request.token === renewed.token && !this.#cancelSeen) {
                this.#cancelSeen = true;
                onCancel?.(request);
              }
              if (this.#renewing) renew();
            },
            (error: unknown) => {
              this.#lost = renewalFailure(this.#lease, error);
              onLost(this.#lost);
            },
          );
        },
        Math.max(1, Math.floor(this.#ttlMs / 3)),
        `lease renewal of run "${this.#runId}"`,
      );
    };
    renew();
  }

  /** Stops renewing (a renewal in flight finishes and starts no other). */
  stopRenewing(): void {
    this.#renewing = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Whether the run is still ours, told by renewing the lease once. */
  stillHeld(): Promise<boolean> {
    return this.#store.renewLease(this.#lease, this.#ttlMs, this.#clock.now()).then(
      () => true,
      () => false,
    );
  }

  /** Gives the lease back; a failure is a `LEASE_RELEASE_FAILED` warning (see the module comment). */
  async release(): Promise<void> {
    await this.#store.releaseLease(this.#lease).catch((error: unknown) => {
      this.#events.emit("warning", {
        runId: this.#runId,
        at: this.#clock.now(),
        code: "LEASE_RELEASE_FAILED",
        message: `the lease of run "${this.#runId}" could not be given back (${describe(error)}); another driver can take the run once it expires`,
      });
    });
  }
}
