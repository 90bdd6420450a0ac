/**
 * The `RunStore` interface: where runs are kept. A store holds, per run, a
 * full snapshot (the state at some journal sequence number) and a journal
 * of the records appended since. Loading replays the journal over the
 * snapshot. Appending costs the size of the records, never the size of the
 * run; the persistence observer decides when a full snapshot is due
 * (compaction) so that replay stays short.
 *
 * Stores also hold leases, so that two processes never drive the same run.
 * Every store runs the conformance suite in `test/store-conformance.ts`.
 *
 * @module
 */
import type { SnapshotCorruptError, UnsafeStoreFileError } from "./errors.js";
import type { LeaseHolder } from "../state/lease-holder.js";
import type { RunState } from "../state/run-state.js";
import type { NodeCounts } from "../state/run-summary.js";
import type { JournalRecord, RunSummary } from "../state/records.js";
import type { RunStatus } from "../state/status.js";

/**
 * What the caller of {@link RunStore.load} knows of the run it loads (the
 * runner, resuming a run of a graph), so that a store may spare work. A
 * store may ignore it: the run loaded is the same either way.
 */
export interface LoadHint {
  /**
   * The node ids the run's records are expected to start with, in order
   * (a graph's topological `order`, as a run of the graph holds them), and
   * the position of each: `positions.get(order[p]) === p` for every p, and
   * nothing else in it (the graph's own map). When the stored records
   * start with exactly these ids, the loaded table takes `positions` as its
   * id index instead of building a map of its own (for a 10,000-node run,
   * about a fifth of its load), and the ids need no other check of being
   * unique (a graph's are); a table that does not is indexed as without it.
   */
  readonly layout?: { readonly order: readonly string[]; readonly positions: ReadonlyMap<string, number> };
}

/** A run as loaded from a store. */
export interface StoredRun {
  /** The state: the snapshot with the journal replayed over it. */
  readonly state: RunState;
  /** The sequence number of the last record applied (0 for a bare snapshot). */
  readonly seq: number;
  /** Where the snapshot was read from (a file, a key), for errors that name it. */
  readonly source?: string;
  /**
   * How many journal records were replayed over the snapshot (absent from
   * stores made before it was reported: then taken as 0). The persistence
   * observer counts them towards its next compaction.
   */
  readonly journalRecords?: number;
}

/**
 * Who a lease holder is beyond its host name and pid, on Linux: a pid
 * means one process only within one boot of one machine and one PID
 * namespace (containers that share a host name and a store volume each
 * have their own pids), and only until it is reused. `lease-rules.ts`
 * takes a lease over at once only when every field shows the holder is a
 * dead process of this very boot and namespace; when one is missing, it
 * waits for the lease to expire. Read with `processIdentity()`.
 */
export interface ProcessIdentity {
  /** `/proc/sys/kernel/random/boot_id`: changes at every boot. */
  readonly bootId?: string;
  /** The PID namespace, as `readlink /proc/self/ns/pid` says (`pid:[4026531836]`). */
  readonly pidNs?: string;
  /** The process's start time (field 22 of `/proc/<pid>/stat`, clock ticks since boot): a reused pid has another. */
  readonly startTime?: string;
}

/** What a driver asks for when it takes a run's lease. */
export interface LeaseRequest {
  /** A unique id of the driver (one per `run()` call). */
  readonly owner: string;
  /** The driver's process id. */
  readonly pid: number;
  /** The driver's host name. */
  readonly host: string;
  /** How long the lease lasts without renewal (ms). */
  readonly ttlMs: number;
  /** The current time (epoch ms). */
  readonly now: number;
  /** Take the lease even from a live holder (the caller knows it is dead). @default false */
  readonly takeover?: boolean;
  /** The driver's process identity (`processIdentity()`); without it, a dead holder is only replaced once its lease expires. */
  readonly identity?: ProcessIdentity;
}

/** A lease held on a run. */
export interface Lease extends LeaseHolder {
  /** The run. */
  readonly runId: string;
  /** Grows by one each time the lease changes hands (a fencing token). */
  readonly token: number;
  /** The holder's process identity, when its request gave one. */
  readonly identity?: ProcessIdentity;
  /**
   * Set by {@link RunStore.requestCancel}: another process asked the
   * holder to cancel the run. The holder sees it in the lease its next
   * renewal returns; a lease granted anew never carries it.
   */
  readonly cancelRequested?: CancelRequest;
}

/** A request to cancel a run, addressed to the driver that holds its lease with `token`. */
export interface CancelRequest {
  /** The token of the lease the request is for: a later holder of the run never sees it. */
  readonly token: number;
  /**
   * The owner of that lease, when the asker knows it: the request is then
   * for that holder only. A run deleted and started again under the same
   * id starts its tokens again at 1, so a token alone could name the new
   * run's holder. Checked, not kept: `cancelRequested` holds token, reason
   * and time.
   */
  readonly owner?: string;
  /** Why the run is cancelled. */
  readonly reason: string;
  /** When it was asked (epoch ms). */
  readonly at: number;
}

/** Why {@link RunStore.list} skipped a stored run: its file cannot be read, or is not safe to read. */
export type StoreProblem = SnapshotCorruptError | UnsafeStoreFileError;

/** A filter for {@link RunStore.list}. */
export interface RunQuery {
  /** Only runs with this status (or any of these). */
  readonly status?: RunStatus | readonly RunStatus[];
  /**
   * Called for each stored run that cannot be listed (its summary is
   * corrupt or unsafe); the run is skipped and the others are listed.
   * @default a process warning (`process.emitWarning`)
   */
  readonly onProblem?: ((problem: StoreProblem) => void) | undefined;
}

/**
 * Where runs are kept. Implement this to keep runs somewhere else; run the
 * conformance suite against the new store.
 *
 * @example
 * ```ts
 * const store: RunStore = new MemoryStore();
 * await runAsync(g, inputs, { store });
 * ```
 */
export interface RunStore {
  /**
   * Where the store keeps its runs, as a string that is the same for every
   * store object on the same storage (`LowdbStore`: `lowdb:<absolute folder>`;
   * `RedisStore`: server and key prefix). `resolveWait` uses it to recognise
   * a run this process drives whatever store object the caller passes.
   * Leave it undefined when no other object can see this one's runs
   * (`MemoryStore`): the object itself is then the location.
   */
  readonly location?: string | undefined;
  /**
   * Writes a full snapshot of a run (creating the run if it is new). After
   * it resolves, records with `seq` at or below `seq` are no longer needed:
   * the store may drop them. Atomic: a crash leaves the old or the new snapshot.
   *
   * Fencing: a writer that holds the run's lease passes it as `lease`, and
   * the store refuses the write with `LeaseLostError` (writing nothing)
   * unless that lease (owner and token) is still the run's current one, so
   * a driver that was taken over can never overwrite its successor's
   * state, even through the same store object. A write without a lease
   * (tools, tests) is not fenced.
   */
  writeSnapshot(state: RunState, seq: number, lease?: Lease): Promise<void>;
  /**
   * Appends journal records (in order, `seq` increasing) to a run that
   * has a snapshot. Resolves once they are stored. A crash during an append
   * may lose the records of that append, never earlier ones. Fenced by
   * `lease` as {@link RunStore.writeSnapshot} is.
   *
   * The run's summary (what {@link RunStore.list} returns) follows the last
   * `run` record among `records`, keeping the node counts of the last
   * snapshot, or taking `counts` when given: a run that ends by an append
   * instead of a snapshot (a resume that changed little) passes the counts
   * of its final state. `counts` is ignored when `records` holds no `run`
   * record. A store made before `counts` existed may ignore it: its
   * summary's counts then lag until the next snapshot.
   */
  append(runId: string, records: readonly JournalRecord[], lease?: Lease, counts?: NodeCounts): Promise<void>;
  /**
   * Loads a run, or undefined when there is none. Throws `SnapshotCorruptError` when it cannot be read.
   * `hint` (optional, and a store may ignore it) says what the caller knows of the run ({@link LoadHint}).
   */
  load(runId: string, hint?: LoadHint): Promise<StoredRun | undefined>;
  /** Lists stored runs, newest first by `updatedAt`. */
  list(query?: RunQuery): Promise<RunSummary[]>;
  /**
   * Deletes a run and its lease; false when there was none. Throws
   * `RunLockedError` while a live driver holds the lease.
   *
   * With `lease`, the holder of that lease deletes the run: allowed only
   * while `lease` is still the run's current lease (owner and token,
   * expired or not: a lease nobody took over is still its holder's, as for
   * fenced writes), refused with `RunLockedError` otherwise (another driver
   * took the run over, the lease was given back, or the run has no lease),
   * deleting nothing. A caller that took the lease, read the run and found
   * that it may go (`taskloom gc`) so deletes exactly what it read: no
   * driver can change the run between the read and the delete. A store
   * made before `lease` existed may ignore it: its delete then refuses the
   * caller's own live lease as any live driver's, and deletes nothing
   * (`deleteRunIf` reports such a store, and keeps the run).
   *
   * @example
   * ```ts
   * const lease = await store.acquireLease(runId, request);
   * const run = await store.load(runId);
   * if (run && run.state.meta.status === "failed") await store.delete(runId, lease);
   * else await store.releaseLease(lease);
   * ```
   */
  delete(runId: string, lease?: Lease): Promise<boolean>;
  /**
   * Takes the run's lease, or throws `RunLockedError` naming the holder.
   * A lease that expired, or whose holder is provably a dead process on
   * this host (`lease-rules.ts`), is taken over; a lease the same owner
   * holds is renewed, keeping its token and a cancel request made for it.
   */
  acquireLease(runId: string, request: LeaseRequest): Promise<Lease>;
  /** Extends a lease; throws `RunLockedError` when another driver took it over. */
  renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease>;
  /**
   * Gives a lease up: a no-op unless it is still the run's lease (owner and
   * token: an owner's lease from before another driver took the run gives
   * back nothing). The next lease's token is above it.
   */
  releaseLease(lease: Lease): Promise<void>;
  /**
   * Asks the driver of run `runId` to cancel it (`cancelRun`): when the
   * run's lease still has token `request.token`, sets its
   * `cancelRequested` (keeping owner, token and expiry) and resolves to
   * true; the holder's next {@link RunStore.renewLease} returns the lease
   * with it. Resolves to false, writing nothing, when the run has no
   * lease or another one. Optional for stores made before it; `cancelRun`
   * refuses a store without it only when it meets a live driver.
   */
  requestCancel?(runId: string, request: CancelRequest): Promise<boolean>;
  /**
   * The run's current lease as stored (expired or not), or undefined when
   * none is held: who drives the run, for readers such as `getRun` that
   * tell a live run from a crashed one. Reading it changes nothing.
   * Optional: a store without it reports no liveness.
   */
  readLease?(runId: string): Promise<Lease | undefined>;
  /** Releases files and handles; the store may be used again afterwards. */
  close(): Promise<void>;
}
