/**
 * `LowdbStore`: the default, durable {@link RunStore}, one folder per run
 * under `<dir>/runs/<runId>/`:
 *
 * - `snapshot.json`: the full {@link SnapshotDocument} (superjson), with the
 *   journal sequence number it includes;
 * - `summary.json`: the run's {@link RunSummary}, so `list` reads one small
 *   file per run instead of every snapshot;
 * - `journal.ndjson`: one superjson {@link JournalRecord} per line, the
 *   changes made after the snapshot;
 * - `lease.json`: who drives the run, and `lease.lock/` while a process
 *   reads and rewrites it.
 *
 * Invariants. Snapshot, summary and lease are replaced atomically (temp
 * file in the same folder, optional fsync, rename), so a crash leaves the
 * old or the new file, never a torn one. The journal is append-only and
 * may end in a torn line after a crash: a line counts only when it ends in
 * "\n" and parses, and only the last line may fail that test. `load`
 * ignores such a tail; opening the journal for appending cuts it off first,
 * so new records never join a fragment. Any other unreadable content is a
 * `SnapshotCorruptError` naming the file, and the file is left as it is.
 *
 * Costs. `append` writes the bytes of its records through a file handle
 * kept open per run, whatever the run's size. `writeSnapshot` costs the
 * run's size and empties the journal (compaction) once the new snapshot is
 * in place. Within this process, calls on one run are queued, so an append
 * never lands between a snapshot and the journal truncation that follows
 * it; across processes, the lease keeps a single driver per run.
 *
 * Leases are decided under `lease.lock`, a folder made with `mkdir`
 * (atomic: exactly one process creates it). A lock older than 5 s is left
 * over from a crash and is broken. Lease calls join the run's queue too,
 * so within this process a takeover and a write of the same run are never
 * interleaved.
 *
 * Fencing. A write that carries the writer's lease is refused with
 * `LeaseLostError` unless `lease.json` still names that owner and token.
 * `writeSnapshot` (which costs the run's size anyway) reads the file;
 * `append`, the hot path, compares with the copy this store last saw and
 * only checks that the file is still that one (one `stat`: same inode and
 * change time); a takeover granted by this store replaces the copy, and a
 * file rewritten by another process fails the stat check, so both are
 * read and refused. The check and the write are not one atomic step
 * across processes: a takeover landing between them lets that one append
 * through, and the next write is refused.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { chmod, mkdir, open, readFile, readdir, rename, rm, stat, truncate, unlink } from "node:fs/promises";
import { fdatasyncSync, statSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { writeFileAtomic } from "./atomic-file.js";
import { hasCode, ignoreCode, takeFolderLock, type Unlock } from "./folder-lock.js";
import { Low, type Adapter } from "lowdb";
import superjson from "superjson";
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { RunLockedError, SnapshotCorruptError, describe } from "../errors.js";
import { assertRunId } from "../core/run-id.js";
import type { RunState } from "../state/run-state.js";
import { summarize, summaryOf } from "../state/run-state.js";
import type { JournalRecord, RunMeta, RunSummary } from "../state/records.js";
import { canTakeOver, grantLease, leaseLost, stillHeld } from "./lease-rules.js";
import { replay, toSnapshotDocument, type SnapshotDocument } from "./replay.js";
import type { Lease, LeaseRequest, RunQuery, RunStore, StoredRun } from "./run-store.js";
import { matchesQuery } from "./run-query.js";
import { serialize } from "./serialization.js";

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
  /** Reserved: compaction is decided by the persistence observer, not the store. */
  readonly compactEvery?: never;
}

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const NEWLINE = 0x0a;
/** Bytes read at a time when looking backwards for the journal's last line. */
const TAIL_CHUNK = 64 * 1024;

/** An empty journal, for {@link LowdbStore}'s record of the journal's highest seq. */
const EMPTY = Number.NEGATIVE_INFINITY;

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
  readonly #runsDir: string;
  readonly #fsync: boolean;
  readonly #host = hostname();
  /** Open journal handles, by run id. */
  readonly #journals = new Map<string, FileHandle>();
  /** The highest seq in each run's journal file, when known ({@link EMPTY} for an empty journal). */
  readonly #journalTop = new Map<string, number>();
  /** The tail of each run's queue of calls. */
  readonly #queues = new Map<string, Promise<void>>();
  /** The lease each run's `lease.json` held when this store last wrote or read it, with that file's {@link fileStamp}. */
  readonly #fences = new Map<string, { readonly owner: string; readonly token: number; readonly stamp: string | undefined }>();

  constructor(options: LowdbStoreOptions = {}) {
    assertKnownKeys("LowdbStore", options, optionKeys<Omit<LowdbStoreOptions, "compactEvery">>({ dir: true, fsync: true }));
    this.dir = resolve(options.dir ?? (process.env.TASKLOOM_DIR || ".taskloom"));
    this.#runsDir = join(this.dir, "runs");
    this.#fsync = options.fsync ?? false;
  }

  /** `lowdb:<absolute folder>`: every `LowdbStore` on this folder sees the same runs. */
  get location(): string {
    return `lowdb:${this.dir}`;
  }

  async writeSnapshot(state: RunState, seq: number, lease?: Lease): Promise<void> {
    const runId = state.meta.runId;
    assertRunId(runId);
    await this.#serial(runId, async () => {
      if (lease) await this.#fence(runId, lease, false);
      const files = this.#files(runId);
      // Decide what the journal keeps before anything is written, so that a
      // journal that cannot be read fails the call with nothing overwritten.
      const known = this.#journalTop.get(runId);
      const later = known === undefined || known > seq ? (await readJournal(files.journal)).filter((r) => r.seq > seq) : [];
      await this.#ensureRunDir(runId);
      const snapshot = new Low<SnapshotDocument | null>(this.#adapter(files.snapshot, checkSnapshot), null);
      snapshot.data = toSnapshotDocument(state, seq);
      await snapshot.write();
      const summary = new Low<RunSummary | null>(this.#adapter(files.summary, checkSummary), null);
      summary.data = summarize(state);
      await summary.write();
      // Only now that the new snapshot is in place may the journal shrink.
      if (later.length === 0) {
        const handle = this.#journals.get(runId);
        if (handle) await handle.truncate(0);
        else await truncate(files.journal, 0).catch(ignoreCode("ENOENT"));
      } else {
        await this.#closeJournal(runId);
        await writeFileAtomic(files.journal, journalText(later), this.#fsync);
      }
      this.#journalTop.set(runId, topSeq(later));
      // A run that stopped (finished, failed, cancelled, waiting) appends nothing until it is resumed.
      if (state.meta.status !== "running" && state.meta.status !== "pending") await this.#closeJournal(runId);
    });
  }

  async append(runId: string, records: readonly JournalRecord[], lease?: Lease): Promise<void> {
    assertRunId(runId);
    await this.#serial(runId, async () => {
      const handle = await this.#openJournal(runId);
      if (records.length === 0) return;
      if (lease) await this.#fence(runId, lease, true);
      try {
        // One write per call, so a crash tears at most this call's last line.
        // Synchronous on purpose: an append is small, and a blocking write
        // costs a few microseconds where a trip through libuv's thread pool
        // costs tens; with group commit, that is the price of every chain step.
        writeAll(handle.fd, Buffer.from(journalText(records)));
        if (this.#fsync) fdatasyncSync(handle.fd);
      } catch (err) {
        // The file may now end in a fragment: reopening cuts it off.
        this.#journalTop.delete(runId);
        await this.#closeJournal(runId).catch(() => undefined);
        throw err;
      }
      const top = this.#journalTop.get(runId);
      if (top !== undefined) this.#journalTop.set(runId, Math.max(top, topSeq(records)));
      let meta: RunMeta | undefined;
      for (const r of records) if (r.kind === "run") meta = r.run;
      if (meta) await this.#updateSummary(runId, meta);
    });
  }

  async load(runId: string): Promise<StoredRun | undefined> {
    assertRunId(runId);
    return this.#serial(runId, async () => {
      const files = this.#files(runId);
      const snapshot = new Low<SnapshotDocument | null>(this.#adapter(files.snapshot, checkSnapshot), null);
      await snapshot.read();
      const doc = snapshot.data;
      if (!doc) return undefined;
      if (doc.meta.runId !== runId) {
        throw new SnapshotCorruptError(files.snapshot, `it holds run "${doc.meta.runId}", not "${runId}"`);
      }
      const records = await readJournal(files.journal);
      this.#journalTop.set(runId, topSeq(records));
      return replay(doc, records);
    });
  }

  async list(query: RunQuery = {}): Promise<RunSummary[]> {
    let entries;
    try {
      entries = await readdir(this.#runsDir, { withFileTypes: true });
    } catch (err) {
      if (hasCode(err, "ENOENT")) return [];
      throw err;
    }
    const out: RunSummary[] = [];
    for (const entry of entries) {
      // Skips stray files and the trash of deletes that a crash interrupted.
      if (!entry.isDirectory() || !isRunId(entry.name)) continue;
      const summary = new Low<RunSummary | null>(this.#adapter(this.#files(entry.name).summary, checkSummary), null);
      await summary.read();
      if (summary.data && matchesQuery(summary.data, query)) out.push(summary.data);
    }
    return out.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  async delete(runId: string): Promise<boolean> {
    assertRunId(runId);
    return this.#serial(runId, async () => {
      const files = this.#files(runId);
      const unlock = await this.#lock(runId, false);
      if (!unlock) return false;
      let moved = false;
      try {
        const current = await this.#readLease(runId);
        const probe: LeaseRequest = {
          owner: `delete:${randomUUID()}`,
          pid: process.pid,
          host: this.#host,
          ttlMs: 0,
          now: Date.now(),
        };
        if (current && !canTakeOver(current, probe, this.#host)) throw new RunLockedError(runId, current);
        await this.#closeJournal(runId);
        this.#journalTop.delete(runId);
        this.#fences.delete(runId);
        const existed = await exists(files.snapshot);
        // A rename takes the folder (and the held lock with it) away at
        // once; a process waiting for the lock then finds no folder.
        const trash = join(this.#runsDir, `.trash-${randomUUID()}`);
        await rename(files.dir, trash);
        moved = true;
        await rm(trash, { recursive: true, force: true });
        return existed;
      } finally {
        if (!moved) await unlock();
      }
    });
  }

  async acquireLease(runId: string, request: LeaseRequest): Promise<Lease> {
    assertRunId(runId);
    return this.#serial(runId, async () => {
      // A lease may come before the first snapshot: the folder is made here.
      const unlock = (await this.#lock(runId, true)) as Unlock;
      try {
        const current = await this.#readLease(runId);
        if (current && !canTakeOver(current, request, this.#host)) throw new RunLockedError(runId, current);
        const lease = grantLease(runId, request, current);
        await this.#writeLease(lease);
        return lease;
      } finally {
        await unlock();
      }
    });
  }

  async renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease> {
    assertRunId(lease.runId);
    const lost = (current: Lease | undefined) => new RunLockedError(lease.runId, current ?? { ...lease, expiresAt: now });
    return this.#serial(lease.runId, async () => {
      const unlock = await this.#lock(lease.runId, false);
      if (!unlock) throw lost(undefined);
      try {
        const current = await this.#readLease(lease.runId);
        if (!current || !stillHeld(current, lease)) throw lost(current);
        const renewed: Lease = { ...current, expiresAt: now + ttlMs };
        await this.#writeLease(renewed);
        return renewed;
      } finally {
        await unlock();
      }
    });
  }

  async releaseLease(lease: Lease): Promise<void> {
    assertRunId(lease.runId);
    await this.#serial(lease.runId, async () => {
      const unlock = await this.#lock(lease.runId, false);
      if (!unlock) return;
      try {
        const current = await this.#readLease(lease.runId);
        if (current && current.owner === lease.owner) {
          this.#fences.delete(lease.runId);
          await unlink(this.#files(lease.runId).lease).catch(ignoreCode("ENOENT"));
        }
      } finally {
        await unlock();
      }
    });
  }

  /** Writes `lease.json` (under the lease lock) and remembers it for the fencing check. */
  async #writeLease(lease: Lease): Promise<void> {
    const file = this.#files(lease.runId).lease;
    this.#fences.delete(lease.runId);
    await this.#adapter(file, checkLease).write(lease);
    this.#fences.set(lease.runId, { owner: lease.owner, token: lease.token, stamp: fileStamp(file) });
  }

  /**
   * Throws `LeaseLostError` unless `lease` is the run's current lease.
   * With `fast`, a lease this store last saw in a `lease.json` that is
   * still the same file passes without reading it.
   */
  async #fence(runId: string, lease: Lease, fast: boolean): Promise<void> {
    const file = this.#files(runId).lease;
    const known = this.#fences.get(runId);
    // The stamp is taken before the read: if the file changes meanwhile, the next check reads it again.
    const stamp = fileStamp(file);
    if (fast && known !== undefined && stamp !== undefined && known.stamp === stamp && stillHeld(known, lease)) return;
    const current = await this.#readLease(runId);
    if (current) this.#fences.set(runId, { owner: current.owner, token: current.token, stamp });
    else this.#fences.delete(runId);
    if (!stillHeld(current, lease)) throw leaseLost(lease, current);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#journals.keys()].map((runId) => this.#serial(runId, () => this.#closeJournal(runId))));
  }

  /** Runs `task` after every earlier call on the same run has settled. */
  #serial<T>(runId: string, task: () => Promise<T>): Promise<T> {
    const result = (this.#queues.get(runId) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(runId, tail);
    void tail.then(() => {
      if (this.#queues.get(runId) === tail) this.#queues.delete(runId);
    });
    return result;
  }

  #files(runId: string) {
    const dir = join(this.#runsDir, runId);
    // assertRunId already rules this out; a second check costs nothing.
    if (dirname(dir) !== this.#runsDir) throw new Error(`taskloom internal error: run id "${runId}" names a path outside the store`);
    return {
      dir,
      snapshot: join(dir, "snapshot.json"),
      summary: join(dir, "summary.json"),
      journal: join(dir, "journal.ndjson"),
      lease: join(dir, "lease.json"),
      lock: join(dir, "lease.lock"),
    };
  }

  #adapter<T>(file: string, check: (value: unknown) => string | undefined): SuperjsonFileAdapter<T> {
    return new SuperjsonFileAdapter<T>(file, check, this.#fsync);
  }

  async #readLease(runId: string): Promise<Lease | undefined> {
    return (await this.#adapter<Lease>(this.#files(runId).lease, checkLease).read()) ?? undefined;
  }

  async #ensureRunDir(runId: string): Promise<void> {
    const created = await mkdir(this.#runsDir, { recursive: true, mode: DIR_MODE });
    // The mode given to mkdir is filtered by the umask: set it exactly, on
    // the folders made here only (a given `dir` that exists is the caller's).
    if (created !== undefined) {
      await chmod(this.#runsDir, DIR_MODE);
      if (created.length <= this.dir.length) await chmod(this.dir, DIR_MODE);
    }
    const dir = this.#files(runId).dir;
    try {
      await mkdir(dir, { mode: DIR_MODE });
      await chmod(dir, DIR_MODE);
    } catch (err) {
      if (!hasCode(err, "EEXIST")) throw err;
    }
  }

  /**
   * Takes the run's lease lock; resolves to the function that gives it
   * back, or to undefined when the run has no folder and `create` is false.
   */
  async #lock(runId: string, create: boolean): Promise<Unlock | undefined> {
    return takeFolderLock(this.#files(runId).lock, {
      what: `the lease lock of run "${runId}"`,
      createParent: create ? () => this.#ensureRunDir(runId) : undefined,
    });
  }

  /** The run's journal handle, opened (and its torn tail cut off) on first use. */
  async #openJournal(runId: string): Promise<FileHandle> {
    const cached = this.#journals.get(runId);
    if (cached) return cached;
    const files = this.#files(runId);
    if (!(await exists(files.snapshot))) {
      throw new Error(`taskloom: cannot append to run "${runId}": it has no snapshot yet (write one with writeSnapshot first)`);
    }
    const handle = await open(files.journal, "a+", FILE_MODE);
    try {
      await handle.chmod(FILE_MODE);
      const size = (await handle.stat()).size;
      const { end, last } = await validEnd(handle, size);
      if (end < size) await handle.truncate(end);
      // Records are appended in seq order, so the last one holds the highest.
      if (end === 0) this.#journalTop.set(runId, EMPTY);
      else if (last) this.#journalTop.set(runId, last.seq);
      else this.#journalTop.delete(runId);
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    this.#journals.set(runId, handle);
    return handle;
  }

  async #closeJournal(runId: string): Promise<void> {
    const handle = this.#journals.get(runId);
    if (!handle) return;
    this.#journals.delete(runId);
    await handle.close();
  }

  /** Rewrites the summary after a run-level change; node counts stay as the last snapshot left them. */
  async #updateSummary(runId: string, meta: RunMeta): Promise<void> {
    const db = new Low<RunSummary | null>(this.#adapter(this.#files(runId).summary, checkSummary), null);
    await db.read();
    db.data = summaryOf(meta, db.data ?? { nodeCount: 0, settledCount: 0 });
    await db.write();
  }
}


/**
 * lowdb's adapter for one superjson file: writes replace the file
 * atomically with mode 0600; reads throw `SnapshotCorruptError` for
 * content that is not a whole, valid document, and never touch the file.
 */
class SuperjsonFileAdapter<T> implements Adapter<T> {
  readonly file: string;
  readonly #check: (value: unknown) => string | undefined;
  readonly #fsync: boolean;

  constructor(file: string, check: (value: unknown) => string | undefined, fsync: boolean) {
    this.file = file;
    this.#check = check;
    this.#fsync = fsync;
  }

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (err) {
      if (hasCode(err, "ENOENT")) return null;
      throw err;
    }
    const parsed = parseDocument(text);
    if (!parsed.ok) throw new SnapshotCorruptError(this.file, parsed.problem, { cause: parsed.cause });
    const problem = this.#check(parsed.value);
    if (problem !== undefined) throw new SnapshotCorruptError(this.file, problem);
    return parsed.value as T;
  }

  async write(data: T): Promise<void> {
    await writeFileAtomic(this.file, serialize(data), this.#fsync);
  }
}

type Parsed = { ok: true; value: unknown } | { ok: false; problem: string; cause?: unknown };

/** Parses superjson text, saying what is wrong instead of throwing. */
function parseDocument(text: string): Parsed {
  if (text.length === 0) return { ok: false, problem: "the file is empty" };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, problem: `it is not valid JSON, perhaps truncated: ${describe(err)}`, cause: err };
  }
  if (!isObject(raw) || !("json" in raw) || Object.keys(raw).some((k) => k !== "json" && k !== "meta")) {
    return { ok: false, problem: "it is JSON but not a superjson document" };
  }
  try {
    return { ok: true, value: superjson.deserialize(raw as unknown as Parameters<typeof superjson.deserialize>[0]) };
  } catch (err) {
    return { ok: false, problem: `its superjson type annotations are not valid: ${describe(err)}`, cause: err };
  }
}


/** The highest seq among `records`, or {@link EMPTY}. */
function topSeq(records: readonly JournalRecord[]): number {
  let top = EMPTY;
  for (const r of records) if (r.seq > top) top = r.seq;
  return top;
}

function journalText(records: readonly JournalRecord[]): string {
  let text = "";
  for (const r of records) text += serialize(r) + "\n";
  return text;
}

/** One journal line as a record, or undefined when it is not a valid one. */
function parseRecord(line: string): JournalRecord | undefined {
  const parsed = parseDocument(line);
  if (!parsed.ok || checkRecord(parsed.value) !== undefined) return undefined;
  return parsed.value as JournalRecord;
}

/**
 * Reads a journal's records. The last line is dropped when it is torn (no
 * "\n", or not a valid record); any other bad line is corruption.
 */
async function readJournal(file: string): Promise<JournalRecord[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (hasCode(err, "ENOENT")) return [];
    throw err;
  }
  const records: JournalRecord[] = [];
  let start = 0;
  let line = 1;
  while (start < text.length) {
    const nl = text.indexOf("\n", start);
    if (nl === -1) break; // a fragment: a crash cut the last append short
    const record = parseRecord(text.slice(start, nl));
    if (!record) {
      const fragmentOnly = text.indexOf("\n", nl + 1) === -1;
      if (fragmentOnly) break; // the last complete line, torn
      throw new SnapshotCorruptError(file, `line ${line} is not a valid journal record, and records follow it`);
    }
    records.push(record);
    start = nl + 1;
    line += 1;
  }
  return records;
}

/**
 * Where the journal's valid content ends: after the last line that ends in
 * "\n" and parses, skipping a fragment and one bad last line, as
 * {@link readJournal} does. Reads only the end of the file.
 */
async function validEnd(handle: FileHandle, size: number): Promise<{ end: number; last: JournalRecord | undefined }> {
  let end = size;
  if (end > 0 && (await readAt(handle, end - 1, 1))[0] !== NEWLINE) end = await lineStart(handle, end);
  if (end === 0) return { end, last: undefined };
  const start = await lineStart(handle, end - 1);
  const last = parseRecord((await readAt(handle, start, end - 1 - start)).toString("utf8"));
  if (last) return { end, last };
  if (start === 0) return { end: 0, last: undefined };
  // The line before a bad last line is valid (else the journal is corrupt, which load reports).
  const before = await lineStart(handle, start - 1);
  return { end: start, last: parseRecord((await readAt(handle, before, start - 1 - before)).toString("utf8")) };
}

/** The offset just after the last "\n" before `end` (0 when there is none). */
async function lineStart(handle: FileHandle, end: number): Promise<number> {
  let pos = end;
  while (pos > 0) {
    const from = Math.max(0, pos - TAIL_CHUNK);
    const chunk = await readAt(handle, from, pos - from);
    const i = chunk.lastIndexOf(NEWLINE);
    if (i !== -1) return from + i + 1;
    pos = from;
  }
  return 0;
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

function checkSnapshot(value: unknown): string | undefined {
  if (!isObject(value)) return "it is not a snapshot document";
  if (value.version !== 1) return `it has snapshot format version ${String(value.version)}, expected 1`;
  if (!isSeq(value.seq)) return "its seq is not a sequence number";
  if (!isObject(value.meta) || typeof value.meta.runId !== "string") return "its run meta is missing";
  if (!Array.isArray(value.nodes) || !value.nodes.every((n) => isObject(n) && typeof n.id === "string")) {
    return "its node records are not valid";
  }
  return undefined;
}

function checkSummary(value: unknown): string | undefined {
  if (!isObject(value) || typeof value.runId !== "string" || typeof value.status !== "string" || typeof value.updatedAt !== "number") {
    return "it is not a run summary";
  }
  return undefined;
}

function checkLease(value: unknown): string | undefined {
  if (
    !isObject(value) ||
    typeof value.runId !== "string" ||
    typeof value.owner !== "string" ||
    typeof value.pid !== "number" ||
    typeof value.host !== "string" ||
    typeof value.expiresAt !== "number" ||
    typeof value.token !== "number"
  ) {
    return "it is not a lease";
  }
  return undefined;
}

function checkRecord(value: unknown): string | undefined {
  if (!isObject(value) || !isSeq(value.seq)) return "not a journal record";
  if (value.kind === "node" && isObject(value.node) && typeof value.node.id === "string") return undefined;
  if (value.kind === "run" && isObject(value.run) && typeof value.run.runId === "string") return undefined;
  return "not a journal record";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSeq(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

function isRunId(name: string): boolean {
  try {
    assertRunId(name);
    return true;
  } catch {
    return false;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if (hasCode(err, "ENOENT")) return false;
    throw err;
  }
}



/**
 * What tells one version of a file from another without reading it:
 * inode and change time (a rewrite replaces the file, so both change), or
 * undefined when there is no file.
 */
function fileStamp(file: string): string | undefined {
  const s = statSync(file, { bigint: true, throwIfNoEntry: false });
  return s === undefined ? undefined : `${s.ino}:${s.ctimeNs}:${s.size}`;
}

/** Writes every byte of `buffer` at the end of the file `fd` was opened on (in append mode). */
function writeAll(fd: number, buffer: Buffer): void {
  let offset = 0;
  while (offset < buffer.length) offset += writeSync(fd, buffer, offset, buffer.length - offset);
}
