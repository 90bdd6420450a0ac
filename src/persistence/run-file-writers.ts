/**
 * The run files this process has open for writing, and which store object
 * has each: one at a time per file.
 *
 * Two `RunFileStore` objects on one folder (a store per request, say) may
 * both write a run with one lease, one may renew or give back a lease the
 * other took, or a store may write again after its `close`. Each object
 * that writes a run file writes at the end it knows (with `fsync`, over
 * the zeros it grew the file by), so two writers of one file at once
 * overwrote each other's lines, and a compaction by one (a new file
 * renamed over the old) left the other writing the replaced file, its
 * appends lost without an error. So a store object that needs a writer of
 * a file another object of this process has open first has that object
 * close its own ({@link ProcessWriters.handOver}), in that object's queue
 * of calls on the run (so after what it is doing; it opens the file again
 * when it next writes), then opens it.
 *
 * Across processes the lease protocol keeps one writer per file
 * (`run-file-leases.ts`); a worker thread is a process here, with its own
 * leases.
 *
 * @module
 */
import type { Stats } from "node:fs";
import type { RunFileWriter } from "./run-file-writer.js";

/** What the registry keeps of the writer a store object has open. */
interface Open {
  /** The store object (any object: only compared). */
  readonly owner: object;
  readonly writer: RunFileWriter;
  /** Closes `writer` in its owner's queue of calls on the run, if it is still the owner's writer then. */
  readonly close: () => Promise<void>;
}

/** The writers open in this process, by their file's folder (its device and inode) and name. */
const open = new Map<string, Open>();

/** The writers this process has open of the run files of one store folder, as one `RunFileStore` sees them. */
export class ProcessWriters {
  #folder: string | undefined;

  /**
   * Says which folder the store's files are in: the `stat` of it the store
   * made when it first checked it (no call of its own). Its device and
   * inode name the folder whatever link a store was given it through, so
   * that such stores share one writer per file.
   */
  locate(folder: Pick<Stats, "dev" | "ino">): void {
    this.#folder = `${folder.dev}:${folder.ino}`;
  }

  /** The key of the file `name`: its folder's identity and its name. The store checked its folder first. */
  #key(name: string): string {
    if (this.#folder === undefined) throw new Error("taskloom internal error: a run file's writer was asked for before its folder was checked");
    return `${this.#folder}/${name}`;
  }

  /**
   * Until no other store object of this process has the file `name` (in
   * the folder) open for writing: each that has it closes its writer
   * (`Open.close`). Called in the caller's queue of calls on the run and
   * never under the run's lock: an object waited for has the writer, so it
   * hands nothing over and never waits for the caller, nor for the lock.
   */
  async handOver(name: string, owner: object): Promise<void> {
    const key = this.#key(name);
    for (let other = open.get(key); other !== undefined && other.owner !== owner; other = open.get(key)) {
      await other.close();
      // Closed by other means (its owner's writer was replaced, and this one left listed): forgotten.
      if (open.get(key) === other) open.delete(key);
    }
  }

  /** Records that `owner` has `writer` of file `name` open, closed by `close` when another object needs it. */
  opened(name: string, owner: object, writer: RunFileWriter, close: () => Promise<void>): void {
    open.set(this.#key(name), { owner, writer, close });
  }

  /** Records that `writer` of file `name` is closed (nothing when another writer of it was recorded since). */
  closed(name: string, writer: RunFileWriter): void {
    const key = this.#key(name);
    if (open.get(key)?.writer === writer) open.delete(key);
  }
}
