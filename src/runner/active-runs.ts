/**
 * The runs this thread is driving now, by store location and run id, so
 * that `resolveWait` on a run that is running here delivers the event
 * straight to the waiting node instead of going through the store.
 *
 * A run is recognised by where its store keeps runs, not by the store
 * object: a webhook handler that opens its own `LowdbStore` on the same
 * folder as the driver (or a `RedisStore` on the same server and prefix)
 * reaches the live run. {@link storeLocation} is the store's `location`
 * when it has one, else the store object itself (a `MemoryStore`, whose
 * runs no other object can see).
 *
 * Invariant: a run is registered from the moment its driver holds the
 * lease until the lease is given back, and noted as being acquired
 * ({@link registerAcquiring}) while its driver takes the lease, so a
 * `resolveWait` in this thread never finds this thread's own lease without
 * finding the run or the driver about to register it.
 *
 * @module
 */
import type { RunStore } from "../persistence/run-store.js";

/** What `resolveWait` needs from a run driven in this thread. */
export interface ActiveRun {
  /**
   * Delivers an event to the node waiting for `key`; resolves to false when
   * the run does not take events live (it is not running yet, or it stopped
   * driving meanwhile): the caller then awaits `stopped` and goes through
   * the store.
   */
  deliver(key: string, payload: unknown): Promise<boolean>;
  /** Settles once the driver has saved the run and given its lease back. */
  readonly stopped: Promise<void>;
  /** Cancels the run (`cancelRun` on a run driven in this thread). */
  cancel?(reason: string): void;
}

/** Where `store` keeps its runs: its `location`, or the object itself when it has none. */
export function storeLocation(store: RunStore): string | RunStore {
  const location = store.location;
  return typeof location === "string" && location.length > 0 ? location : store;
}

const byObject = new WeakMap<RunStore, Map<string, ActiveRun>>();
const byLocation = new Map<string, Map<string, ActiveRun>>();

function runsAt(location: string | RunStore, create: boolean): Map<string, ActiveRun> | undefined {
  let runs = typeof location === "string" ? byLocation.get(location) : byObject.get(location);
  if (!runs && create) {
    runs = new Map();
    if (typeof location === "string") byLocation.set(location, runs);
    else byObject.set(location, runs);
  }
  return runs;
}

let count = 0;

/** How many runs this thread drives now. */
export function activeRunCount(): number {
  return count;
}

/** Registers a run as driven here; returns the function that unregisters it. */
export function registerActiveRun(store: RunStore, runId: string, run: ActiveRun): () => void {
  const location = storeLocation(store);
  const runs = runsAt(location, true) as Map<string, ActiveRun>;
  const replaced = runs.has(runId);
  runs.set(runId, run);
  if (!replaced) count += 1;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (runs.get(runId) !== run) return;
    runs.delete(runId);
    if (runs.size === 0 && typeof location === "string" && byLocation.get(location) === runs) byLocation.delete(location);
    count -= 1;
  };
}

/** The drivers of this thread taking one run's lease now, and who waits for them to be done (none, mostly). */
interface Acquiring {
  count: number;
  readonly waiters: (() => void)[];
}

const acquiringByObject = new WeakMap<RunStore, Map<string, Acquiring>>();
const acquiringByLocation = new Map<string, Map<string, Acquiring>>();

/**
 * Notes that a driver of this thread is taking run `runId`'s lease: from
 * the moment the store holds it until the driver registers the run
 * ({@link registerActiveRun}), a `resolveWait` of this thread finds the
 * lease held by this process and no run yet. It then waits for the
 * returned function to be called (the driver registered the run, or did
 * not get the lease) and looks again. A count per run, and a promise only
 * for a caller that waits: every run start passes here.
 */
export function registerAcquiring(store: RunStore, runId: string): () => void {
  const location = storeLocation(store);
  let runs = typeof location === "string" ? acquiringByLocation.get(location) : acquiringByObject.get(location);
  if (!runs) {
    runs = new Map();
    if (typeof location === "string") acquiringByLocation.set(location, runs);
    else acquiringByObject.set(location, runs);
  }
  let entry = runs.get(runId);
  if (!entry) runs.set(runId, (entry = { count: 0, waiters: [] }));
  entry.count += 1;
  const at = runs;
  const mine = entry;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    mine.count -= 1;
    if (mine.count > 0) return;
    if (at.get(runId) === mine) at.delete(runId);
    if (at.size === 0 && typeof location === "string" && acquiringByLocation.get(location) === at) acquiringByLocation.delete(location);
    for (const wake of mine.waiters.splice(0)) wake();
  };
}

/** Settles once no driver of this thread is taking run `runId`'s lease (each registered it or failed); undefined when none is. */
export function acquiringRun(store: RunStore | string, runId: string): Promise<void> | undefined {
  const location = typeof store === "string" ? store : storeLocation(store);
  const entry = (typeof location === "string" ? acquiringByLocation.get(location) : acquiringByObject.get(location))?.get(runId);
  return entry && entry.count > 0 ? new Promise<void>((resolve) => entry.waiters.push(resolve)) : undefined;
}

/** The run with this id driven in this thread on this store's location, if any. */
export function activeRun(store: RunStore | string, runId: string): ActiveRun | undefined {
  return runsAt(typeof store === "string" ? store : storeLocation(store), false)?.get(runId);
}
