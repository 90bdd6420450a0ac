/**
 * Each run's queue of store calls, as the file stores keep them
 * (`run-file-store.ts`, `run-folder-store.ts`): a call on a run starts
 * once every earlier call on the same run has settled, whatever its
 * outcome, and calls on different runs do not wait for each other. A
 * run's queue is forgotten once it empties, so {@link RunQueues.busy}
 * tells an append it may write at once (nothing ahead of it).
 *
 * @module
 */

/** Per-run queues of calls (see the module comment). */
export class RunQueues {
  /** The tail of each run's queue: settles when its last call has. */
  readonly #tails = new Map<string, Promise<void>>();

  /** Whether a call on `runId` is queued or running. */
  busy(runId: string): boolean {
    return this.#tails.has(runId);
  }

  /** Runs `task` after every earlier call on `runId` has settled; its result or rejection is the returned promise's. */
  serial<T>(runId: string, task: () => T | Promise<T>): Promise<T> {
    const result = (this.#tails.get(runId) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(runId, tail);
    void tail.then(() => {
      if (this.#tails.get(runId) === tail) this.#tails.delete(runId);
    });
    return result;
  }
}
