/**
 * The runs this thread is driving now, by run id and store location, so
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
 * Entries are kept by run id, each with its store object, and a store's
 * location is asked only when a look finds an entry of the same run id
 * under another store object: every run start registers here, and a
 * `LowdbStore`'s location is its folder's real path (a system call per
 * component, about 7 µs, once per store object), which a run on a fresh
 * store object should not pay when nobody looks.
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
   * the store. With `instance` (a run mark), rejects with
   * `RunNotFoundError` unless the run driven is the run with that mark.
   */
  deliver(key: string, payload: unknown, instance?: string): Promise<boolean>;
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

/** One run id's entry under one store: the store object that registered it, and what is kept for it. */
interface Entry {
  readonly store: RunStore;
}

/**
 * The entry of `entries` (one run id's) that stands for `where`: a store
 * object (the same object, or one on the same location) or a location
 * (another thread's request). Locations are asked only here, and only of
 * entries under another store object.
 */
function entryAt<E extends Entry>(entries: readonly E[] | undefined, where: RunStore | string): E | undefined {
  if (entries === undefined) return undefined;
  for (const entry of entries) if (entry.store === where) return entry;
  const location = typeof where === "string" ? where : storeLocation(where);
  if (typeof location !== "string") return undefined;
  for (const entry of entries) if (storeLocation(entry.store) === location) return entry;
  return undefined;
}

/** Removes `entry` from its run id's list in `byRun` (the list too, once empty). */
function remove<E extends Entry>(byRun: Map<string, E[]>, runId: string, entry: E): boolean {
  const entries = byRun.get(runId);
  const at = entries === undefined ? -1 : entries.indexOf(entry);
  if (at < 0) return false;
  if (entries!.length === 1) byRun.delete(runId);
  else entries!.splice(at, 1);
  return true;
}

interface RunEntry extends Entry {
  run: ActiveRun;
}

const active = new Map<string, RunEntry[]>();

let count = 0;

/** How many runs this thread drives now. */
export function activeRunCount(): number {
  return count;
}

/** Registers a run as driven here; returns the function that unregisters it. */
export function registerActiveRun(store: RunStore, runId: string, run: ActiveRun): () => void {
  let entry = entryAt(active.get(runId), store);
  if (entry !== undefined) entry.run = run;
  else {
    entry = { store, run };
    const entries = active.get(runId);
    if (entries === undefined) active.set(runId, [entry]);
    else entries.push(entry);
    count += 1;
  }
  const mine = entry;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (mine.run !== run) return;
    if (remove(active, runId, mine)) count -= 1;
  };
}

/** The drivers of this thread taking one run's lease now, and who waits for them to be done (none, mostly). */
interface Acquiring extends Entry {
  count: number;
  readonly waiters: (() => void)[];
}

const acquiring = new Map<string, Acquiring[]>();

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
  let entry = entryAt(acquiring.get(runId), store);
  if (entry === undefined) {
    entry = { store, count: 0, waiters: [] };
    const entries = acquiring.get(runId);
    if (entries === undefined) acquiring.set(runId, [entry]);
    else entries.push(entry);
  }
  entry.count += 1;
  const mine = entry;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    mine.count -= 1;
    if (mine.count > 0) return;
    remove(acquiring, runId, mine);
    for (const wake of mine.waiters.splice(0)) wake();
  };
}

/** Settles once no driver of this thread is taking run `runId`'s lease (each registered it or failed); undefined when none is. */
export function acquiringRun(store: RunStore | string, runId: string): Promise<void> | undefined {
  const entry = entryAt(acquiring.get(runId), store);
  return entry && entry.count > 0 ? new Promise<void>((resolve) => entry.waiters.push(resolve)) : undefined;
}

/** The run with this id driven in this thread on this store's location, if any. */
export function activeRun(store: RunStore | string, runId: string): ActiveRun | undefined {
  return entryAt(active.get(runId), store)?.run;
}
