/**
 * Why this file is 618 lines (260 of them comments, this one 109; 358 of
 * code): it is one concept, the `RunStore` contract's eleven methods for
 * one on-disk layout, and every one of them goes through the same per-run
 * queue and the same open journal descriptor (opened by a snapshot, used
 * by appends, closed by a load, a delete or once the run stops, truncated
 * after compaction). The parts that
 * stand alone are elsewhere: file safety (`store-files.ts`), atomic
 * replace (`atomic-file.ts`), journal lines (`journal-file.ts`, `journal-reading.ts`), folders
 * (`run-folder.ts`), leases (`lowdb-leases.ts`), the summary file
 * (`summary-file.ts`) and the descriptors kept open for running runs'
 * summaries (`run-summaries.ts`), the listing (`run-listing.ts`), replay
 * (`replay.ts`), the snapshot's format (`snapshot-file.ts`), compact
 * journal lines (`journal-delta.ts`), the options' checks
 * (`file-store-options.ts`). Splitting the methods further would
 * spread the journal descriptor's lifetime, whose order is the crash
 * argument below, over several files, each taking the store's private
 * maps (journals, their highest seq, unsaved runs, what each run's files
 * are known to hold) as a host. Its per-run queue is `run-queues.ts`;
 * what other store objects of this process changed in a run folder (its
 * files, after which this store forgets what it knew of them; a lease
 * given back) is `run-folder-changes.ts`. The twenty-seventh pass grew
 * it by about 50 lines, all steps of that descriptor's lifetime: closed
 * and what was known forgotten when another store object changed the run
 * (`#catchUp`), the journal read again when one wrote it during a
 * snapshot's write, and the snapshot fenced again after that write. The
 * twenty-eighth pass did not change it: its lease calls are
 * `lowdb-leases.ts`'s. The twenty-ninth added three lines (the folder's
 * name, kept by `store-location.ts`); the thirtieth about ten (`delete` by
 * the holder of a lease, checked under the lease lock).
 *
 * `RunFolderStore`: the layout every run of `LowdbStore` was kept in until
 * issue 16's twenty-fourth pass, one folder per run under
 * `<dir>/runs/<runId>/`. `LowdbStore` (`lowdb-store.ts`) now starts runs in
 * one file each (`run-file-store.ts`) and reads, resumes, lists and deletes
 * the runs an earlier version kept here through this class, until they are
 * deleted:
 *
 * - `snapshot.json`: the run meta and every node record (superjson), with
 *   the journal sequence number it includes: written in format version 4,
 *   the records as column chunks (`snapshot-file.ts`); versions 3, 2 and 1
 *   (a {@link SnapshotDocument}) are still read;
 * - `summary.json`: the run's {@link RunSummary}, so `list` reads one small
 *   file per run instead of every snapshot (after a power loss it may lag
 *   behind the stop its journal holds, or be missing: `list` then reads the
 *   run's files, `summary-lag.ts`);
 * - `journal.ndjson`: one superjson {@link JournalRecord} per line, the
 *   changes made after the snapshot; a record this store can rebuild from
 *   what the run's files hold is written compact (`journal-delta.ts`), and
 *   a run of 64 or more node records as one line of columns (`journal-batch.ts`);
 * - `lease.json`: who drives the run, and `lease.lock` (an empty file, or
 *   a hard link of a fresh `lease.json`) while a process rewrites it.
 *
 * Invariants. Snapshot, summary and lease are replaced atomically (temp
 * file in the same folder, optional fsync, rename), so a crash leaves the
 * old or the new file, never a torn one; a file a new run makes (its
 * lease, its journal and, without `fsync`, its first summary) is made at
 * its name with `O_CREAT | O_EXCL` instead and written once, and until
 * then reads as absent (an empty lease as one given back, an empty summary
 * as missing: `lease-publish.ts`, `summary-file.ts`); an existing summary of a store
 * without `fsync` is overwritten in place within its first page instead
 * (`summary-file.ts`, `small-file.ts`: as safe against a process crash,
 * and no rename over the old file, which costs a forced allocation and a
 * discard on ext4); a running run's summary is kept open from the
 * snapshot that wrote it to the run's next change, which writes it
 * through that descriptor and closes it (`run-summaries.ts`). The journal is append-only and
 * may end in a torn line after a crash (`journal-reading.ts`): only the last
 * line may be bad, and it is ignored on load and cut off before the next
 * append, so new records never join a fragment. With `fsync`, the journal
 * is grown ahead of its records with zero bytes (so that a chain step's
 * flush commits its bytes, not a new file size as well), and its records
 * end at its first zero byte; the cut before the next append also cuts
 * off the zeros and whatever follows them. Every document is checked
 * whole on load (`snapshot-schema.ts`); anything unreadable or of the wrong
 * shape is a `SnapshotCorruptError` naming the file, and the file is left
 * as it is. `list` skips such a run and reports it (`onProblem`).
 *
 * Nothing planted in the folder is followed (`store-files.ts`): run
 * folders and files that are symbolic links, or owned by another user,
 * are refused with `UnsafeStoreFileError` before anything is read or
 * written; files are opened with `O_NOFOLLOW` and truncated through the
 * checked handle.
 *
 * Costs. `append` writes the bytes of its records through a descriptor
 * kept open per run (opened by the run's first snapshot, closed once the
 * run stops), whatever the run's size. `writeSnapshot` costs the run's
 * size and empties the journal (compaction) once the new snapshot is in
 * place; a big run's snapshot is made and written in pieces of
 * `PIECE_ITEMS` records (the file is the same), so its memory is a
 * piece's, not the run's whole text. The file calls are synchronous
 * system calls (a few microseconds each, where a trip through libuv's
 * thread pool costs tens and a run makes dozens), except the
 * write of a big snapshot and, with `fsync`, the flush of an append of
 * several node records (group commit), which go through the pool so the
 * run goes on meanwhile.
 * Within this process, calls on one run are queued, so an append never
 * lands between a snapshot and the journal truncation that follows it;
 * across processes, the lease keeps a single driver per run. An append
 * made while no call on its run is in flight, and synchronous (no flush
 * through the pool), skips the queue and is done when the call returns:
 * nothing can come between, and a chain step spares the queue's promises.
 *
 * Leases and fencing (`lease.json`, `lease.lock`, the check that a
 * write still holds the lease) are in `lowdb-leases.ts`; lease calls join
 * the run's queue too, so within this process a takeover and a write of
 * the same run are never interleaved.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { closeSync, ftruncateSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { FolderLocation } from "./store-location.js";
import { syncFolder, writeFileAtomicPieces, writeFileAtomicSync, type FolderChecked } from "./atomic-file.js";
import { SnapshotCorruptError } from "./errors.js";
import { assertFileStoreOptions } from "./file-store-options.js";
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { assertRunId } from "../core/run-id.js";
import { freshNodeIds, type RunState } from "../state/run-state.js";
import type { NodeCounts } from "../state/run-summary.js";
import { summarize, summaryOf } from "../state/run-summary.js";
import type { JournalRecord, RunMeta, RunSummary } from "../state/records.js";
import { assertMayDelete } from "./lease-rules.js";
import { EMPTY, JournalFile, journalText, topSeq } from "./journal-file.js";
import { readJournal } from "./journal-reading.js";
import { Replay, type SnapshotDocument } from "./replay.js";
import { PriorRecords, type StoredRecord } from "./journal-delta.js";
import { batchNodes } from "./journal-batch.js";
import type { CancelRequest, Lease, LeaseRequest, LoadHint, RunQuery, RunStore, StoredRun } from "./run-store.js";
import { checkSnapshotFile, fromSnapshotFile, snapshotFilePieces, type SnapshotFileDocument } from "./snapshot-file.js";
import { readDocumentSync } from "./stored-document.js";
import { serialize } from "./serialization.js";
import { RunFolders, type RunFiles } from "./run-folder.js";
import { openStoreFileSync, verifyPathSync } from "./store-files.js";
import { LeaseFiles } from "./lowdb-leases.js";
import { RunSummaries } from "./run-summaries.js";
import { listRunFolders } from "./run-listing.js";
import { stillGoing } from "./summary-lag.js";
import { RunQueues } from "./run-queues.js";
import { RunFolderChanges } from "./run-folder-changes.js";

/**
 * Whether a store with `fsync` flushes an append of `records` on the
 * calling thread rather than through libuv's thread pool: a single record
 * (a chain step), or an append whose last record is the run meta (a run's
 * start or end: the persistence observer appends the run's record last,
 * and the run waits for that append with nothing else to do, so the pool's
 * hand-off, a worker's wake-up before the flush and the main thread's
 * after it, would only be added to the disk's time). Only an append of
 * several node records, made while the run goes on (group commit), is
 * flushed through the pool.
 */
function flushesNow(records: readonly JournalRecord[]): boolean {
  return records.length <= 1 || records[records.length - 1]!.kind === "run";
}

/**
 * Whether a run with this meta may append again without being resumed:
 * one that stopped (finished, failed, cancelled, waiting) appends nothing
 * until a resume opens its journal again, so a snapshot or an append that
 * stops it closes the journal.
 */
function appendsMore(meta: RunMeta): boolean {
  return stillGoing(meta.status);
}

/** Options of {@link RunFolderStore} (those of `LowdbStore`). */
export interface RunFolderStoreOptions {
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
  /** Reserved: compaction is decided by the persistence observer, not the store. */
  readonly compactEvery?: never;
}

/**
 * Keeps runs as folders of files under a folder (the layout of earlier
 * versions, see the module comment); `LowdbStore` uses it for the runs it
 * finds in that layout.
 *
 * @example
 * ```ts
 * const store = new RunFolderStore({ dir: "./.taskloom" });
 * const run = await store.load("etl-2026-11-23"); // a run an earlier version kept
 * ```
 */
export class RunFolderStore implements RunStore {
  /** The absolute folder runs are kept in. */
  readonly dir: string;
  readonly #location: FolderLocation;
  readonly #folders: RunFolders;
  readonly #fsync: boolean;
  /** Open journals, by run id. */
  readonly #journals = new Map<string, JournalFile>();
  /** What the store objects of this process change in run folders, for the others, and which changes this one has seen. */
  readonly #changes: RunFolderChanges;
  /** The highest seq in each run's journal file, when known ({@link EMPTY} for an empty journal). */
  readonly #journalTop = new Map<string, number>();
  /** Runs whose last `load` found no snapshot: their first snapshot makes their summary, not overwrites one. */
  readonly #unsaved = new Set<string>();
  /** Each run's summary, kept open while the run goes on (a store without `fsync`); closed with the run's journal. */
  readonly #summaries: RunSummaries;
  /** The tail of each run's queue of calls. */
  readonly #queues = new RunQueues();
  /** `lease.json` of each run, its lock and the fencing copies. */
  readonly #leases: LeaseFiles;
  /** What each run's files hold, so an append may write a record as a compact one (`journal-delta.ts`). */
  readonly #priors = new PriorRecords();

  constructor(options: RunFolderStoreOptions = {}) {
    assertKnownKeys("LowdbStore", options, optionKeys<Omit<RunFolderStoreOptions, "compactEvery">>({ dir: true, fsync: true }));
    assertFileStoreOptions("LowdbStore", options);
    this.dir = resolve(options.dir ?? (process.env.TASKLOOM_DIR || ".taskloom"));
    this.#location = new FolderLocation(this.dir);
    this.#fsync = options.fsync ?? false;
    this.#folders = new RunFolders(this.dir, this.#fsync);
    this.#changes = new RunFolderChanges(this.#folders);
    this.#leases = new LeaseFiles(this.#folders, this.#fsync, this.#changes);
    this.#summaries = new RunSummaries(this.#fsync);
  }

  /** Whether every write is flushed to the disk before it counts (the `fsync` option); `scheduleStoreFor` gives schedules the same. */
  get fsync(): boolean {
    return this.#fsync;
  }

  /** `lowdb:<the folder's real path>` (its absolute path until it exists; `store-location.ts`): every `LowdbStore` (and `RunFolderStore`) on this folder sees the same runs. */
  get location(): string {
    return this.#location.name;
  }

  async writeSnapshot(state: RunState, seq: number, lease?: Lease): Promise<void> {
    const runId = state.meta.runId;
    assertRunId(runId);
    await this.#serial(runId, async () => this.#writeSnapshot(state, seq, lease));
  }

  async #writeSnapshot(state: RunState, seq: number, lease: Lease | undefined): Promise<void> {
    const runId = state.meta.runId;
    if (lease) this.#leases.fence(runId, lease);
    // What this store knows of a run another store object of this process changed since is forgotten (read again below).
    this.#catchUp(runId);
    // Until the new snapshot and the journal agree, nothing is known of what the files hold (a run this store loaded is known again at the end).
    const tracked = this.#priors.forget(runId);
    const files = this.#files(runId);
    this.#folders.ensureSync(runId);
    const open = appendsMore(state.meta);
    // A running run's journal is opened (made, if missing) now, before the snapshot is replaced, and
    // emptied only after: an empty journal beside the old snapshot is consistent, opening it tells
    // its highest seq, and the appends that follow need no other open.
    // A run loaded without a snapshot most likely has no journal either: it is made exclusively (journal-file.ts).
    if (open) this.#openJournal(runId, files, false, this.#unsaved.has(runId));
    // Decide what the journal keeps before anything is written, so that a
    // journal that cannot be read fails the call with nothing overwritten.
    let known = this.#journalTop.get(runId);
    const later: JournalRecord[] = [];
    if (known === undefined || known > seq) readJournal(files.journal, (r) => void (r.seq > seq && later.push(r)));
    // The first snapshot of a run whose folder this store made: nobody else can have put a file there.
    const likelyNew = this.#unsaved.delete(runId);
    const checked: FolderChecked = likelyNew && this.#folders.made(runId) ? "made" : true;
    // A big run's snapshot is made and written in pieces of PIECE_ITEMS records, through the thread
    // pool (atomic-file.ts): never one string of the whole run. Everything else here is synchronous.
    try {
      await writeFileAtomicPieces(files.snapshot, snapshotFilePieces(state, seq), this.#fsync, checked);
    } catch (err) {
      // A run deleted while its snapshot was written (the temp file went with the folder) is a lost lease, not an ENOENT.
      if (lease) this.#leases.fence(runId, lease);
      throw err;
    }
    // Fenced again: a run deleted (or taken over) while its snapshot was written is a lost lease, not a write that
    // counted (the snapshot went with the folder); its journal is left as it is.
    if (lease) this.#leases.fence(runId, lease);
    // Another store object of this process wrote the journal while the snapshot was written: what it keeps is read again
    // (the rest of this call is synchronous, so nothing else comes between).
    if (this.#catchUp(runId)) {
      later.length = 0;
      readJournal(files.journal, (r) => void (r.seq > seq && later.push(r)));
      known = undefined;
    }
    // The run's files change now (the snapshot, then the journal emptied or rewritten, synchronously): others forget what they knew.
    this.#changes.changed(runId);
    // With fsync, neither the summary's content (summary-file.ts) nor, while the run goes on, its folder is
    // flushed: the summary may then lag behind the snapshot after a power loss, or be blank, which reads as
    // missing (as it may anyway), never run ahead of it, and a snapshot costs two flushes, not four. A snapshot
    // that stops the run flushes the folder after the summary too: the journal it empties cannot tell
    // `list` of the stop (summary-lag.ts), so without it a power loss could leave a stopped run whose
    // summary says running.
    // A running run's summary is kept open (without fsync) for its next change, an overwrite in place.
    // A new run's first snapshot: every node pending (`freshNodeIds`), counted without a look at each.
    const fresh = freshNodeIds(state.nodes);
    const summary = serialize(
      fresh === undefined ? summarize(state) : summaryOf(state.meta, { nodeCount: fresh.length, settledCount: 0, succeededCount: 0, failedCount: 0 }),
    );
    this.#summaries.snapshotWritten(runId, files.summary, summary, { folderChecked: checked, syncFolder: !open, likelyNew }, open);
    // Only now that the new snapshot is in place may the journal shrink.
    if (later.length === 0) {
      if (known !== EMPTY) this.#emptyJournal(runId, files);
    } else {
      this.#closeJournal(runId);
      writeFileAtomicSync(files.journal, journalText(later), this.#fsync, true);
    }
    this.#journalTop.set(runId, topSeq(later));
    if (tracked && later.length === 0) this.#priors.based(runId, state.nodes);
    if (!open) this.#closeJournal(runId);
  }

  append(runId: string, records: readonly JournalRecord[], lease?: Lease, counts?: NodeCounts): Promise<void> {
    try {
      // A run whose journal is open had its id checked when it was opened.
      const journal = this.#journals.get(runId);
      if (journal === undefined) assertRunId(runId);
      // With no call on the run in flight, an append that is synchronous (no flush through the pool) is
      // made at once rather than queued: nothing can come between, and a chain step spares the queue's
      // promises and microtask hops, about a microsecond of its durable cost. The journal looked up
      // above is the run's still: nothing ran since.
      // (Such an append returns no promise: it is done when the call returns.)
      if (!this.#queues.busy(runId) && (!this.#fsync || flushesNow(records)))
        return this.#appendNow(runId, records, lease, counts, journal) ?? Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#serial(runId, () => this.#appendNow(runId, records, lease, counts));
  }

  /**
   * {@link RunFolderStore.append}'s work, in the run's queue or at once (see
   * there): synchronous, except the flush of several node records with
   * fsync (`flushesNow`), whose promise it returns.
   */
  #appendNow(
    runId: string,
    records: readonly JournalRecord[],
    lease: Lease | undefined,
    counts: NodeCounts | undefined,
    open = this.#journals.get(runId),
  ): Promise<void> | undefined {
    // Fenced first: a run deleted under its holder is a lost lease, not a run without a snapshot. An empty append
    // too, as in every store: a stale lease learns it lost the run.
    if (lease) this.#leases.fence(runId, lease);
    let journal = open;
    // A run another store object of this process changed since: its journal is opened again, at its end, and its records written whole.
    if (this.#catchUp(runId)) journal = undefined;
    journal ??= this.#openJournal(runId, this.#files(runId), true);
    if (records.length === 0) return undefined;
    let flushing: Promise<void> | undefined;
    try {
      // One write per call, so a crash tears at most this call's last line.
      // Synchronous on purpose: an append is small, and a blocking write
      // costs a few microseconds where a trip through libuv's thread pool
      // costs tens; with group commit, that is the price of every chain step.
      // With fsync the journal is preallocated (journal-file.ts), so the flush of a
      // chain step commits the new bytes alone, not a new file size as well; an
      // append of several records grows the file by what it needs only.
      // A record the store can rebuild from what it holds is written compact (journal-delta.ts; the lines are text alike).
      // Written from the string, with or without preallocation: no buffer is made for it.
      // A run of 64 or more node records (a fan-out's nodes, finished together) is a batch line
      // of columns, up to 10,000 records a line (journal-batch.ts); a chain step's record is its own line.
      const text = journalText(batchNodes(this.#priors.encode(runId, records)));
      journal.appendText(text, records.length === 1);
      this.#changes.changed(runId);
      // So is the flush of a single record (a chain step: the run waits for it, and a trip through
      // the pool would add a thread wake-up to the disk's time), and of an append that carries the
      // run meta (a run's start or end, see flushesNow). A flush of several node records goes through
      // the pool: the run goes on meanwhile, and what it records gathers for the next append (group
      // commit amortizes flushes: a 1,000-node fan-out flushes a handful of times).
      if (this.#fsync) {
        if (flushesNow(records)) journal.flushSync();
        else flushing = journal.flush();
      }
    } catch (err) {
      throw this.#appendFailed(runId, err);
    }
    if (flushing === undefined) {
      this.#appended(runId, records, counts);
      return undefined;
    }
    return flushing.then(
      () => this.#appended(runId, records, counts),
      (err: unknown) => {
        throw this.#appendFailed(runId, err);
      },
    );
  }

  /** An append's write or flush failed with `err` (returned): the file may now end in a fragment, and reopening cuts it off. */
  #appendFailed(runId: string, err: unknown): unknown {
    this.#journalTop.delete(runId);
    this.#priors.forget(runId);
    try {
      this.#closeJournal(runId);
    } catch {
      // The write's error is the one reported.
    }
    return err;
  }

  /** `records` are in the journal: its highest seq, and the summary when they hold the run meta. */
  #appended(runId: string, records: readonly JournalRecord[], counts: NodeCounts | undefined): void {
    const top = this.#journalTop.get(runId);
    if (top !== undefined) this.#journalTop.set(runId, Math.max(top, topSeq(records)));
    this.#priors.appended(runId, records);
    let meta: RunMeta | undefined;
    for (const r of records) if (r.kind === "run") meta = r.run;
    if (meta === undefined) return;
    this.#summaries.changed(runId, this.#files(runId).summary, meta, counts, this.#folders.checked(runId));
    // A run whose end was appended closes its journal now, as a stopping snapshot does, not at `close`:
    // a store driving thousands of runs (a stage runner's tasks) held a descriptor per run and ran out of them.
    if (!appendsMore(meta)) this.#closeJournal(runId);
  }

  async load(runId: string, hint?: LoadHint): Promise<StoredRun | undefined> {
    assertRunId(runId);
    return this.#serial(runId, () => {
      const files = this.#files(runId);
      // What is on disk is read afresh, and so is the journal's end at the next append: a file changed
      // behind this store (a tool, a test standing in for a crash) is never appended to blindly.
      this.#closeJournal(runId);
      this.#unsaved.delete(runId);
      this.#priors.forget(runId);
      // Read now: what this store learns holds until another store object of this process changes the run.
      this.#changes.read(runId);
      if (!this.#folders.verifySync(runId)) return undefined;
      // A new run has no snapshot: an `lstat` says so (a link or a FIFO there is refused as the open would), where
      // a failed open throws, and the error it makes costs as much as making a file. Its node ids are checked
      // by the replay, which indexes them anyway.
      const doc = verifyPathSync(files.snapshot, "file")
        ? readDocumentSync<SnapshotDocument | SnapshotFileDocument>(files.snapshot, checkSnapshotFile, true)
        : null;
      if (!doc) {
        this.#unsaved.add(runId);
        return undefined;
      }
      if (doc.meta.runId !== runId) {
        throw new SnapshotCorruptError(files.snapshot, `it holds run "${doc.meta.runId}", not "${runId}"`);
      }
      // Replayed while read: memory holds the latest record per node, not the journal.
      const replay = new Replay(fromSnapshotFile(doc, hint?.layout?.order), files.snapshot, files.journal, hint?.layout);
      let top = EMPTY;
      // A line may hold a compact record (journal-delta.ts): the shape check lets them through, the replay expands them.
      readJournal(files.journal, (r: StoredRecord) => {
        if (r.kind === "run" && r.run.runId !== runId) {
          throw new SnapshotCorruptError(files.journal, `a record (seq ${r.seq}) holds run "${r.run.runId}", not "${runId}"`);
        }
        replay.apply(r);
        if (r.seq > top) top = r.seq;
      });
      this.#journalTop.set(runId, top);
      const loaded = replay.result();
      this.#priors.based(runId, loaded.state.nodes);
      // Field by field: a literal that starts with a spread and adds a key gets a hidden class of its own each time in
      // V8 11 (docs/architecture.md, "Hidden classes").
      return { state: loaded.state, seq: loaded.seq, journalRecords: loaded.journalRecords, source: files.snapshot };
    });
  }

  /** Lists runs; a run whose folder or summary is corrupt or unsafe is skipped and reported through `query.onProblem`. */
  async list(query: RunQuery = {}): Promise<RunSummary[]> {
    return listRunFolders(this.#folders, query);
  }

  async delete(runId: string, lease?: Lease): Promise<boolean> {
    assertRunId(runId);
    return this.#serial(runId, async () => {
      const files = this.#files(runId);
      const unlock = this.#folders.verifySync(runId) ? await this.#leases.lock(runId, false) : undefined;
      if (!unlock) {
        // A run without a folder has no lease either: not the holder's to delete (RunStore.delete), and nothing to delete.
        assertMayDelete(runId, undefined, lease, this.#leases.host, Date.now());
        return false;
      }
      let moved = false;
      try {
        assertMayDelete(runId, this.#leases.read(runId), lease, this.#leases.host, Date.now());
        this.#closeJournal(runId);
        this.#journalTop.delete(runId);
        this.#unsaved.delete(runId);
        this.#priors.forget(runId);
        this.#leases.forget(runId);
        // Another store object of this process that knows the run, or holds its lease, writes nothing more to it unseen.
        this.#changes.changed(runId);
        this.#changes.leaseGivenBack(runId);
        const existed = verifyPathSync(files.snapshot, "file");
        // A rename takes the folder (and the held lock with it) away at
        // once; a process waiting for the lock then finds no folder.
        const trash = join(this.#folders.runsDir, `.trash-${randomUUID()}`);
        renameSync(files.dir, trash);
        moved = true;
        // With fsync, the delete counts once its rename is on the disk: a power loss never brings the run back.
        if (this.#fsync) syncFolder(this.#folders.runsDir, true);
        rmSync(trash, { recursive: true, force: true });
        return existed;
      } finally {
        if (!moved) await unlock();
      }
    });
  }

  async acquireLease(runId: string, request: LeaseRequest): Promise<Lease> {
    assertRunId(runId);
    // A lease taken is a run that may have changed since this store last loaded it (the runner loads it next).
    return this.#serial(runId, () => {
      this.#priors.forget(runId);
      return this.#leases.acquire(runId, request);
    });
  }

  async renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease> {
    assertRunId(lease.runId);
    return this.#serial(lease.runId, () => this.#leases.renew(lease, ttlMs, now));
  }

  async requestCancel(runId: string, request: CancelRequest): Promise<boolean> {
    assertRunId(runId);
    return this.#serial(runId, () => this.#leases.requestCancel(runId, request));
  }

  async releaseLease(lease: Lease): Promise<void> {
    assertRunId(lease.runId);
    await this.#serial(lease.runId, () => this.#leases.release(lease));
  }

  /** The run's `lease.json`, or undefined (no lease, or no such run). Takes no lock: the file is replaced atomically. */
  async readLease(runId: string): Promise<Lease | undefined> {
    assertRunId(runId);
    return this.#leases.read(runId);
  }

  async close(): Promise<void> {
    this.#priors.clear();
    await Promise.all([...this.#journals.keys()].map((runId) => this.#serial(runId, () => this.#closeJournal(runId))));
    // In each run's queue: a lease call waiting for its lock may be about to write through the descriptor.
    await Promise.all(this.#leases.keptRuns().map((runId) => this.#serial(runId, () => this.#leases.closeKept(runId))));
  }

  /** Runs `task` after every earlier call on the same run has settled (`run-queues.ts`). */
  #serial<T>(runId: string, task: () => T | Promise<T>): Promise<T> {
    return this.#queues.serial(runId, task);
  }

  #files(runId: string): RunFiles {
    return this.#folders.files(runId);
  }

  /**
   * The run's journal, opened (made if missing, its torn tail cut off) on
   * first use, preallocated when this store flushes. With `needSnapshot`,
   * a run without a snapshot is refused: records appended to it would have
   * nothing to apply to.
   */
  #openJournal(runId: string, files: RunFiles, needSnapshot = false, likelyNew = false): JournalFile {
    const cached = this.#journals.get(runId);
    if (cached !== undefined) return cached;
    if (needSnapshot && (!this.#folders.verifySync(runId) || !verifyPathSync(files.snapshot, "file"))) {
      throw new Error(`taskloom: cannot append to run "${runId}": it has no snapshot yet (write one with writeSnapshot first)`);
    }
    const known = this.#journalTop.get(runId);
    const { journal, last } = JournalFile.open(files.journal, this.#fsync, likelyNew);
    // Records are appended in seq order, so the last one holds the highest.
    const top = journal.end === 0 ? EMPTY : last?.seq;
    // Another store object or process appended since this store read the journal: what it knows of the run's
    // records (journal-delta.ts) is stale, and its records are written whole until it loads the run again.
    if (top === undefined || top !== known) this.#priors.forget(runId);
    if (top === undefined) this.#journalTop.delete(runId);
    else this.#journalTop.set(runId, top);
    this.#journals.set(runId, journal);
    return journal;
  }

  /**
   * Forgets what this store knows of the run's files (its open journal,
   * the journal's highest seq, the records compact lines are relative to)
   * when another store object of this process changed them since this one
   * last saw them (`run-folder-changes.ts`, `missed`): the next use reads
   * them again. True when it forgot (a run it never saw: nothing to forget).
   */
  #catchUp(runId: string): boolean {
    if (!this.#changes.missed(runId)) return false;
    this.#closeJournal(runId);
    this.#journalTop.delete(runId);
    this.#priors.forget(runId);
    return true;
  }

  /** Empties the journal of a run that will append nothing more, through a checked descriptor (never by path). */
  #emptyJournal(runId: string, files: RunFiles): void {
    const cached = this.#journals.get(runId);
    if (cached !== undefined) {
      cached.empty();
      return;
    }
    // A planted link is refused, not followed.
    const opened = openStoreFileSync(files.journal, "rewrite", { singleLink: true });
    if (!opened) return;
    try {
      if (opened.size > 0) ftruncateSync(opened.fd, 0);
    } finally {
      closeSync(opened.fd);
    }
  }

  #closeJournal(runId: string): void {
    this.#summaries.close(runId);
    const journal = this.#journals.get(runId);
    if (journal === undefined) return;
    this.#journals.delete(runId);
    journal.close();
  }
}
