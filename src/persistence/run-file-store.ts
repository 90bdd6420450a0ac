/**
 * Why this file is 690 lines (214 of them comments, this one 90; 476 of
 * code): it is one concept, the `RunStore` contract's eleven methods for
 * the run-file layout, and every one of them goes through the same per-run
 * queue and the same open writer (`run-file-writer.ts`: made by a start or
 * a lease, used by appends, swapped by a compaction or a takeover, closed
 * by a release, a delete, `close` or another store object of the process
 * that needs the file). The parts that stand alone are
 * elsewhere: the writer of one file and its fencing
 * (`run-file-writer.ts`), the whole-file rewrites (`run-file-rewrite.ts`),
 * the lines (`run-file-lines.ts`), reading a file (`run-file-reading.ts`),
 * leases, claims and the lock (`run-file-leases.ts`), temp files and
 * gathered writes (`run-file-io.ts`), the queues (`run-queues.ts`), which
 * store object of the process has a file open (`run-file-writers.ts`), the
 * compact records' bookkeeping (`journal-delta.ts`). What is left is the
 * order of each call's steps. Splitting the methods further (the lease
 * calls apart from the writes, say) would hand the store's private maps
 * (writers, queues, what each run's file is known to hold) to each part as
 * a host, and spread the order of a writer's lifetime, which is the crash
 * argument (a writer is closed, and what was known of the file forgotten,
 * before anything else writes it), over several files. The twenty-sixth
 * pass grew it by about 60 lines, all steps of that lifetime: a writer
 * handed between store objects, opened again with the lease it held, and
 * the same owner's acquire of a lease it lost; the hand-over's registry
 * stands alone (`run-file-writers.ts`). The twenty-eighth pass changed
 * one check and no line: a release through the claim gives back only the
 * lease it names, owner and token (`stillHeld`). The twenty-ninth took
 * four off (the same owner's acquire renews through `#renew`, which keeps
 * a cancel request the claim holds for its token) and added three (the
 * folder's name, kept by `store-location.ts`). The thirtieth added about
 * fifteen: `delete` by the holder of a lease (checked under the run's
 * lock), and the fence of an empty append.
 *
 * `RunFileStore`: a durable {@link RunStore} that keeps each run in one
 * file, `<dir>/<runId>.run`, where `LowdbStore` keeps a folder of four or
 * five files. Issue 16 (performance, round two), twenty-fourth pass: a
 * durable 1-node run of `LowdbStore` makes 24 file calls (a folder, a
 * lease file and its lock, a journal, a snapshot by temp file and rename,
 * a summary), which on this machine cost more than three times a whole
 * run on `MemoryStore` before any JavaScript runs (`bench/README.md`).
 * A run file makes 7: `open` with `O_CREAT | O_EXCL` (the claim of the run
 * id), four writes (the lease, the start, the records, the lease given
 * back) and `close`.
 *
 * The file is a journal (`journal-reading.ts`: its reading rules;
 * `journal-file.ts`: the cut of a torn tail, preallocation with `fsync`) whose lines are those of
 * `run-file-lines.ts`: the lease lines of its one writer, the run's
 * snapshot followed by its summary, then journal records as `LowdbStore`
 * writes them, each run record followed by the counts its append gave.
 *
 * - `load` reads the file once, replaying records over the last snapshot.
 *   A run whose file holds no snapshot line (its start was torn, or it was
 *   claimed and never started) reads as absent.
 * - `list` reads each file from its end: the latest run record and counts
 *   after the last summary line (`run-file-leases.ts`,
 *   `eachLineBackwards`).
 * - `writeSnapshot` of a run whose file holds no snapshot yet appends it
 *   (a torn start reads as absent, so the write is atomic as the contract
 *   asks); a later one compacts: under the run's lock, a new file with the
 *   writer's lease, the snapshot and the records above its seq, made in
 *   the store's temp folder (`run-file-io.ts`, `tempOf`), flushed with
 *   `fsync`, renamed over the old one.
 * - Leases: `run-file-leases.ts` (the run file's lease lines, the claim
 *   file others write, the lock, the takeover's steps). A writer that holds
 *   a lease looks at the claim file (one `lstat`) before a write, unless it
 *   looked less than `TRUST_MS` ago (`lease-trust.ts`).
 *
 * Flushes (`fsync: true`). The start is flushed with the folder's entry
 * (the file, then `dir`) before `writeSnapshot` resolves; a record as
 * `LowdbStore` flushes it (a single record or a run's start or end at
 * once, several node records through the thread pool: group commit); a
 * compaction's new file before its rename and the folder after it; a claim
 * as `atomic-file.ts` writes it. A lease line and a release line are not
 * flushed on their own: after a power loss nobody holds anything.
 *
 * Within this process, calls on one run are queued as in `LowdbStore`, and
 * an append made while nothing is queued and that needs no flush through
 * the pool is made at once.
 *
 * `LowdbStore` (`lowdb-store.ts`) keeps its new runs here and routes the
 * runs that earlier versions kept as folders to `run-folder-store.ts`.
 * A store that loaded a run writes its records compact where one rebuilds
 * them exactly (`journal-delta.ts`: a resume's resets as one line of ids,
 * the results after them without the attempt log they share), as
 * `LowdbStore` does in a run folder. Not here: the hard-link lock of the
 * folder layout (a lock here is a file made and removed, on takeovers,
 * cancels, compactions, deletes and a lease given back unused only).
 *
 * @module
 */
import { chmodSync, mkdirSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { FolderLocation } from "./store-location.js";
import { performance } from "node:perf_hooks";
import { syncFolder, syncMadeFolders, unlinkQuietly } from "./atomic-file.js";
import { RunLockedError, SnapshotCorruptError, UnsafeStoreFileError } from "./errors.js";
import { assertFileStoreOptions } from "./file-store-options.js";
import { hasCode, takeFileLock } from "./folder-lock.js";
import { batchNodes } from "./journal-batch.js";
import { PriorRecords } from "./journal-delta.js";
import { EMPTY, JournalFile, journalText, topSeq } from "./journal-file.js";
import { fileLook } from "./lease-look.js";
import { assertMayDelete, cancelReaches, canTakeOver, grantOver, holderDeadHere, keptCancel, leaseLost, stillHeld } from "./lease-rules.js";
import { outlastTrust } from "./lease-trust.js";
import {
  claimPath,
  currentLease,
  heldLease,
  lockPath,
  readClaim,
  removeClaim,
  writeClaim,
  writtenLease,
  type Claim,
  type WrittenLease,
} from "./run-file-leases.js";
import { checkRunFileLine, countsLine, leaseLine, releaseLine, snapshotLinePieces, summaryLine } from "./run-file-lines.js";
import { canonical, RunFileWriter } from "./run-file-writer.js";
import { ProcessWriters } from "./run-file-writers.js";
import { copyWith, openQuietly, writeCompacted } from "./run-file-rewrite.js";
import { appendPieces, firstLeaseWritten, flushesNow, removeLeftovers, SUFFIX, tempOf } from "./run-file-io.js";
import { holdsSnapshot, readRunFile, recordsAbove, summaryOfRunFile } from "./run-file-reading.js";
import type { CancelRequest, Lease, LeaseRequest, LoadHint, RunQuery, RunStore, StoredRun, StoreProblem } from "./run-store.js";
import { matchesQuery } from "./run-query.js";
import { RunQueues } from "./run-queues.js";
import { verifyPathSync } from "./store-files.js";
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { assertRunId } from "../core/run-id.js";
import { thisHost } from "../core/host.js";
import { summarize, type NodeCounts } from "../state/run-summary.js";
import type { RunState } from "../state/run-state.js";
import type { JournalRecord, RunSummary } from "../state/records.js";

/** Options of {@link RunFileStore}. */
export interface RunFileStoreOptions {
  /**
   * The folder run files are kept in (made if missing, with mode 0700).
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
}

/**
 * Keeps each run in one file under a folder, `<dir>/<runId>.run`: fewer
 * file calls per run than {@link LowdbStore}, with the same guarantees
 * (see the module comment).
 *
 * @example
 * ```ts
 * const store = new RunFileStore({ dir: "./.taskloom" });
 * await runAsync(g, inputs, { store, runId: "etl-2026-11-23" });
 * console.log(await listRuns({ store, status: "failed" }));
 * ```
 */
export class RunFileStore implements RunStore {
  /** The absolute folder run files are kept in. */
  readonly dir: string;
  readonly #location: FolderLocation;
  readonly #fsync: boolean;
  readonly #host = thisHost();
  /** The run files this store writes, by run id. */
  readonly #writers = new Map<string, RunFileWriter>();
  /** The tail of each run's queue of calls. */
  readonly #queues = new RunQueues();
  /** What each run's file holds, as far as this store knows, so an append may write a record compact (`journal-delta.ts`). */
  readonly #priors = new PriorRecords();
  /** Whether `dir` was checked (or made) by this store. */
  #dirReady = false;
  /** The run files this process has open for writing, and which store object has each (`run-file-writers.ts`). */
  readonly #open: ProcessWriters;

  constructor(options: RunFileStoreOptions = {}) {
    assertKnownKeys("RunFileStore", options, optionKeys<RunFileStoreOptions>({ dir: true, fsync: true }));
    assertFileStoreOptions("RunFileStore", options);
    this.dir = resolve(options.dir ?? (process.env.TASKLOOM_DIR || ".taskloom"));
    this.#location = new FolderLocation(this.dir);
    this.#fsync = options.fsync ?? false;
    this.#open = new ProcessWriters();
  }

  /** Whether every write is flushed to the disk before it counts (the `fsync` option). */
  get fsync(): boolean {
    return this.#fsync;
  }

  /** `lowdb:<the folder's real path>` (its absolute path until it exists; `store-location.ts`): the runs of this folder, as `LowdbStore` (which keeps its new runs here) names them. */
  get location(): string {
    return this.#location.name;
  }

  #file(runId: string): string {
    return join(this.dir, runId + SUFFIX);
  }

  /**
   * Checks `dir` once (a symbolic link or another user's folder is refused),
   * making it when missing; with `make: false`, says whether it exists instead.
   */
  #ready(make = true): boolean {
    if (this.#dirReady) return true;
    // The store folder itself may be a symbolic link (a volume mounted elsewhere): it is the user's choice, and
    // followed; what is in it is checked file by file (`store-files.ts`).
    // Something else at its name (a file) is left for the calls on it to fail on: `LowdbStore` then says why (StoreFolderError).
    let stats = statSync(this.dir, { throwIfNoEntry: false });
    if (stats === undefined) {
      if (!make) return false;
      const created = mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      stats = statSync(this.dir);
      // A umask may have taken the owner's bits off: the folder is this store's, 0700 as the option says.
      if (created !== undefined && (stats.mode & 0o777) !== 0o700) chmodSync(this.dir, 0o700);
      if (this.#fsync && created !== undefined) syncMadeFolders(this.dir, created);
    }
    // The folder's identity, whatever link it was reached through: the store objects of this process on it share
    // one writer per run file (`run-file-writers.ts`).
    this.#open.locate(stats);
    this.#dirReady = true;
    return true;
  }

  /** Runs `task` after every earlier call on the same run has settled (`run-queues.ts`). */
  #serial<T>(runId: string, task: () => T | Promise<T>): Promise<T> {
    return this.#queues.serial(runId, task);
  }

  // ---- writing ---------------------------------------------------------------

  /**
   * This store's writer of the run, opened when it has none (a write
   * without a lease, by a store object other than the one that took it,
   * or after `close` or a failed write): the file is made when missing, and
   * its torn tail cut off, once the store object of this process that had
   * it open closed its own (`run-file-writers.ts`). Nothing is known then of what
   * the file holds. A write with `lease` takes that lease on, when it is
   * still the run's ({@link RunFileWriter.lease}; its fencing then refuses
   * nothing more than before it was closed).
   */
  async #writer(runId: string, lease?: Lease): Promise<RunFileWriter> {
    const known = this.#writers.get(runId);
    if (known !== undefined) return known;
    this.#ready();
    const file = this.#file(runId);
    await this.#open.handOver(runId + SUFFIX, this);
    this.#priors.forget(runId);
    const writer = RunFileWriter.open(file, this.#fsync);
    this.#keep(runId, writer);
    if (lease !== undefined) {
      const { current } = this.#state(runId);
      if (current !== undefined && stillHeld(current, lease)) writer.lease = current;
    }
    return writer;
  }

  /**
   * Makes `writer` this store's writer of the run, and the one of this
   * process: closed, in this store's queue of calls on the run, when
   * another store object needs it (`run-file-writers.ts`).
   */
  #keep(runId: string, writer: RunFileWriter): void {
    this.#writers.set(runId, writer);
    this.#open.opened(runId + SUFFIX, this, writer, () =>
      this.#serial(runId, async () => {
        if (this.#writers.get(runId) === writer) await this.#closeWriter(runId);
      }),
    );
  }

  /** Closes the run's writer, if any, once its flush in flight is done. */
  async #closeWriter(runId: string): Promise<void> {
    // What the file holds is known again only from a load: a writer is closed on a failed write, a takeover, a
    // release, a delete.
    this.#priors.forget(runId);
    const writer = this.#writers.get(runId);
    if (writer === undefined) return;
    this.#writers.delete(runId);
    this.#open.closed(runId + SUFFIX, writer);
    await writer.close();
  }

  /** Flushes `writer` at once, and with it the folder's entry of a file just started. */
  #flushStart(writer: RunFileWriter): void {
    writer.journal.flushSync();
    syncFolder(this.dir, true);
  }

  async writeSnapshot(state: RunState, seq: number, lease?: Lease): Promise<void> {
    const runId = state.meta.runId;
    assertRunId(runId);
    await this.#serial(runId, () => this.#writeSnapshot(state, seq, lease));
  }

  async #writeSnapshot(state: RunState, seq: number, lease: Lease | undefined): Promise<void> {
    const runId = state.meta.runId;
    const writer = await this.#writer(runId, lease);
    if (lease) writer.fence(lease);
    writer.undoTo = undefined;
    writer.started ??= holdsSnapshot(this.#file(runId));
    if (!writer.started) {
      // The run's start: appended (a big run's snapshot in pieces, never one string); until its "\n" is
      // written it is a torn last line, which reads as no snapshot at all.
      appendPieces(writer.journal, snapshotLinePieces(state, seq), summaryLine(summarize(state)));
      if (this.#fsync) this.#flushStart(writer);
      writer.started = true;
      return;
    }
    await this.#compact(runId, writer, state, seq, lease);
  }

  /**
   * Replaces the run file by one that starts with `state` at `seq`: the
   * writer's lease, the snapshot and its summary, then the records above
   * `seq` (with the counts that followed them), under the run's lock.
   */
  async #compact(runId: string, writer: RunFileWriter, state: RunState, seq: number, lease: Lease | undefined): Promise<void> {
    const file = this.#file(runId);
    await writer.flushing;
    const unlock = await takeFileLock(lockPath(file), { what: `the lock of run "${runId}"` });
    const temp = tempOf(file);
    // Until the new file is in place, nothing is known of what it holds (a run this store loaded is known again at the end).
    const tracked = this.#priors.forget(runId);
    try {
      // Under the lock nobody else writes the claim: one look, whatever the trust, decides.
      if (lease) writer.fence(lease, false);
      // Records above `seq` to keep: none when this store knows every record and none is above it (a
      // run's end, the common case); else the file is read, its snapshot and lease lines not parsed.
      const { later, counts } = writer.top === undefined || writer.top > seq ? recordsAbove(file, seq) : { later: [], counts: undefined };
      // A writer without a lease (a write without one) keeps the lease the file's lines say.
      const written = writer.lease === undefined ? writtenLease(file) : undefined;
      writeCompacted(file, temp, this.dir, writer, { state, seq, later, counts, written }, this.#fsync);
      writer.top = later.length === 0 ? EMPTY : topSeq(later as JournalRecord[]);
      if (tracked && later.length === 0) this.#priors.based(runId, state.nodes);
    } catch (err) {
      unlinkQuietly(temp);
      throw err;
    } finally {
      await unlock?.();
    }
  }

  append(runId: string, records: readonly JournalRecord[], lease?: Lease, counts?: NodeCounts): Promise<void> {
    try {
      const writer = this.#writers.get(runId);
      if (writer === undefined) assertRunId(runId);
      // As in LowdbStore: with nothing queued on the run, an append that needs no flush through the pool is made at once.
      if (writer !== undefined && !this.#queues.busy(runId) && (!this.#fsync || flushesNow(records))) {
        return this.#appendNow(runId, writer, records, lease, counts) ?? Promise.resolve();
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#serial(runId, async () => this.#appendNow(runId, await this.#appendWriter(runId, lease), records, lease, counts));
  }

  /** The writer an append uses: this store's, or one opened on a run that has a snapshot (else an append has nothing to apply to). */
  async #appendWriter(runId: string, lease: Lease | undefined): Promise<RunFileWriter> {
    const known = this.#writers.get(runId);
    if (known !== undefined) return known;
    if (!verifyPathSync(this.#file(runId), "file") || !holdsSnapshot(this.#file(runId))) {
      // A fenced append to a run that is gone (deleted) or not started: its lease is not the run's, as in a run folder.
      if (lease !== undefined) throw leaseLost(lease, this.#state(runId).current);
      throw new Error(`taskloom: cannot append to run "${runId}": it has no snapshot yet`);
    }
    // Not this store's file to write until now: another store object may have appended since this one loaded it
    // (`#writer` forgets what this one knew of it).
    const writer = await this.#writer(runId, lease);
    writer.started = true;
    return writer;
  }

  #appendNow(
    runId: string,
    writer: RunFileWriter,
    records: readonly JournalRecord[],
    lease: Lease | undefined,
    counts: NodeCounts | undefined,
  ): Promise<void> | undefined {
    if (records.length === 0) {
      // Nothing to write, still fenced as in every store: a stale lease learns it lost the run.
      if (lease) writer.fence(lease);
      return undefined;
    }
    if (writer.started === false) throw new Error(`taskloom: cannot append to run "${runId}": it has no snapshot yet`);
    if (lease) writer.fence(lease);
    writer.undoTo = undefined;
    // A record the store can rebuild from what the file holds is written compact (journal-delta.ts: a resume's resets
    // as one line of ids, the results after them without the attempt log they share); a run of 64 or more node
    // records (a fan-out's nodes) is a batch line of columns (journal-batch.ts).
    let text = journalText(batchNodes(this.#priors.encode(runId, canonical(records))));
    if (counts !== undefined && records.some((r) => r.kind === "run")) text += countsLine(counts);
    try {
      writer.journal.appendText(text, records.length === 1);
      this.#priors.appended(runId, records);
      if (writer.top !== undefined) writer.top = Math.max(writer.top, topSeq(records));
      if (!this.#fsync) return undefined;
      if (flushesNow(records)) {
        writer.journal.flushSync();
        return undefined;
      }
    } catch (err) {
      // The file may now end in a fragment: the next writer cuts it off when it opens the file.
      void this.#closeWriter(runId).catch(() => undefined);
      throw err;
    }
    const flushing = writer.journal.flush();
    writer.flushing = flushing;
    return flushing.then(
      () => {
        if (writer.flushing === flushing) writer.flushing = undefined;
      },
      (err: unknown) => {
        void this.#closeWriter(runId).catch(() => undefined);
        throw err;
      },
    );
  }

  // ---- reading ---------------------------------------------------------------

  async load(runId: string, hint?: LoadHint): Promise<StoredRun | undefined> {
    assertRunId(runId);
    return this.#serial(runId, () => {
      const writer = this.#writers.get(runId);
      // A run whose file this store just made holds a lease and nothing else.
      if (writer?.started === false || !this.#ready(false)) return undefined;
      const file = this.#file(runId);
      this.#priors.forget(runId);
      const { replay, top } = readRunFile(file, runId, hint);
      if (writer !== undefined) {
        writer.started = replay !== undefined;
        writer.top = top;
      }
      if (replay === undefined) return undefined;
      const loaded = replay.result();
      this.#priors.based(runId, loaded.state.nodes);
      return { state: loaded.state, seq: loaded.seq, journalRecords: loaded.journalRecords, source: file };
    });
  }

  async list(query: RunQuery = {}): Promise<RunSummary[]> {
    if (!this.#ready(false)) return [];
    const onProblem = query.onProblem ?? ((problem: StoreProblem) => process.emitWarning(problem.message, { code: problem.code }));
    const out: RunSummary[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith(SUFFIX) || name.length === SUFFIX.length) continue;
      try {
        const summary = summaryOfRunFile(join(this.dir, name), name.slice(0, -SUFFIX.length));
        if (summary !== undefined && matchesQuery(summary, query)) out.push(summary);
      } catch (err) {
        if (err instanceof SnapshotCorruptError || err instanceof UnsafeStoreFileError) onProblem(err);
        else throw err;
      }
    }
    return out.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  // ---- leases ------------------------------------------------------------------

  /** The run's current lease and the highest token seen, read from its file's end and its claim. */
  #state(runId: string): { current: Lease | undefined; top: number; written: WrittenLease | undefined } {
    const file = this.#file(runId);
    const written = verifyPathSync(file, "file") ? writtenLease(file) : undefined;
    return { ...currentLease(written, readClaim(file)), written };
  }

  async acquireLease(runId: string, request: LeaseRequest): Promise<Lease> {
    assertRunId(runId);
    return this.#serial(runId, () => this.#acquire(runId, request));
  }

  async #acquire(runId: string, request: LeaseRequest): Promise<Lease> {
    this.#ready();
    const file = this.#file(runId);
    const mine = this.#writers.get(runId);
    if (mine?.lease !== undefined && mine.lease.owner === request.owner) {
      // The same owner again: a renewal, as the contract says, while its lease still holds the run. Lost (another
      // lease outranks it, its file was deleted, or another store object gave it back): `RunLockedError` naming the
      // holder while another lease holds the run, as for anyone (the contract, and the folder layout); taken,
      // below, as anyone takes it once nobody holds it.
      // A renewal keeps a cancel request the claim holds for its token (`requestCancel` said yes to it).
      if (mine.lost(mine.lease, false) === undefined) return this.#renew(mine, mine.lease, request.ttlMs, request.now);
      const holder = this.#state(runId).current;
      if (holder !== undefined) throw new RunLockedError(runId, holder);
      await this.#closeWriter(runId);
    }
    const made = JournalFile.make(file, this.#fsync);
    if (made !== undefined) {
      // A new run: making the file was the claim. A claim is written only beside an existing run file, under
      // its lock, and `delete` removes it before the file; but without `fsync` a power loss may keep a claim
      // whose file's removal reached the disk. Its token then keeps this run's above it (one `lstat`).
      // The trust counts from the look, not from after it.
      const seenAt = performance.now();
      const look = fileLook(claimPath(file));
      const claim = look === undefined ? undefined : readClaim(file);
      const lease = grantOver(runId, request, undefined, claim?.lease.token ?? 0);
      made.appendText(leaseLine(lease));
      await this.#closeWriter(runId);
      this.#keep(runId, new RunFileWriter(file, made, { lease, started: false, top: EMPTY, seenAt, claimLook: look, claim }));
      return lease;
    }
    return this.#takeOver(runId, request);
  }

  /** Takes the lease of a run whose file exists, as `run-file-leases.ts` says. */
  async #takeOver(runId: string, request: LeaseRequest): Promise<Lease> {
    const file = this.#file(runId);
    await firstLeaseWritten(file);
    // Another store object of this process that has the file open closes it first (a quiet takeover opens that very
    // file; a copy replaces it, and that object would write the replaced one until its trust ran out).
    await this.#open.handOver(runId + SUFFIX, this);
    const unlock = await takeFileLock(lockPath(file), { what: `the lock of run "${runId}"` });
    try {
      const { current, top, written } = this.#state(runId);
      if (current !== undefined && !canTakeOver(current, request, this.#host)) throw new RunLockedError(runId, current);
      const lease = grantOver(runId, request, current, top);
      await this.#closeWriter(runId);
      // A resume after a crash comes here: what a compaction or takeover of the dead process left is removed.
      removeLeftovers(this.dir, runId);
      // Quiet only when neither the current holder nor the file's last writer (a holder a taker that died right
      // after its claim took the run from) can still write.
      const gone = (held: Lease | undefined) => held === undefined || holderDeadHere(held, this.#host);
      const writer = written?.lease;
      if (gone(current) && gone(writer)) {
        this.#keep(runId, openQuietly(file, this.#fsync, lease));
        return lease;
      }
      const claim: Claim = { lease };
      writeClaim(file, claim, this.#fsync);
      try {
        if (current !== undefined && current.owner !== request.owner) await outlastTrust(performance.now());
        copyWith(file, this.dir, leaseLine(lease), this.#fsync);
      } catch (err) {
        // Given back, so the next taker need not wait for it to expire; the old holder stays fenced off by its token.
        writeClaim(file, { lease, released: true }, this.#fsync);
        throw err;
      }
      const { journal } = JournalFile.open(file, this.#fsync, false, checkRunFileLine);
      const seenAt = performance.now();
      this.#keep(runId, new RunFileWriter(file, journal, { lease, seenAt, claimLook: fileLook(claimPath(file)), claim }));
      return lease;
    } finally {
      await unlock?.();
    }
  }

  async renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease> {
    assertRunId(lease.runId);
    return this.#serial(lease.runId, async () => {
      const writer = this.#writers.get(lease.runId);
      if (writer === undefined || writer.lease === undefined) {
        const refused = (current: Lease | undefined) => new RunLockedError(lease.runId, current ?? { ...lease, expiresAt: now });
        const { current } = this.#state(lease.runId);
        if (current === undefined || !stillHeld(current, lease)) throw refused(current);
        // Held, but written by another store object (or by none, since `close`): this one writes it from now on, once
        // the other closed its writer (a rare path: one driver per store object).
        const adopted = await this.#writer(lease.runId, lease);
        if (adopted.lease === undefined) {
          // Already open here without a lease (a write without one), or the lease changed while the other closed.
          const again = this.#state(lease.runId).current;
          if (again === undefined || !stillHeld(again, lease)) throw refused(again);
          adopted.lease = again;
        }
        return this.#renew(adopted, lease, ttlMs, now);
      }
      return this.#renew(writer, lease, ttlMs, now);
    });
  }

  #renew(writer: RunFileWriter, lease: Lease, ttlMs: number, now: number): Lease {
    const claim = writer.look(lease, false);
    // A deleted run (its file gone) is held by nobody: the renewal is refused, as a run folder's without `lease.json`.
    const { current } = writer.removed ? { current: undefined } : currentLease(heldLease(writer.lease!), claim);
    if (current === undefined || !stillHeld(current, lease)) throw new RunLockedError(lease.runId, current ?? claim?.lease ?? { ...lease, expiresAt: now });
    const renewed: Lease = { ...current, expiresAt: now + ttlMs };
    writer.journal.appendText(leaseLine(renewed));
    writer.lease = renewed;
    return renewed;
  }

  async releaseLease(lease: Lease): Promise<void> {
    assertRunId(lease.runId);
    await this.#serial(lease.runId, async () => {
      const writer = this.#writers.get(lease.runId);
      if (writer?.lease !== undefined && stillHeld(writer.lease, lease)) {
        await writer.flushing?.catch(() => undefined);
        // The writer's last line: with `fsync`, no zeros ahead of it for appends that will not come (a growth could write 64 KiB).
        if (writer.undoTo === undefined || !(await this.#undo(lease.runId, writer, writer.undoTo))) writer.journal.appendText(releaseLine(lease), false);
        await this.#closeWriter(lease.runId);
        return;
      }
      // Not this store's to write: given back through the claim, if it is still the current lease. The store object
      // of this process that writes it closes its writer first: it trusts its lease for up to TRUST_MS
      // (`lease-trust.ts`: only an owner gives its lease back), and must find it given back at its next write.
      const file = this.#file(lease.runId);
      if (!this.#ready(false) || !verifyPathSync(file, "file")) return;
      await this.#open.handOver(lease.runId + SUFFIX, this);
      const unlock = await takeFileLock(lockPath(file), { what: `the lock of run "${lease.runId}"` });
      try {
        const { current } = this.#state(lease.runId);
        if (current !== undefined && stillHeld(current, lease)) writeClaim(file, { lease: current, released: true }, this.#fsync);
      } finally {
        await unlock?.();
      }
    });
  }

  /**
   * Cuts the run file back to `end`, where it ended before this store's
   * lease line (see `RunFileWriter.undoTo`), under the run's lock, unless a claim
   * names this lease or a later one (a cancel request for it, a takeover):
   * then its token must stay spent, and false says the lease is to be given
   * back by a release line instead.
   */
  async #undo(runId: string, writer: RunFileWriter, end: number): Promise<boolean> {
    const file = this.#file(runId);
    const unlock = await takeFileLock(lockPath(file), { what: `the lock of run "${runId}"` });
    try {
      const claim = readClaim(file);
      if (claim !== undefined && claim.lease.token >= writer.lease!.token) return false;
      writer.journal.cutTo(end);
      return true;
    } finally {
      await unlock?.();
    }
  }

  async requestCancel(runId: string, request: CancelRequest): Promise<boolean> {
    assertRunId(runId);
    const file = this.#file(runId);
    if (!verifyPathSync(file, "file")) return false;
    const unlock = await takeFileLock(lockPath(file), { what: `the lock of run "${runId}"` });
    try {
      const { current } = this.#state(runId);
      if (current === undefined || !cancelReaches(current, request)) return false;
      writeClaim(file, { lease: { ...current, cancelRequested: keptCancel(request) } }, this.#fsync);
      return true;
    } finally {
      await unlock?.();
    }
  }

  async readLease(runId: string): Promise<Lease | undefined> {
    assertRunId(runId);
    return this.#serial(runId, () => this.#state(runId).current);
  }

  async delete(runId: string, lease?: Lease): Promise<boolean> {
    assertRunId(runId);
    return this.#serial(runId, async () => {
      this.#ready();
      const file = this.#file(runId);
      if (!verifyPathSync(file, "file")) {
        // A run without a file has no lease either: not the holder's to delete (RunStore.delete), and nothing to delete.
        assertMayDelete(runId, undefined, lease, this.#host, Date.now());
        return false;
      }
      // The holder deletes a run whose lease is live: another store object of this process that writes the file
      // with that lease (trusting its last look, `lease-trust.ts`) closes its writer first, as for a takeover.
      if (lease !== undefined) await this.#open.handOver(runId + SUFFIX, this);
      const unlock = await takeFileLock(lockPath(file), { what: `the lock of run "${runId}"` });
      try {
        assertMayDelete(runId, this.#state(runId).current, lease, this.#host, Date.now());
        await this.#closeWriter(runId);
        const started = holdsSnapshot(this.#file(runId));
        // The claim first: a claim left without its file only keeps tokens growing; a file without its claim is a plain run.
        removeClaim(file);
        removeLeftovers(this.dir, runId);
        unlinkSync(file);
        if (this.#fsync) syncFolder(this.dir, true);
        return started;
      } catch (err) {
        if (hasCode(err, "ENOENT")) return false;
        throw err;
      } finally {
        await unlock?.();
      }
    });
  }

  async close(): Promise<void> {
    const runs = [...this.#writers.keys()];
    await Promise.all(runs.map((runId) => this.#closeWriter(runId)));
  }
}
