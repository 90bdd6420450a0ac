/**
 * A prototype of the file-per-run store sketched in `bench/README.md`
 * (twenty-third pass), built to answer one question before a new on-disk
 * format is committed to: with the engine's real JavaScript around it, how
 * close does a run kept in one file per run come to issue 16's targets 1,
 * 2 and 4? It is a measuring instrument, not a store: it is never
 * exported, and it does only what a run's happy path does.
 *
 * What it does, as the real store would on that path:
 * - `acquireLease` makes `runs/<runId>.run` with `O_CREAT | O_EXCL` (the
 *   claim of the run id) and writes the lease as its first line;
 * - the first `writeSnapshot` appends the run's start (the snapshot in
 *   today's format 4, on one line); a later one compacts: a temp file
 *   with the snapshot and the lease, flushed with `fsync`, renamed over;
 * - `append` writes today's journal lines (`journalText`, batches of 64 or
 *   more node records as one line) through the descriptor kept open;
 * - a write that holds a lease looks once per `TRUST_MS` for a file that
 *   another process would write to take the run over or cancel it
 *   (`runs/<runId>.run.claim`: one `lstat`, which finds nothing), as
 *   today's store looks at `lease.json`;
 * - with `fsync`, nothing of the start is flushed until the first append:
 *   that append flushes the file, then `runs` (and the store's folder,
 *   when this store made `runs`), as the sketch proposes;
 * - `releaseLease` appends the lease given back and closes the file.
 *
 * What it leaves out (the real store must have them): takeovers and
 * cancels by other processes (the claim file, its lock, the trust wait),
 * the cut of a torn last line before an append, the preallocation of the
 * file with `fsync` (so a chain step's flush commits no new size), compact
 * records (`journal-delta.ts`), refusal of links and foreign owners
 * (`store-files.ts`), a cheap `list` (this one reads every file whole).
 * `load` reads the file whole and replays it, so a probe can check that
 * its runs come back as they ended.
 *
 * Bundled with esbuild together with the taskloom source it imports, so
 * that it, `MemoryStore` and `LowdbStore` run as `dist/` does (tsx would
 * wrap its functions): see `run-file-ab.ts`.
 *
 * @module
 */
import {
  closeSync,
  constants as C,
  fdatasync,
  fdatasyncSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { RunLockedError } from "../../src/persistence/errors.js";
import { canTakeOver, grantLease, leaseLost, stillHeld } from "../../src/persistence/lease-rules.js";
import { journalText } from "../../src/persistence/journal-file.js";
import { batchNodes } from "../../src/persistence/journal-batch.js";
import { Replay } from "../../src/persistence/replay.js";
import type { StoredRecord } from "../../src/persistence/journal-delta.js";
import { fromSnapshotFile, snapshotFilePieces, type SnapshotFileDocument } from "../../src/persistence/snapshot-file.js";
import { deserialize, fromDocument, serialize } from "../../src/persistence/serialization.js";
import { TRUST_MS } from "../../src/persistence/lease-trust.js";
import { thisHost } from "../../src/core/host.js";
import type { CancelRequest, Lease, LeaseRequest, LoadHint, RunQuery, RunStore, StoredRun } from "../../src/persistence/run-store.js";
import type { RunState } from "../../src/state/run-state.js";
import type { NodeCounts } from "../../src/state/run-summary.js";
import { summarize } from "../../src/state/run-summary.js";
import type { JournalRecord, RunSummary } from "../../src/state/records.js";

const flushAsync = promisify(fdatasync);
const MAKE = C.O_CREAT | C.O_EXCL | C.O_RDWR | C.O_APPEND | C.O_NOFOLLOW;

/** One run's open file. */
interface OpenRun {
  fd: number;
  lease: Lease | undefined;
  /** Whether the file holds a snapshot line yet. */
  started: boolean;
  /** With fsync: the start is written but not flushed (the first append flushes it, and `runs`). */
  unflushed: boolean;
  /** When the claim file was last looked for (`performance.now()`). */
  lookedAt: number;
}

/** The prototype (see the module comment). */
export class RunFileProto implements RunStore {
  readonly dir: string;
  readonly #runsDir: string;
  readonly #fsync: boolean;
  readonly #host = thisHost();
  readonly #open = new Map<string, OpenRun>();
  /** Whether `runs` is known to exist; whether this store made it (so its parent is flushed with the first start). */
  #runsReady: boolean;
  #madeRuns = false;

  /** With `flat`, run files are kept in `dir` itself rather than in `dir/runs` (no folder to make in a fresh store). */
  constructor(options: { dir: string; fsync?: boolean; flat?: boolean }) {
    this.dir = resolve(options.dir);
    this.#runsDir = options.flat ? this.dir : join(this.dir, "runs");
    this.#runsReady = options.flat ?? false;
    this.#fsync = options.fsync ?? false;
  }

  #file(runId: string): string {
    return join(this.#runsDir, `${runId}.run`);
  }

  #fence(runId: string, run: OpenRun, lease: Lease): void {
    const now = performance.now();
    if (now - run.lookedAt < TRUST_MS) return;
    run.lookedAt = now;
    // No claim file: nobody asked for the run (the real store reads it and compares tokens when there is one).
    if (lstatSync(`${this.#file(runId)}.claim`, { throwIfNoEntry: false }) !== undefined) throw leaseLost(lease, undefined);
  }

  #run(runId: string): OpenRun {
    let run = this.#open.get(runId);
    if (run === undefined) {
      run = { fd: openSync(this.#file(runId), C.O_RDWR | C.O_APPEND | C.O_NOFOLLOW), lease: undefined, started: true, unflushed: false, lookedAt: -Infinity };
      this.#open.set(runId, run);
    }
    return run;
  }

  async writeSnapshot(state: RunState, seq: number, lease?: Lease): Promise<void> {
    const runId = state.meta.runId;
    const run = this.#run(runId);
    if (lease) this.#fence(runId, run, lease);
    let text = '{"k":"s","d":';
    for (const piece of snapshotFilePieces(state, seq)) text += piece;
    text += "}\n";
    if (!run.started) {
      writeSync(run.fd, text);
      run.started = true;
      run.unflushed = this.#fsync;
      return;
    }
    // Compaction: the snapshot and the lease in a new file, renamed over the old one.
    const file = this.#file(runId);
    const temp = `${file}.${process.pid}.tmp`;
    const fd = openSync(temp, MAKE, 0o600);
    writeSync(fd, run.lease ? `{"k":"l","l":${serialize(run.lease)}}\n${text}` : text);
    if (this.#fsync) fdatasyncSync(fd);
    renameSync(temp, file);
    if (this.#fsync) this.#flushFolder(this.#runsDir);
    closeSync(run.fd);
    run.fd = fd;
    run.unflushed = false;
  }

  append(runId: string, records: readonly JournalRecord[], lease?: Lease, counts?: NodeCounts): Promise<void> {
    const run = this.#run(runId);
    if (records.length === 0) return Promise.resolve();
    if (lease) this.#fence(runId, run, lease);
    let text = journalText(batchNodes(records));
    if (counts !== undefined && records[records.length - 1]!.kind === "run") text += `{"k":"c","c":${JSON.stringify(counts)}}\n`;
    writeSync(run.fd, text);
    if (!this.#fsync) return Promise.resolve();
    if (run.unflushed) {
      fdatasyncSync(run.fd);
      this.#flushFolder(this.#runsDir);
      if (this.#madeRuns) {
        this.#flushFolder(this.dir);
        this.#madeRuns = false;
      }
      run.unflushed = false;
      return Promise.resolve();
    }
    if (records.length <= 1 || records[records.length - 1]!.kind === "run") {
      fdatasyncSync(run.fd);
      return Promise.resolve();
    }
    return flushAsync(run.fd);
  }

  #flushFolder(dir: string): void {
    const fd = openSync(dir, C.O_RDONLY | C.O_DIRECTORY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** The file's lines, parsed; a last line without its newline (torn) is left out. */
  #lines(runId: string): { k?: string; l?: Lease; d?: SnapshotFileDocument; c?: NodeCounts; record?: StoredRecord }[] | undefined {
    let text: string;
    try {
      text = readFileSync(this.#file(runId), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    const out = [];
    const lines = text.split("\n");
    lines.pop();
    for (const line of lines) {
      if (line.startsWith('{"k":')) out.push(JSON.parse(line) as { k: string });
      else out.push({ record: deserialize<StoredRecord>(line) });
    }
    return out;
  }

  async load(runId: string, hint?: LoadHint): Promise<StoredRun | undefined> {
    // A run whose file this store just made holds a lease and nothing else: nothing to read.
    if (this.#open.get(runId)?.started === false) return undefined;
    const lines = this.#lines(runId);
    if (lines === undefined) return undefined;
    let replay: Replay | undefined;
    for (const line of lines) {
      if (line.k === "s") replay = new Replay(fromSnapshotFile(fromWire(line.d!), hint?.layout?.order), this.#file(runId), this.#file(runId), hint?.layout);
      else if (line.record && replay) replay.apply(line.record);
    }
    if (!replay) return undefined;
    const loaded = replay.result();
    return { state: loaded.state, seq: loaded.seq, journalRecords: loaded.journalRecords, source: this.#file(runId) };
  }

  async list(query: RunQuery = {}): Promise<RunSummary[]> {
    const out: RunSummary[] = [];
    for (const name of readdirSync(this.#runsDir)) {
      if (!name.endsWith(".run")) continue;
      const loaded = await this.load(name.slice(0, -4));
      if (loaded === undefined) continue;
      const summary = summarize(loaded.state);
      const wanted = query.status === undefined ? undefined : ([] as string[]).concat(query.status);
      if (wanted === undefined || wanted.includes(summary.status)) out.push(summary);
    }
    return out.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  async delete(runId: string): Promise<boolean> {
    const open = this.#open.get(runId);
    if (open) closeSync(open.fd);
    this.#open.delete(runId);
    try {
      unlinkSync(this.#file(runId));
      return true;
    } catch {
      return false;
    }
  }

  async acquireLease(runId: string, request: LeaseRequest): Promise<Lease> {
    if (!this.#runsReady) {
      try {
        mkdirSync(this.#runsDir, { mode: 0o700 });
        this.#madeRuns = true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
          mkdirSync(this.#runsDir, { recursive: true, mode: 0o700 });
          this.#madeRuns = true;
        }
      }
      this.#runsReady = true;
    }
    let fd: number;
    let current: Lease | undefined;
    let started = false;
    try {
      fd = openSync(this.#file(runId), MAKE, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      fd = openSync(this.#file(runId), C.O_RDWR | C.O_APPEND | C.O_NOFOLLOW);
      for (const line of this.#lines(runId) ?? []) {
        if (line.k === "l") current = fromDocument<Lease>(line.l);
        else if (line.k === "s") started = true;
      }
      if (current && !canTakeOver(current, request, this.#host)) {
        closeSync(fd);
        throw new RunLockedError(runId, current);
      }
    }
    const lease = grantLease(runId, request, current);
    writeSync(fd, `{"k":"l","l":${serialize(lease)}}\n`);
    const prior = this.#open.get(runId);
    if (prior) closeSync(prior.fd);
    this.#open.set(runId, { fd, lease, started, unflushed: false, lookedAt: performance.now() });
    return lease;
  }

  async renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease> {
    const run = this.#run(lease.runId);
    if (!stillHeld(run.lease, lease)) throw leaseLost(lease, run.lease);
    const renewed = { ...lease, expiresAt: now + ttlMs };
    writeSync(run.fd, `{"k":"l","l":${serialize(renewed)}}\n`);
    run.lease = renewed;
    return renewed;
  }

  async releaseLease(lease: Lease): Promise<void> {
    const run = this.#open.get(lease.runId);
    if (!run) return;
    writeSync(run.fd, `{"k":"l","l":${serialize({ ...lease, expiresAt: 0 })}}\n`);
    closeSync(run.fd);
    this.#open.delete(lease.runId);
  }

  async requestCancel(_runId: string, _request: CancelRequest): Promise<boolean> {
    return false;
  }

  async readLease(runId: string): Promise<Lease | undefined> {
    return this.#open.get(runId)?.lease;
  }

  async close(): Promise<void> {
    for (const run of this.#open.values()) closeSync(run.fd);
    this.#open.clear();
  }
}

/** The snapshot document as a line carries it: superjson's `{ json, meta }` inside the line's JSON. */
function fromWire(d: unknown): SnapshotFileDocument {
  return fromDocument<SnapshotFileDocument>(d);
}
