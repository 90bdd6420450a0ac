/**
 * The `location` of a store folder: the name under which every store
 * object on that folder, in any thread, finds the runs another one drives
 * (`runner/active-runs.ts`: a `resolveWait` through a new store object
 * reaches the run live instead of waiting for its lease).
 *
 * The folder's real path once it exists, so that a folder reached
 * through a symbolic link (a volume mounted elsewhere, `/tmp` on macOS)
 * is the same location as the folder itself; its absolute path until
 * then. A name is kept only once the real path was found, so one store
 * object names its folder one way for its whole life once the folder
 * exists (a run is registered only once its lease is written there).
 *
 * @module
 */
import { realpathSync } from "node:fs";

/**
 * Names store folders (`lowdb:<real path>`), keeping the name once the
 * folder exists.
 *
 * @example
 * ```ts
 * const where = new FolderLocation("/srv/store-link");
 * where.name; // "lowdb:/mnt/volume/store" once the folder exists, "lowdb:/srv/store-link" before
 * ```
 */
export class FolderLocation {
  readonly #dir: string;
  #name: string | undefined;

  /** `dir`: the store folder, absolute. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** `lowdb:<the folder's real path>`, or `lowdb:<dir>` while the folder cannot be resolved (not made yet). */
  get name(): string {
    if (this.#name !== undefined) return this.#name;
    let real: string;
    try {
      real = realpathSync.native(this.#dir);
    } catch {
      // Not made yet (or unreadable: the store's own calls say why): named by its path until it can be resolved.
      return `lowdb:${this.#dir}`;
    }
    this.#name = `lowdb:${real}`;
    return this.#name;
  }
}
