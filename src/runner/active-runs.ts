/**
 * The runs this process is driving now, by store and run id, so that
 * `resolveWait` on a run that is running here delivers the event straight
 * to the waiting node instead of going through the store.
 *
 * @module
 */
import type { RunStore } from "../persistence/run-store.js";

/** What `resolveWait` needs from a run driven in this process. */
export interface ActiveRun {
  /** Delivers an event to the node waiting for `key`; false when the run stopped driving meanwhile. */
  deliver(key: string, payload: unknown): Promise<boolean>;
  /** Settles once the driver has saved the run and given its lease back. */
  readonly stopped: Promise<void>;
}

const active = new WeakMap<RunStore, Map<string, ActiveRun>>();

/** Registers a run as driven here; returns the function that unregisters it. */
export function registerActiveRun(store: RunStore, runId: string, run: ActiveRun): () => void {
  let runs = active.get(store);
  if (!runs) {
    runs = new Map();
    active.set(store, runs);
  }
  runs.set(runId, run);
  return () => {
    if (runs.get(runId) === run) runs.delete(runId);
  };
}

/** The run with this id driven here on this store, if any. */
export function activeRun(store: RunStore, runId: string): ActiveRun | undefined {
  return active.get(store)?.get(runId);
}
