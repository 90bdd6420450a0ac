/**
 * `MemoryStore`: a {@link RunStore} in this process's memory, for tests and
 * runs that need no durability. It keeps the same contract as a durable
 * store (snapshots, journal, leases), so a test against it means the same
 * as one against `LowdbStore`. Values are kept by reference, not
 * serialized: runs are immutable data, so nothing can change them.
 *
 * @module
 */
import { RunLockedError } from "./errors.js";
import type { RunState } from "../state/run-state.js";
import type { NodeCounts } from "../state/run-summary.js";
import { summarize, summaryOf } from "../state/run-summary.js";
import type { JournalRecord, RunSummary } from "../state/records.js";
import { thisHost } from "../core/host.js";
import { assertMayDelete, cancelReaches, canTakeOver, grantOver, keptCancel, leaseLost, stillHeld } from "./lease-rules.js";
import { replay, toSnapshotDocument, type SnapshotDocument } from "./replay.js";
import type { CancelRequest, Lease, LeaseRequest, LoadHint, RunQuery, RunStore, StoredRun } from "./run-store.js";
import { matchesQuery } from "./run-query.js";

interface MemoryRun {
  snapshot: SnapshotDocument;
  summary: RunSummary;
  journal: JournalRecord[];
  /** The node counts an append with a `run` record gave since the snapshot (RunStore.append's `counts`). */
  counts?: NodeCounts;
}

/**
 * Keeps runs in memory; they are gone when the process exits.
 *
 * @example
 * ```ts
 * const store = new MemoryStore();
 * await runAsync(g, inputs, { store, runId: "r1" });
 * console.log(await listRuns({ store }));
 * ```
 */
export class MemoryStore implements RunStore {
  readonly #runs = new Map<string, MemoryRun>();
  readonly #leases = new Map<string, Lease>();
  /** The highest token each run's lease had (kept after it is given back, until the run is deleted): the next holder's is above it. */
  readonly #tops = new Map<string, number>();
  readonly #host = thisHost();

  async writeSnapshot(state: RunState, seq: number, lease?: Lease): Promise<void> {
    if (lease) this.#fence(state.meta.runId, lease);
    const snapshot = toSnapshotDocument(state, seq);
    const prior = this.#runs.get(state.meta.runId);
    this.#runs.set(state.meta.runId, {
      snapshot,
      summary: summarize(state),
      journal: prior ? prior.journal.filter((r) => r.seq > seq) : [],
    });
  }

  async append(runId: string, records: readonly JournalRecord[], lease?: Lease, counts?: NodeCounts): Promise<void> {
    if (lease) this.#fence(runId, lease);
    const run = this.#runs.get(runId);
    if (!run) throw new Error(`taskloom: cannot append to run "${runId}": it has no snapshot yet`);
    for (const r of records) run.journal.push(r);
    if (counts !== undefined && records.some((r) => r.kind === "run")) run.counts = { ...counts };
  }

  async load(runId: string, hint?: LoadHint): Promise<StoredRun | undefined> {
    const run = this.#runs.get(runId);
    if (!run) return undefined;
    return replay(run.snapshot, run.journal, undefined, hint?.layout);
  }

  async list(query: RunQuery = {}): Promise<RunSummary[]> {
    const out: RunSummary[] = [];
    for (const run of this.#runs.values()) {
      const latest = latestSummary(run);
      if (matchesQuery(latest, query)) out.push(latest);
    }
    return out.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  async delete(runId: string, lease?: Lease): Promise<boolean> {
    assertMayDelete(runId, this.#leases.get(runId), lease, this.#host, Date.now());
    this.#leases.delete(runId);
    this.#tops.delete(runId);
    return this.#runs.delete(runId);
  }

  async acquireLease(runId: string, request: LeaseRequest): Promise<Lease> {
    const current = this.#leases.get(runId);
    if (current && !canTakeOver(current, request, this.#host)) throw new RunLockedError(runId, current);
    const lease = grantOver(runId, request, current, this.#tops.get(runId) ?? 0);
    this.#leases.set(runId, lease);
    this.#tops.set(runId, lease.token);
    return lease;
  }

  async renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease> {
    const current = this.#leases.get(lease.runId);
    if (!current || current.owner !== lease.owner || current.token !== lease.token) {
      throw new RunLockedError(lease.runId, current ?? { ...lease, expiresAt: now });
    }
    const renewed = { ...current, expiresAt: now + ttlMs };
    this.#leases.set(lease.runId, renewed);
    return renewed;
  }

  async requestCancel(runId: string, request: CancelRequest): Promise<boolean> {
    const current = this.#leases.get(runId);
    if (!current || !cancelReaches(current, request)) return false;
    this.#leases.set(runId, { ...current, cancelRequested: keptCancel(request) });
    return true;
  }

  async releaseLease(lease: Lease): Promise<void> {
    const current = this.#leases.get(lease.runId);
    if (stillHeld(current, lease)) this.#leases.delete(lease.runId);
  }

  async readLease(runId: string): Promise<Lease | undefined> {
    return this.#leases.get(runId);
  }

  async close(): Promise<void> {}

  /** Throws `LeaseLostError` unless `lease` is still the run's lease. */
  #fence(runId: string, lease: Lease): void {
    const current = this.#leases.get(runId);
    if (!stillHeld(current, lease)) throw leaseLost(lease, current);
  }
}

function latestSummary(run: MemoryRun): RunSummary {
  let meta = run.snapshot.meta;
  for (const r of run.journal) if (r.kind === "run") meta = r.run;
  if (meta === run.snapshot.meta && run.counts === undefined) return run.summary;
  return summaryOf(meta, run.counts ?? run.summary);
}
