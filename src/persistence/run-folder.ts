/**
 * The layout of `LowdbStore`'s folder: `<dir>/runs/<runId>/` with one
 * file per part of a run, and the checks that make the folders safe to
 * use (`store-files.ts`). Folders are made with mode 0700, set exactly
 * (the umask filters what `mkdir` gets: a folder made with another mode is
 * `chmod`ed), and checked after `mkdir` made or found them, since `mkdir`
 * says nothing about who owns an existing folder (and does not follow a
 * link at its own name: it fails with EEXIST, and the check refuses the
 * link); a folder `mkdir` has just made is looked at for its mode alone,
 * and not at all once one made in this process came out 0700
 * (`store-files.ts`, "Made as asked"). With `fsync`, a folder made here is
 * flushed into its parent, so that a power loss cannot take away a run
 * whose files were flushed. The calls are synchronous (see
 * `store-files.ts`, "Costs"), and a folder found with the right mode is
 * not `chmod`ed again.
 *
 * Checked once. A run folder (and `runs/`) that this store made or
 * checked is not checked again by the calls that only use it (loading,
 * writing a snapshot or a summary): a run's life made a dozen `lstat`s of
 * the same two folders. Before first use each is checked as always, so a
 * link planted there beforehand is refused; the lease calls
 * ({@link RunFolders.recheckSync}) look at the run folder again every time,
 * since they make files (the lease lock) in it; and a run deleted by this
 * store is forgotten ({@link RunFolders.forget}), so its folder is made
 * and checked anew.
 *
 * @module
 */
import { chmodSync, mkdirSync } from "node:fs";
import { join, sep } from "node:path";
import { assertRunId } from "../core/run-id.js";
import { hasCode } from "./folder-lock.js";
import { checkedStats, madeAsAsked, sawMadeAsAsked, verifyPathSync } from "./store-files.js";
import { syncFolder, syncMadeFolders } from "./atomic-file.js";

const DIR_MODE = 0o700;
/** Runs whose paths {@link RunFolders.files} keeps made (a store calls it at every write of a run; the paths are made once). */
const KEPT_PATHS = 256;
/** Runs whose checked folders are remembered (emptied when full: a forgotten one is only checked again). */
const KEPT_CHECKED = 4096;

/** The paths of one run's files. */
export interface RunFiles {
  readonly dir: string;
  readonly snapshot: string;
  readonly summary: string;
  readonly journal: string;
  readonly lease: string;
  readonly lock: string;
}

/** The run folders under a store folder. */
export class RunFolders {
  /** The store folder (the caller's). */
  readonly dir: string;
  /** `<dir>/runs`. */
  readonly runsDir: string;

  /** Whether a folder made here is flushed into its parent (`LowdbStore`'s `fsync`). */
  readonly #fsync: boolean;
  /** The paths of the runs used last (at most {@link KEPT_PATHS}; emptied when full). */
  readonly #paths = new Map<string, RunFiles>();
  /** Whether `runs/` was made or checked here (see the module comment, "Checked once"). */
  #runsChecked = false;
  /** The runs whose folder was made or checked here (at most {@link KEPT_CHECKED}). */
  readonly #checked = new Set<string>();
  /** The runs whose folder was made here (a subset of {@link RunFolders.#checked}). */
  readonly #made = new Set<string>();

  constructor(dir: string, fsync = false) {
    this.dir = dir;
    this.runsDir = join(dir, "runs");
    this.#fsync = fsync;
  }

  /**
   * The paths of run `runId`'s files (the id must be valid). Made once per
   * run and kept (for the last {@link KEPT_PATHS} runs): a store asks at
   * every append, and six `path.join`s cost about 5 µs, a tenth of a small
   * run's whole append. Made by concatenation, not `path.join` (its
   * normalization, 2 to 3 µs, finds nothing to do): `runsDir` is
   * normalized, and a valid run id has no separator and is never `.` or
   * `..` (`core/run-id.ts`).
   */
  files(runId: string): RunFiles {
    const kept = this.#paths.get(runId);
    if (kept !== undefined) return kept;
    // The callers checked it already; a second check (a test of a regular expression) makes the concatenation safe here.
    assertRunId(runId);
    const dir = `${this.runsDir}${sep}${runId}`;
    const files: RunFiles = {
      dir,
      snapshot: `${dir}${sep}snapshot.json`,
      summary: `${dir}${sep}summary.json`,
      journal: `${dir}${sep}journal.ndjson`,
      lease: `${dir}${sep}lease.json`,
      lock: `${dir}${sep}lease.lock`,
    };
    if (this.#paths.size >= KEPT_PATHS) this.#paths.clear();
    this.#paths.set(runId, files);
    return files;
  }

  /**
   * Checks `runs/` and the run's folder, unless this store made or checked
   * them before; false when either is missing, `UnsafeStoreFileError` when
   * unsafe.
   */
  verifySync(runId: string): boolean {
    if (this.#checked.has(runId)) return true;
    return this.#checkRuns() && this.#checkRun(runId);
  }

  /** {@link RunFolders.verifySync}, the run's folder looked at again even when checked before (one `lstat`). */
  recheckSync(runId: string): boolean {
    return this.#checkRuns() && this.#checkRun(runId);
  }

  /** True when this store made or checked the run's folder (and `runs/`) and has not forgotten it. */
  checked(runId: string): boolean {
    return this.#checked.has(runId);
  }

  /**
   * True when this store made the run's folder (mode 0700, this user's)
   * and has not forgotten it: no other user can have put anything in it
   * (see `atomic-file.ts`, `FolderChecked`).
   */
  made(runId: string): boolean {
    return this.#made.has(runId);
  }

  /** Forgets that the run's folder was checked (it is being deleted). */
  forget(runId: string): void {
    this.#checked.delete(runId);
    this.#made.delete(runId);
  }

  /**
   * Makes `runs/` (and the store folder, when missing) or finds it, and
   * checks it. Made first, checked after, as a run's folder: `mkdir` does
   * not follow a link at its own name (EEXIST, then the check refuses the
   * link), so a new store's first run costs no lookup before, and a folder
   * made with the right mode is not `chmod`ed again.
   */
  #ensureRuns(): void {
    let created: string | undefined;
    try {
      mkdirSync(this.runsDir, { mode: DIR_MODE });
      created = this.runsDir;
    } catch (err) {
      if (hasCode(err, "ENOENT")) created = mkdirSync(this.runsDir, { recursive: true, mode: DIR_MODE });
      else if (!hasCode(err, "EEXIST")) throw err;
    }
    const stats = checkedStats(this.runsDir);
    // Set the mode on the folders made here only (a given `dir` that exists is the caller's).
    if (created !== undefined) {
      if (stats === undefined || (stats.mode & 0o777) !== DIR_MODE) chmodSync(this.runsDir, DIR_MODE);
      if (created.length <= this.dir.length) chmodSync(this.dir, DIR_MODE);
      // With fsync, a folder made here survives a power loss only once its parent's entry is flushed.
      if (this.#fsync) syncMadeFolders(this.runsDir, created);
    }
    this.#runsChecked = true;
  }

  #checkRuns(): boolean {
    if (!this.#runsChecked) this.#runsChecked = verifyPathSync(this.runsDir);
    return this.#runsChecked;
  }

  #checkRun(runId: string): boolean {
    const found = verifyPathSync(this.files(runId).dir);
    if (found) this.#remember(runId);
    else this.forget(runId);
    return found;
  }

  #remember(runId: string): void {
    if (this.#checked.size >= KEPT_CHECKED) {
      this.#checked.clear();
      this.#made.clear();
    }
    this.#checked.add(runId);
  }

  /**
   * Makes (or finds and checks) `runs/` and the run's folder, looking at a
   * folder checked before again: the lease lock's `createParent`, called
   * when the lock could not be made because the folder is gone (a `delete`
   * took it away while this store waited for the lock).
   */
  async ensure(runId: string): Promise<void> {
    this.ensureSync(runId, true);
  }

  /**
   * {@link RunFolders.ensure} with synchronous calls; a folder made or
   * checked before is not checked again, unless `recheck`. True when the
   * run's folder was made by this call (so it was empty just now).
   */
  ensureSync(runId: string, recheck = false): boolean {
    if (this.#checked.has(runId) && (!recheck || this.recheckSync(runId))) return false;
    // `runs/` is checked before anything is made in it: mkdir follows a planted link.
    if (!this.#runsChecked) this.#ensureRuns();
    const dir = this.files(runId).dir;
    // Made first, checked after (mkdir does not follow a link at its own name: EEXIST): a new run's folder costs no lookup before.
    try {
      mkdirSync(dir, { mode: DIR_MODE });
    } catch (err) {
      // `runs/` checked before and gone since (its store folder removed): made and checked again.
      if (hasCode(err, "ENOENT") && this.#runsChecked) {
        this.#runsChecked = false;
        this.#checked.clear();
        this.#made.clear();
        return this.ensureSync(runId);
      }
      if (!hasCode(err, "EEXIST")) throw err;
      if (verifyPathSync(dir)) this.#remember(runId);
      return false;
    }
    // Checked for its mode alone, and not even that once a folder made here came out as asked (store-files.ts, "Made as asked").
    let found = true;
    if (!madeAsAsked("folder")) {
      const stats = checkedStats(dir);
      found = stats !== undefined;
      if (stats && (stats.mode & 0o777) !== DIR_MODE) chmodSync(dir, DIR_MODE);
      else if (stats) sawMadeAsAsked("folder");
    }
    if (this.#fsync) syncFolder(this.runsDir, true);
    if (found) {
      this.#remember(runId);
      this.#made.add(runId);
    }
    return true;
  }
}

/** True when `name` (an entry of `runs/`) can be a run's folder: a valid run id (so not the trash of an interrupted delete). */
export function isRunFolderName(name: string): boolean {
  try {
    assertRunId(name);
    return true;
  } catch {
    return false;
  }
}
