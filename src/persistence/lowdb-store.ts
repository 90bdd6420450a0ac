/**
 * `LowdbStore`: the default, durable {@link RunStore}, runs kept as files
 * under one folder (`dir`).
 *
 * Since issue 16's twenty-fourth pass, a run this store starts is kept in
 * one file, `<dir>/<runId>.run` (`run-file-store.ts`): 7 file calls for a
 * 1-node run where a folder per run took 24. Runs that an earlier version
 * kept as folders, `<dir>/runs/<runId>/` (`run-folder-store.ts`), are still
 * read, resumed, listed and deleted there, with that layout's own leases,
 * so a process of an earlier version and one of this version can share a
 * store folder while such a run goes on: both drive it through its folder.
 *
 * Each call goes to one of the two by its run id ({@link LowdbStore}'s
 * `#route`): the run file when it exists or when no folder of that run
 * does (a new run), else the folder. Whether `<dir>/runs` exists at all is
 * looked at once per store object, on its first call (and again by `list`
 * and `delete`), so a store that never held a folder pays nothing per run
 * for the old layout. A folder that a process of an earlier version makes
 * after that look is not seen by this store object's other calls: while
 * such processes start runs in the same folder, use `layout: "folders"`.
 *
 * A call that fails is looked into (`folderFailure`): when the folder
 * itself cannot be used (a file there or above it, no permission), the
 * error is `StoreFolderError` saying so. Not `append`'s, which is on every
 * step's path and comes after the run's lease and first snapshot, which
 * say it.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { FolderLocation } from "./store-location.js";
import { assertFileStoreOptions } from "./file-store-options.js";
import { InvalidOptionError } from "../errors.js";
import { valueText } from "../core/text.js";
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { assertRunId } from "../core/run-id.js";
import type { NodeCounts } from "../state/run-summary.js";
import type { RunState } from "../state/run-state.js";
import type { JournalRecord, RunSummary } from "../state/records.js";
import { RunFileStore } from "./run-file-store.js";
import { RunFolderStore } from "./run-folder-store.js";
import type { CancelRequest, Lease, LeaseRequest, LoadHint, RunQuery, RunStore, StoredRun } from "./run-store.js";
import { checkedStats, folderFailure } from "./store-files.js";

/** Options of {@link LowdbStore}. */
export interface LowdbStoreOptions {
  /**
   * The folder runs are kept in (made if missing, with mode 0700).
   * Resolved to an absolute path when the store is made.
   * @default process.env.TASKLOOM_DIR, else "./.taskloom"
   */
  readonly dir?: string;
  /**
   * Flush every write to the disk (`fsync`) before it counts as done. Off,
   * a process crash loses nothing that was written; on, neither does a
   * power loss, at the cost of a disk flush per append.
   * @default false
   */
  readonly fsync?: boolean;
  /**
   * How new runs are kept: `"files"`, one file per run (`<dir>/<runId>.run`);
   * `"folders"`, a folder of files per run (`<dir>/runs/<runId>/`), as
   * earlier versions kept every run. Runs already kept as folders are
   * read and resumed as folders either way, and runs already kept as files
   * as files. Choose `"folders"` while
   * processes of an earlier version start runs in the same folder (a
   * rolling upgrade): two processes that start one run id at once then
   * agree on its layout, and so on who drives it.
   * @default "files"
   */
  readonly layout?: "files" | "folders";
  /** Reserved: compaction is decided by the persistence observer, not the store. */
  readonly compactEvery?: never;
}

/**
 * Keeps runs as files under a folder: the default store.
 *
 * @example
 * ```ts
 * const store = new LowdbStore({ dir: "./.taskloom" });
 * await runAsync(g, inputs, { store, runId: "etl-2026-11-23" });
 * console.log(await listRuns({ store, status: "failed" }));
 * ```
 */
export class LowdbStore implements RunStore {
  /** The absolute folder runs are kept in. */
  readonly dir: string;
  readonly #location: FolderLocation;
  readonly #fsync: boolean;
  readonly #files: RunFileStore;
  /** The store of runs kept as folders, made once `<dir>/runs` is seen. */
  #folders: RunFolderStore | undefined;
  /** Which store each run id goes to, while `<dir>/runs` exists or with `layout: "folders"` (else every run goes to `#files`). */
  readonly #routes = new Map<string, RunStore>();
  /** The store every run goes to, with `layout: "folders"`. */
  readonly #only: RunFolderStore | undefined;
  /** Whether `<dir>/runs` was looked for (on the first call, not when the store is made: a store is made before its folder exists). */
  #looked = false;

  constructor(options: LowdbStoreOptions = {}) {
    assertKnownKeys("LowdbStore", options, optionKeys<Omit<LowdbStoreOptions, "compactEvery">>({ dir: true, fsync: true, layout: true }));
    assertFileStoreOptions("LowdbStore", options);
    const { layout = "files" } = options;
    if (layout !== "files" && layout !== "folders")
      throw new InvalidOptionError("layout", `of LowdbStore must be "files" or "folders" (got ${valueText(layout)})`);
    this.dir = resolve(options.dir ?? (process.env.TASKLOOM_DIR || ".taskloom"));
    this.#location = new FolderLocation(this.dir);
    this.#fsync = options.fsync ?? false;
    this.#files = new RunFileStore({ dir: this.dir, fsync: this.#fsync });
    if (layout === "folders") {
      this.#folders = new RunFolderStore({ dir: this.dir, fsync: this.#fsync });
      this.#only = this.#folders;
    }
  }

  /** Whether every write is flushed to the disk before it counts (the `fsync` option); `scheduleStoreFor` gives schedules the same. */
  get fsync(): boolean {
    return this.#fsync;
  }

  /** `lowdb:<the folder's real path>` (its absolute path until it exists; `store-location.ts`): every `LowdbStore` on this folder sees the same runs. */
  get location(): string {
    return this.#location.name;
  }

  /** Makes `#folders` when `<dir>/runs` exists (a symbolic link or another user's folder there is refused); true when it does. */
  #lookForFolders(): boolean {
    this.#looked = true;
    if (this.#folders !== undefined) return true;
    if (checkedStats(join(this.dir, "runs")) === undefined) return false;
    this.#folders = new RunFolderStore({ dir: this.dir, fsync: this.#fsync });
    return true;
  }

  /** The store that keeps run `runId` (see the module comment). */
  #route(runId: string): RunStore {
    if (this.#only === undefined) {
      if (!this.#looked) this.#lookForFolders();
      if (this.#folders === undefined) return this.#files;
    }
    let store = this.#routes.get(runId);
    if (store === undefined) {
      assertRunId(runId);
      // A run file wins: with `layout: "folders"` too, a run a process of this version kept as a file stays there.
      const inFile = checkedStats(join(this.dir, runId + ".run"), "file") !== undefined;
      const inFolder = !inFile && (this.#only !== undefined || checkedStats(join(this.dir, "runs", runId)) !== undefined);
      store = inFolder ? this.#folders! : this.#files;
      this.#routes.set(runId, store);
    }
    return store;
  }

  async writeSnapshot(state: RunState, seq: number, lease?: Lease): Promise<void> {
    try {
      return await this.#route(state.meta.runId).writeSnapshot(state, seq, lease);
    } catch (error) {
      throw folderFailure(this.dir, error);
    }
  }

  append(runId: string, records: readonly JournalRecord[], lease?: Lease, counts?: NodeCounts): Promise<void> {
    // Not `async`: a chain step's append is made at once (run-file-store.ts), and an `async` wrapper would add a
    // promise and a microtask hop to each; a failure to route is still a rejection, as the contract has it.
    try {
      return this.#route(runId).append(runId, records, lease, counts);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async load(runId: string, hint?: LoadHint): Promise<StoredRun | undefined> {
    try {
      return await this.#route(runId).load(runId, hint);
    } catch (error) {
      throw folderFailure(this.dir, error);
    }
  }

  async list(query: RunQuery = {}): Promise<RunSummary[]> {
    try {
      return await this.#list(query);
    } catch (error) {
      throw folderFailure(this.dir, error);
    }
  }

  async #list(query: RunQuery): Promise<RunSummary[]> {
    const files = await this.#files.list(query);
    if (!this.#lookForFolders()) return files;
    const seen = new Set(files.map((s) => s.runId));
    const folders = (await this.#folders!.list(query)).filter((s) => !seen.has(s.runId));
    return [...files, ...folders].sort((a, b) => b.updatedAt - a.updatedAt);
  }

  async delete(runId: string, lease?: Lease): Promise<boolean> {
    try {
      if (this.#folders === undefined) this.#lookForFolders();
      const deleted = await this.#route(runId).delete(runId, lease);
      this.#routes.delete(runId);
      return deleted;
    } catch (error) {
      throw folderFailure(this.dir, error);
    }
  }

  async acquireLease(runId: string, request: LeaseRequest): Promise<Lease> {
    try {
      return await this.#route(runId).acquireLease(runId, request);
    } catch (error) {
      throw folderFailure(this.dir, error);
    }
  }

  async renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease> {
    return this.#route(lease.runId).renewLease(lease, ttlMs, now);
  }

  async releaseLease(lease: Lease): Promise<void> {
    await this.#route(lease.runId).releaseLease(lease);
    this.#routes.delete(lease.runId);
  }

  async requestCancel(runId: string, request: CancelRequest): Promise<boolean> {
    try {
      return await this.#route(runId).requestCancel!(runId, request);
    } catch (error) {
      throw folderFailure(this.dir, error);
    }
  }

  async readLease(runId: string): Promise<Lease | undefined> {
    try {
      return await this.#route(runId).readLease!(runId);
    } catch (error) {
      throw folderFailure(this.dir, error);
    }
  }

  async close(): Promise<void> {
    await this.#files.close();
    await this.#folders?.close();
  }
}
