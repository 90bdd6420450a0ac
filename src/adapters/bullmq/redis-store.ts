/**
 * Why this file is 411 lines (112 of them comments, this one 63; 299 of
 * code): it is one concept, the `RunStore` contract's eleven methods for
 * Redis, and every one of them goes through the same key layout, the same
 * lease check of what Redis gives back (`#holder`, `leaseProblem`) and the
 * same mapping of a script's refusal to a typed error (`#leaseCall`);
 * the scripts themselves are in `redis-scripts.ts` and the connection in
 * `connection.ts`. Each method is a few lines around one script call.
 *
 * `RedisStore`: a {@link RunStore} in Redis, so that any coordinator on
 * any machine can load, drive and resume any run.
 *
 * Keys (under `prefix`, default `taskloom`):
 * - `P:run:<id>:snap`: the snapshot document (superjson), one string;
 * - `P:run:<id>:journal`: the journal, a list of `"<seq>|<record>"`
 *   appended with RPUSH, so an append costs the size of its records and
 *   never the size of the run; a snapshot drops the records it includes
 *   from the head of the list (they are in seq order);
 * - `P:runs`: a hash of run summaries by run id, for `list()`;
 * - `P:lease:<id>`: the lease (JSON), kept until it is given back, taken
 *   over or deleted with its run, expired or not, as every store keeps it:
 *   an expired lease nobody took over is still its holder's (it renews it,
 *   writes with it, a cancel request reaches it, `readLease` shows it).
 *   Beside the contract's fields it holds `redisOffsetMs`, Redis's clock
 *   minus the holder's at its last grant or renewal, so that the lease
 *   also expires by Redis's clock: a holder whose clock runs ahead (or
 *   that vanished) never keeps a run past its TTL. Leases an earlier
 *   version wrote (with a Redis-side PX expiry instead) read the same;
 * - `P:token:<id>`: the last token handed out, INCRemented each time the
 *   lease changes hands; it outlives the lease and the run, so a token is
 *   never handed out twice for one run id: a lease given back keeps its
 *   token, and the next holder's is above it (a cancel request for the
 *   old one never reaches it), after a `delete` too.
 *
 * Fencing. A writer passes the lease it holds with every snapshot and
 * append; the write runs as a Lua script that first compares that lease
 * (owner and token) with the run's lease key, and refuses the write with
 * {@link LeaseLostError} unless it is still the run's lease: another
 * coordinator took the run over, the lease was given back, or the run was
 * deleted (a write then would bring it back). A coordinator that stalled
 * past its lease (a long GC pause, a partition) cannot overwrite the newer
 * one's state, even when both share this store object. The token travels
 * with the lease, never with the store. Writes made without a lease
 * (tools, tests) are not fenced.
 *
 * Taking over. Lease rules are those of every store (`lease-rules.ts`):
 * the same owner renews; a lease expired (by the requester's clock or by
 * Redis's), or one held by a dead process on this host, is taken over;
 * `takeover: true` takes it from any holder.
 * A dead local holder (by the identity rules of `lease-rules.ts`: same
 * host, boot and PID namespace) is found in this process (Redis cannot see pids),
 * then taken with a compare-and-set on its token, so two coordinators
 * racing for the same dead holder's run get one lease between them.
 *
 * Every method checks its run id (`assertRunId`, as the file stores do),
 * so a value that is not a run id (undefined, a megabyte of text, `{`)
 * never becomes part of a key.
 *
 * The Lua scripts that make each write and lease change atomic are in
 * `redis-scripts.ts`.
 *
 * @module
 */
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { LeaseLostError } from "../../engine/errors.js";
import { RunLockedError, SnapshotCorruptError } from "../../persistence/errors.js";
import { assertKnownKeys, optionKeys } from "../../core/known-keys.js";
import { assertRunId } from "../../core/run-id.js";
import { holderDeadHere } from "../../persistence/lease-rules.js";
import { replay, toSnapshotDocument, type SnapshotDocument } from "../../persistence/replay.js";
import { matchesQuery } from "../../persistence/run-query.js";
import { checkLease, checkRecord, checkSnapshot, checkSummary } from "../../persistence/snapshot-schema.js";
import type { CancelRequest, Lease, LeaseRequest, RunQuery, RunStore, StoredRun } from "../../persistence/run-store.js";
import { deserialize, serialize } from "../../persistence/serialization.js";
import type { JournalRecord, RunMeta, RunSummary } from "../../state/records.js";
import { type RunState } from "../../state/run-state.js";
import { summarize, summaryOf, type NodeCounts } from "../../state/run-summary.js";
import { assertConnection, closeClient, connectionOptions, openClient, runScript, type RedisConnection } from "./connection.js";
import { nameOption } from "./job-payload.js";
import {
  ACQUIRE,
  APPEND,
  DELETE,
  fenceArgs,
  leaseAt,
  leaseOf,
  READ_LEASE,
  RELEASE,
  RENEW,
  REQUEST_CANCEL,
  WRITE_SNAPSHOT,
  type Reply,
} from "./redis-scripts.js";

/**
 * Options of {@link RedisStore}.
 *
 * @example
 * ```ts
 * const options: RedisStoreOptions = { connection: "redis://127.0.0.1:6379", prefix: "myapp" };
 * ```
 */
export interface RedisStoreOptions {
  /** Where Redis is. @default "redis://127.0.0.1:6379" */
  readonly connection?: RedisConnection;
  /** Prefix of every key the store writes (one per application or test). @default "taskloom" */
  readonly prefix?: string;
}

/**
 * Keeps runs in Redis, so that a run started on one machine can be
 * resumed on any other; leases expire in Redis and are fenced.
 *
 * @example
 * ```ts
 * import { RedisStore } from "taskloom/bullmq";
 * const store = new RedisStore({ connection: "redis://127.0.0.1:6379", prefix: "etl" });
 * await runAsync(etl, inputs, { runId: "etl-1", store });
 * await store.close();
 * ```
 */
export class RedisStore implements RunStore {
  readonly #connection: RedisConnection;
  readonly #prefix: string;
  readonly #host = hostname();
  #client: { client: Redis; owned: boolean } | undefined;

  constructor(options: RedisStoreOptions = {}) {
    assertKnownKeys("RedisStore", options, optionKeys<RedisStoreOptions>({ connection: true, prefix: true }));
    const connection = options.connection === undefined ? "redis://127.0.0.1:6379" : options.connection;
    assertConnection(connection);
    this.#connection = connection;
    this.#prefix = nameOption("prefix", options.prefix);
  }

  /** The key prefix. */
  get prefix(): string {
    return this.#prefix;
  }

  /** `redis://<host>:<port>/<db>#<prefix>` (no credentials): every `RedisStore` on this server and prefix sees the same runs. */
  get location(): string {
    const o = connectionOptions(this.#connection);
    const host = o.host ?? "127.0.0.1";
    // An IPv6 address is bracketed, as in a URL, so its colons do not read as the port's.
    const where = o.path ? `unix:${o.path}` : `${host.includes(":") ? `[${host}]` : host}:${o.port ?? 6379}`;
    return `redis://${where}/${o.db ?? 0}#${this.#prefix}`;
  }

  get #redis(): Redis {
    this.#client ??= openClient(this.#connection);
    return this.#client.client;
  }

  #key(runId: string, part: "snap" | "journal"): string {
    return `${this.#prefix}:run:${runId}:${part}`;
  }

  #leaseKey(runId: string): string {
    return `${this.#prefix}:lease:${runId}`;
  }

  #tokenKey(runId: string): string {
    return `${this.#prefix}:token:${runId}`;
  }

  get #runsKey(): string {
    return `${this.#prefix}:runs`;
  }

  /** The keys of the snapshot and append scripts: lease, snapshot, journal, summaries. */
  #runKeys(runId: string): string[] {
    return [this.#leaseKey(runId), this.#key(runId, "snap"), this.#key(runId, "journal"), this.#runsKey];
  }

  /** `work` (a write script), which reads the lease key when `lease` fences it: then as {@link RedisStore.#leaseCall}. */
  #fencedCall<T>(runId: string, lease: Lease | undefined, work: Promise<T>): Promise<T> {
    return lease === undefined ? work : this.#leaseCall(runId, work);
  }

  #fenced(runId: string, lease: Lease | undefined, reply: Reply): void {
    if (reply[0] === 1) throw new LeaseLostError(runId, lease?.token ?? 0, Number(reply[1]));
  }

  async writeSnapshot(state: RunState, seq: number, lease?: Lease): Promise<void> {
    const runId = state.meta.runId;
    assertRunId(runId);
    const args = [...fenceArgs(lease), serialize(toSnapshotDocument(state, seq)), String(seq), runId, serialize(summarize(state))];
    const reply = (await this.#fencedCall(runId, lease, runScript(this.#redis, "taskloomWriteSnapshot", WRITE_SNAPSHOT, this.#runKeys(runId), args))) as Reply;
    this.#fenced(runId, lease, reply);
  }

  async append(runId: string, records: readonly JournalRecord[], lease?: Lease, counts?: NodeCounts): Promise<void> {
    assertRunId(runId);
    // An empty append writes nothing, but with a lease it is still fenced, as in every store: the script compares it.
    if (records.length === 0 && lease === undefined) return;
    let meta: RunMeta | undefined;
    for (const r of records) if (r.kind === "run") meta = r.run;
    let summary = "";
    if (meta !== undefined) {
      // A status change: the summary takes the new meta, and the counts given or else those it had.
      let known = counts;
      if (known === undefined) {
        const prior = await this.#redis.hget(this.#runsKey, runId);
        known = prior ? this.#parse<RunSummary>(prior, runId, this.#runsKey, "its summary") : { nodeCount: 0, settledCount: 0 };
      }
      summary = serialize(summaryOf(meta, known));
    }
    const args = [...fenceArgs(lease), runId, summary, ...records.map((r) => `${r.seq}|${serialize(r)}`)];
    const reply = (await this.#fencedCall(runId, lease, runScript(this.#redis, "taskloomAppend", APPEND, this.#runKeys(runId), args))) as Reply;
    this.#fenced(runId, lease, reply);
    if (reply[0] === 2) throw new Error(`taskloom: cannot append to run "${runId}": it has no snapshot yet`);
  }

  async load(runId: string): Promise<StoredRun | undefined> {
    assertRunId(runId);
    const results = await this.#redis.multi().get(this.#key(runId, "snap")).lrange(this.#key(runId, "journal"), 0, -1).exec();
    const [snapReply, journalReply] = results ?? [];
    if (snapReply?.[0]) throw snapReply[0];
    if (journalReply?.[0]) throw journalReply[0];
    const snap = snapReply?.[1] as string | null | undefined;
    if (snap === null || snap === undefined) return undefined;
    const snapKey = this.#key(runId, "snap");
    const doc = this.#parse<SnapshotDocument>(snap, runId, snapKey, "the snapshot");
    // The whole shape, as every store checks it (persistence/snapshot-schema.ts).
    const problem = checkSnapshot(doc) ?? (doc.meta.runId !== runId ? `it holds run "${doc.meta.runId}", not "${runId}"` : undefined);
    if (problem !== undefined) throw this.#corrupt(snapKey, runId, problem);
    const journalKey = this.#key(runId, "journal");
    const records = ((journalReply?.[1] as string[] | undefined) ?? []).map((line, i) => {
      const record = this.#parse<JournalRecord>(line.slice(line.indexOf("|") + 1), runId, journalKey, `journal entry ${i}`);
      const bad = checkRecord(record);
      if (bad !== undefined) throw this.#corrupt(journalKey, runId, `journal entry ${i}: ${bad}`);
      return record;
    });
    // Field by field: a literal that starts with a spread and adds a key gets a hidden class of its own each time in
    // V8 11 (docs/architecture.md, "Hidden classes").
    const { state, seq, journalRecords } = replay(doc, records);
    return { state, seq, journalRecords, source: `redis key "${snapKey}" (run "${runId}")` };
  }

  /** The error for unreadable data in `key`, naming the key and the run. */
  #corrupt(key: string, runId: string, detail: string, cause?: unknown): SnapshotCorruptError {
    return new SnapshotCorruptError(`redis key "${key}" (run "${runId}")`, detail, cause === undefined ? undefined : { cause });
  }

  /** `text` (what `key` holds for run `runId`: `what`) deserialized. */
  #parse<T>(text: string, runId: string, key: string, what: string): T {
    try {
      return deserialize<T>(text);
    } catch (error) {
      throw this.#corrupt(key, runId, `${what} is not valid superjson`, error);
    }
  }

  /** `work` (a lease script); when it fails on a lease key that holds no lease, the error names the key. */
  async #leaseCall<T>(runId: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      const key = this.#leaseKey(runId);
      const raw = await this.#redis.get(key).catch(() => null);
      const problem = raw === null ? undefined : leaseProblem(raw);
      if (problem !== undefined) throw this.#corrupt(key, runId, problem, error);
      throw error;
    }
  }

  /** The lease `raw` (what run `runId`'s lease key holds, from a script's reply); SnapshotCorruptError when it is none. */
  #holder(runId: string, raw: string): Lease {
    const problem = leaseProblem(raw);
    if (problem !== undefined) throw this.#corrupt(this.#leaseKey(runId), runId, problem);
    return leaseOf(raw);
  }

  async list(query: RunQuery = {}): Promise<RunSummary[]> {
    const all = await this.#redis.hgetall(this.#runsKey);
    const out: RunSummary[] = [];
    for (const [runId, text] of Object.entries(all)) {
      let summary: RunSummary;
      try {
        summary = this.#parse<RunSummary>(text, runId, this.#runsKey, "its summary");
        const problem = checkSummary(summary) ?? (summary.runId !== runId ? `it holds run "${summary.runId}", not "${runId}"` : undefined);
        if (problem !== undefined) throw this.#corrupt(this.#runsKey, runId, `its summary: ${problem}`);
      } catch (err) {
        // One bad entry is skipped and reported; the other runs are listed.
        if (!(err instanceof SnapshotCorruptError)) throw err;
        (query.onProblem ?? ((p) => process.emitWarning(p)))(err);
        continue;
      }
      if (matchesQuery(summary, query)) out.push(summary);
    }
    return out.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  async delete(runId: string, lease?: Lease): Promise<boolean> {
    assertRunId(runId);
    const keys = [this.#leaseKey(runId), this.#key(runId, "snap"), this.#key(runId, "journal"), this.#runsKey] as const;
    if (lease !== undefined) {
      // The holder deletes, only while its lease is the run's (RunStore.delete): checked in the script, atomically.
      const args = [runId, lease.owner, String(lease.token), String(Date.now()), "1"];
      const held = (await this.#leaseCall(runId, runScript(this.#redis, "taskloomDelete", DELETE, keys, args))) as Reply;
      if (held[0] === 1) throw new RunLockedError(runId, held[1] ? this.#holder(runId, String(held[1])) : { ...lease, expiresAt: Date.now() });
      return Number(held[1]) > 0;
    }
    let reply = (await this.#leaseCall(runId, runScript(this.#redis, "taskloomDelete", DELETE, keys, [runId, "", "", String(Date.now())]))) as Reply;
    if (reply[0] === 1) {
      const holder = this.#holder(runId, String(reply[1]));
      if (!this.#deadHere(holder)) throw new RunLockedError(runId, holder);
      const args = [runId, holder.owner, String(holder.token), String(Date.now())];
      reply = (await this.#leaseCall(runId, runScript(this.#redis, "taskloomDelete", DELETE, keys, args))) as Reply;
      if (reply[0] === 1) throw new RunLockedError(runId, this.#holder(runId, String(reply[1])));
    }
    return Number(reply[1]) > 0;
  }

  /** True when `holder` is provably a dead process of this host (`lease-rules.ts`). */
  #deadHere(holder: Lease): boolean {
    return holderDeadHere(holder, this.#host);
  }

  async acquireLease(runId: string, request: LeaseRequest): Promise<Lease> {
    assertRunId(runId);
    const attempt = (deadOwner: string, deadToken: string): Promise<Reply> =>
      runScript(
        this.#redis,
        "taskloomAcquire",
        ACQUIRE,
        [this.#leaseKey(runId), this.#tokenKey(runId)],
        [
          request.owner,
          String(request.pid),
          request.host,
          String(request.ttlMs),
          String(request.now),
          runId,
          request.takeover === true ? "1" : "",
          deadOwner,
          deadToken,
          request.identity === undefined ? "" : JSON.stringify(request.identity),
        ],
      ) as Promise<Reply>;
    let reply = await this.#leaseCall(runId, attempt("", ""));
    if (reply[0] === 1) {
      const holder = this.#holder(runId, String(reply[1]));
      // Redis cannot see pids: a holder that died on this host is found here, then taken only if it still holds the lease.
      if (!this.#deadHere(holder)) throw new RunLockedError(runId, holder);
      reply = await this.#leaseCall(runId, attempt(holder.owner, String(holder.token)));
      if (reply[0] === 1) throw new RunLockedError(runId, this.#holder(runId, String(reply[1])));
    }
    // The same owner's lease taken again is the stored one, renewed: checked as any lease read back.
    return this.#holder(runId, String(reply[1]));
  }

  async renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease> {
    assertRunId(lease.runId);
    const args = [lease.owner, String(lease.token), String(ttlMs), String(now)];
    const reply = (await this.#leaseCall(lease.runId, runScript(this.#redis, "taskloomRenew", RENEW, [this.#leaseKey(lease.runId)], args))) as Reply;
    if (reply[0] === 1) {
      const holder = reply[1] ? this.#holder(lease.runId, String(reply[1])) : { ...lease, expiresAt: now };
      throw new RunLockedError(lease.runId, holder);
    }
    return this.#holder(lease.runId, String(reply[1]));
  }

  async requestCancel(runId: string, request: CancelRequest): Promise<boolean> {
    assertRunId(runId);
    // An empty owner: a request for whichever owner holds the token.
    const args = [String(request.token), request.reason, String(request.at), request.owner ?? ""];
    const reply = await this.#leaseCall(runId, runScript(this.#redis, "taskloomRequestCancel", REQUEST_CANCEL, [this.#leaseKey(runId)], args));
    return Number(reply) === 1;
  }

  async releaseLease(lease: Lease): Promise<void> {
    assertRunId(lease.runId);
    await this.#leaseCall(lease.runId, runScript(this.#redis, "taskloomRelease", RELEASE, [this.#leaseKey(lease.runId)], [lease.owner, String(lease.token)]));
  }

  /**
   * The run's lease, expired or not, or undefined when none is held (given
   * back, or its run deleted). A lease expired by Redis's clock alone reads
   * with Redis's deadline as its `expiresAt` (`leaseAt`), so `getRun` calls
   * its run stalled as soon as a taker could take it.
   */
  async readLease(runId: string): Promise<Lease | undefined> {
    assertRunId(runId);
    const key = this.#leaseKey(runId);
    const [raw, clock] = (await runScript(this.#redis, "taskloomReadLease", READ_LEASE, [key], [])) as [string | null, number];
    if (raw === null) return undefined;
    const problem = leaseProblem(raw);
    if (problem !== undefined) throw this.#corrupt(key, runId, problem);
    return leaseAt(raw, Number(clock));
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client?.owned) await closeClient(client.client);
  }
}

/** Why `text` (a lease key's value) is not a lease, as the file stores check theirs, or undefined when it is one. */
function leaseProblem(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "the lease is not JSON";
  }
  return checkLease(value);
}
