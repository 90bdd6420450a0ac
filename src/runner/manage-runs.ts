/**
 * Why this file is 418 lines (174 of them comments, this one 29; 244 of
 * code): it is one concept, the public calls on stored runs that do not
 * drive them, and all four check their options and find their store the
 * same way (`storeOf`). Most of the comments are the TSDoc and examples
 * of those four functions and their option and result types.
 * `deleteRunIf` (about 120 lines with its comments) is the part that
 * could stand alone; it stays beside `deleteRun`, its unconditional form,
 * whose contract (`RunStore.delete`) it uses with a lease.
 *
 * Reading and managing stored runs without running them: `listRuns`,
 * `getRun`, `deleteRun`, and `deleteRunIf` (`taskloom gc`'s delete). Each
 * takes `{ store }` (the default store when omitted), so the same calls
 * serve users, the CLI and tests.
 *
 * Deleting what was read. A caller that lists runs, then deletes those
 * that qualify, must not delete a run that changed in between: a resume
 * (`runAsync(graph, inputs, { runId })` in another process) that starts
 * and ends between the listing and the delete leaves no lease behind, so
 * `deleteRun` alone would delete its fresh result. `deleteRunIf` decides
 * under the run's lease instead: it takes the lease, reads the run, asks
 * the caller whether it still qualifies, and deletes it with that lease
 * (`RunStore.delete`'s `lease`: refused unless it is still the run's), so
 * no driver can come between the read and the delete. Its lease is a
 * resolver's short lease (`delivery-lease.ts`): a driver that starts
 * meanwhile waits for it instead of failing with `RunLockedError`.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import type { PendingWait } from "../state/waits.js";
import { InvalidOptionError } from "../errors.js";
import { RunNotFoundError } from "./errors.js";
import type { Lease, RunQuery, RunStore } from "../persistence/run-store.js";
import { nodeRecords } from "../state/node-table.js";
import type { ErrorRecord, NodeRecord, RunMeta, RunSession, RunSummary } from "../state/records.js";
import { RUN_STATUSES, type RunStatus } from "../state/status.js";
import { defaultStore } from "./default-store.js";
import { assertRunId } from "../core/run-id.js";
import { assertStore } from "./run-options.js";
import { valueText } from "../core/text.js";
import { childRunsOf } from "./run-children.js";
import { surfaceChildWaits } from "./child-runs.js";
import { countNodes } from "../state/run-summary.js";
import { RunLockedError, SnapshotCorruptError, UnsafeStoreFileError } from "../persistence/errors.js";
import type { LeaseHolder } from "../state/lease-holder.js";
import { claimsDriver, readLiveness, type RunLiveness } from "./run-liveness.js";
import { randomUUID } from "node:crypto";
import { acquireAfterDeliveries, DELIVERY_OWNER_PREFIX } from "./delivery-lease.js";
import { leaseRequest } from "./run-lease.js";

/** Where to look. */
export interface StoreOption {
  /** The store. @default the default `LowdbStore` */
  readonly store?: RunStore;
}

/** A stored run in full. */
export interface RunDetails {
  readonly runId: string;
  readonly graphName: string;
  readonly fingerprint: string;
  readonly status: RunStatus;
  readonly inputs: unknown;
  /** The graph outputs, when the run succeeded. */
  readonly outputs?: unknown;
  /** Why the run failed or was cancelled. */
  readonly error?: ErrorRecord;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly startedAt?: number;
  readonly endedAt?: number;
  /** How many times the run was started (1 plus resumes). */
  readonly starts: number;
  readonly waits: readonly PendingWait[];
  /**
   * Every node activation, in start order (never-started ones last), or
   * in dependency order with `{ order: "dependency" }`.
   */
  readonly nodes: readonly NodeRecord[];
  readonly sessionId?: string;
  readonly agentId?: string;
  readonly appId?: string;
  /** The run's deadline (epoch ms), when it was started with `timeoutMs`. */
  readonly deadline?: number;
  /** The run that started this one with `ctx.run`, for a child run. */
  readonly parentRunId?: string;
  /** The run's random mark (`RunMeta.instance`; `jobIdOf` names its BullMQ jobs with it); absent for runs stored before it was kept. */
  readonly instance?: string;
  /** For a child run: its parent's mark when it was created (`RunMeta.parentInstance`). */
  readonly parentInstance?: string;
  /** The child runs this run started with `ctx.run`, oldest first (`getRun` always sets it; empty when there are none). */
  readonly children?: readonly RunSummary[];
  /**
   * For a run stored as `running` or `pending` on a store that reports
   * leases: whether its driver is alive (`live`), provably dead
   * (`crashed`: SIGKILLed, say) or gone silent (`stalled`: its lease
   * expired). A crashed or stalled run is continued with `resume`.
   */
  readonly liveness?: RunLiveness;
  /** Who holds the lease of a run stored as `running` or `pending` (absent when no lease is left). */
  readonly holder?: LeaseHolder;
  /** The processes that drove the run, oldest first (absent for runs stored before they were kept). */
  readonly sessions?: readonly RunSession[];
}

/** Options of {@link getRun}. */
export interface GetRunOptions extends StoreOption {
  /**
   * The order of `nodes`: `"start"`, by when each activation last started
   * (never-started ones last); or `"dependency"`, the order activations
   * were created in, where every one comes after those it depends on
   * (nodes that a later version of the graph added, when a resume allowed
   * the change, come last).
   * @default "start"
   */
  readonly order?: "start" | "dependency";
}

/**
 * A run as {@link listRuns} lists it: its stored summary, with node counts
 * that agree with {@link getRun} (a crashed run's stored summary may lag
 * behind its journal) and, while it claims a driver, its liveness.
 */
export interface RunListing extends RunSummary {
  /** Activations that succeeded. */
  readonly succeededCount: number;
  /** Activations that failed. */
  readonly failedCount: number;
  /** As {@link RunDetails.liveness}. */
  readonly liveness?: RunLiveness;
}

const STORE_OPTION_KEYS = optionKeys<StoreOption>({ store: true });
const GET_OPTION_KEYS = optionKeys<GetRunOptions>({ store: true, order: true });
const LIST_OPTION_KEYS = optionKeys<RunQuery & StoreOption>({ status: true, onProblem: true, store: true });

/** The store of `options`, after refusing keys not in `known` (`what` names the call). */
function storeOf(what: string, options: StoreOption | undefined, known: readonly string[]): RunStore {
  if (options !== undefined) assertKnownKeys(what, options, known);
  if (options?.store !== undefined) {
    assertStore(options.store);
    return options.store;
  }
  return defaultStore();
}

/** Throws {@link InvalidOptionError} unless `status` is undefined, a run status, or a list of them. */
function assertStatusQuery(status: unknown): asserts status is RunQuery["status"] {
  if (status === undefined) return;
  const list = Array.isArray(status) ? (status as unknown[]) : [status];
  for (const s of list) {
    if (!(RUN_STATUSES as readonly unknown[]).includes(s)) {
      throw new InvalidOptionError(
        "status",
        `of listRuns must be one of ${RUN_STATUSES.join(", ")}, or a list of them (got ${JSON.stringify(status) ?? valueText(status)})`,
      );
    }
  }
}

/**
 * Lists stored runs, newest first. Throws `InvalidOptionError` for a
 * status that is not a run status and for an unknown option. A run whose
 * stored files are corrupt or unsafe is skipped and handed to `onProblem`
 * (a process warning by default), so one bad run never hides the others.
 *
 * Each run has its succeeded, failed and total node counts, and a run
 * stored as `running` or `pending` has its `liveness`: `crashed` when its
 * driver died, `stalled` when its lease expired. Those runs (and runs
 * whose stored summary predates the counts) are read in full to count.
 *
 * @example
 * ```ts
 * const unfinished = await listRuns({ status: ["failed", "cancelled"], store });
 * const runs = await listRuns({ store, onProblem: (e) => console.warn(e.file, e.message) });
 * const crashed = runs.filter((r) => r.liveness === "crashed");
 * ```
 */
export async function listRuns(options: RunQuery & StoreOption = {}): Promise<RunListing[]> {
  const store = storeOf("listRuns", options, LIST_OPTION_KEYS);
  assertStatusQuery(options.status);
  if (options.onProblem !== undefined && typeof options.onProblem !== "function") {
    throw new InvalidOptionError("onProblem", "must be a function");
  }
  const onProblem = options.onProblem ?? ((problem: SnapshotCorruptError | UnsafeStoreFileError) => process.emitWarning(problem));
  const summaries = await store.list({
    ...(options.status !== undefined && { status: options.status }),
    onProblem,
  });
  const out: RunListing[] = [];
  for (const summary of summaries) out.push(await listing(store, summary, onProblem));
  return out;
}

/**
 * A summary with exact counts and liveness; reads the run only when the
 * summary cannot be trusted for them. A run whose files cannot be read is
 * still listed, with its summary's counts, and reported to `onProblem`:
 * a damaged run must not vanish from the listing.
 */
async function listing(store: RunStore, summary: RunSummary, onProblem: (problem: SnapshotCorruptError | UnsafeStoreFileError) => void): Promise<RunListing> {
  const live = claimsDriver(summary.status);
  let counts = summary;
  // A driver writes node counts into the summary at status changes only: while it runs (or after it crashed) they lag.
  if (live || summary.succeededCount === undefined || summary.failedCount === undefined) {
    try {
      const stored = await store.load(summary.runId);
      if (stored) counts = { ...summary, ...countNodes(stored.state) };
    } catch (err) {
      if (!(err instanceof SnapshotCorruptError || err instanceof UnsafeStoreFileError)) throw err;
      onProblem(err);
    }
  }
  const report = live ? await readLiveness(store, summary.runId, summary.status, Date.now()) : undefined;
  return {
    ...summary,
    nodeCount: counts.nodeCount,
    settledCount: counts.settledCount,
    succeededCount: counts.succeededCount ?? 0,
    failedCount: counts.failedCount ?? 0,
    ...(report !== undefined && { liveness: report.liveness }),
  };
}

/**
 * Reads a stored run: status, node records (status, attempts, outputs,
 * errors, timing), outputs and open waits, and for a run stored as
 * `running` its `liveness` (is its driver alive?). Throws `RunNotFoundError`.
 *
 * @example
 * ```ts
 * const run = await getRun("etl-2026-11-23", { store, order: "dependency" });
 * for (const n of run.nodes) console.log(n.id, n.status, n.attempts);
 * if (run.liveness === "crashed") await runAsync(graph, run.inputs, { runId: run.runId, store }); // resumes it
 * ```
 */
export async function getRun(runId: string, options: GetRunOptions = {}): Promise<RunDetails> {
  assertRunId(runId);
  const store = storeOf("getRun", options, GET_OPTION_KEYS);
  if (options.order !== undefined && options.order !== "start" && options.order !== "dependency") {
    throw new InvalidOptionError("order", `of getRun must be "start" or "dependency" (got ${JSON.stringify(options.order) ?? valueText(options.order)})`);
  }
  const stored = await store.load(runId);
  if (!stored) throw new RunNotFoundError(runId);
  const { meta } = stored.state;
  // Records are kept in creation order, where every activation follows those it depends on.
  const created = [...nodeRecords(stored.state.nodes)];
  const nodes =
    options.order === "dependency" ? created : created.sort((a, b) => (a.startedAt ?? Infinity) - (b.startedAt ?? Infinity) || (a.id < b.id ? -1 : 1));
  const report = await readLiveness(store, runId, meta.status, Date.now());
  return {
    runId: meta.runId,
    graphName: meta.graphName,
    fingerprint: meta.fingerprint,
    status: meta.status,
    inputs: meta.inputs,
    ...(meta.outputs !== undefined && { outputs: meta.outputs }),
    ...(meta.error !== undefined && { error: meta.error }),
    createdAt: meta.createdAt,
    updatedAt: meta.updatedAt,
    ...(meta.startedAt !== undefined && { startedAt: meta.startedAt }),
    ...(meta.endedAt !== undefined && { endedAt: meta.endedAt }),
    starts: meta.starts,
    waits: await surfaceChildWaits(store, meta.waits),
    nodes,
    ...(meta.sessionId !== undefined && { sessionId: meta.sessionId }),
    ...(meta.agentId !== undefined && { agentId: meta.agentId }),
    ...(meta.appId !== undefined && { appId: meta.appId }),
    ...(meta.deadline !== undefined && { deadline: meta.deadline }),
    ...(meta.parentRunId !== undefined && { parentRunId: meta.parentRunId }),
    ...(meta.instance !== undefined && { instance: meta.instance }),
    ...(meta.parentInstance !== undefined && { parentInstance: meta.parentInstance }),
    children: await childRunsOf(store, runId, meta.instance),
    ...(report !== undefined && { liveness: report.liveness }),
    ...(report?.holder !== undefined && { holder: report.holder }),
    ...(meta.sessions !== undefined && { sessions: meta.sessions }),
  };
}

/**
 * Deletes a stored run. Resolves to false when there was none; throws
 * `RunLockedError` when a live process is driving it.
 *
 * @example
 * ```ts
 * await deleteRun("etl-2026-11-23", { store });
 * ```
 */
export async function deleteRun(runId: string, options: StoreOption = {}): Promise<boolean> {
  assertRunId(runId);
  return storeOf("deleteRun", options, STORE_OPTION_KEYS).delete(runId);
}

/** Options of {@link deleteRunIf}. */
export interface DeleteRunIfOptions extends StoreOption {
  /**
   * Who deletes, named in the owner of the lease taken meanwhile
   * (`deliver:<by>:<uuid>`), which `RunLockedError` shows another process.
   * @default "deleteRunIf"
   */
  readonly by?: string;
  /** The time now (epoch ms, a finite number), for the lease. @default Date.now */
  readonly now?: () => number;
}

/**
 * What {@link deleteRunIf} did: `deleted`; `kept`, the run no longer
 * qualified when read under its lease; `gone`, there was no such run; or
 * `unsupported`, kept because the store's `delete` refused the lease
 * `deleteRunIf` held (a store written before `RunStore.delete` took one).
 */
export interface DeleteRunIfResult {
  readonly outcome: "deleted" | "kept" | "gone" | "unsupported";
  /** The run as it was read under its lease (absent when `gone`). */
  readonly meta?: RunMeta;
}

/** How long the lease of {@link deleteRunIf} lasts (ms): one load and one delete; if its process dies, the run is free after this. */
export const DELETE_IF_LEASE_TTL_MS = 10_000;

const DELETE_IF_OPTION_KEYS = optionKeys<DeleteRunIfOptions>({ store: true, by: true, now: true });

/**
 * Deletes run `runId` if it still qualifies when read under its lease:
 * takes the run's lease (waiting for a resolver's, as a driver does;
 * `RunLockedError` when a driver holds it), loads the run, calls
 * `qualifies` with its meta, and deletes it with that lease
 * (`RunStore.delete`), so that what is deleted is what `qualifies` saw.
 * Otherwise the lease is given back and the run kept. See the module
 * comment, "Deleting what was read". `qualifies` decides synchronously:
 * anything but true or false (an async function's promise) is an
 * `InvalidOptionError`, and the run is kept.
 *
 * A store that ignores `delete`'s lease (written before it) refuses the
 * live lease held here as any live driver's: the run is kept and the
 * result says `unsupported`. A lease held for half its time (a long load)
 * is renewed before the delete, so that whatever the store does with the
 * lease, no other driver holds the run when the delete comes: a store
 * that ignores the lease never deletes a run someone else changed.
 *
 * @example
 * ```ts
 * const cutoff = Date.now() - 30 * 86_400_000;
 * const { outcome } = await deleteRunIf("etl-2026-10-01", (meta) => meta.updatedAt < cutoff, { store, by: "gc" });
 * ```
 */
export async function deleteRunIf(runId: string, qualifies: (meta: RunMeta) => boolean, options: DeleteRunIfOptions = {}): Promise<DeleteRunIfResult> {
  assertRunId(runId);
  const store = storeOf("deleteRunIf", options, DELETE_IF_OPTION_KEYS);
  if (typeof qualifies !== "function") throw new InvalidOptionError("qualifies", "of deleteRunIf must be a function");
  const by = options.by ?? "deleteRunIf";
  if (typeof by !== "string" || by.length === 0) throw new InvalidOptionError("by", "of deleteRunIf must be a non-empty string");
  if (options.now !== undefined && typeof options.now !== "function") throw new InvalidOptionError("now", "of deleteRunIf must be a function");
  const clock = options.now ?? Date.now;
  // Checked at each call: a NaN time made a lease no store honours (a LowdbStore refused the delete as "unsupported").
  const now = (): number => {
    const t: unknown = clock();
    if (typeof t !== "number" || !Number.isFinite(t))
      throw new InvalidOptionError("now", `of deleteRunIf must return the time in epoch ms (got ${valueText(t)})`);
    return t;
  };
  const request = { ...leaseRequest({ ttlMs: DELETE_IF_LEASE_TTL_MS, now: now() }), owner: `${DELIVERY_OWNER_PREFIX}${by}:${randomUUID()}` };
  const lease = await acquireAfterDeliveries(store, runId, () => ({ ...request, now: now() }));
  let decided: { result: DeleteRunIfResult; giveBack: boolean };
  try {
    decided = await deleteUnder(store, lease, qualifies, now);
  } catch (error) {
    // A renewal keeps owner and token: the lease as taken is the one to give back.
    await store.releaseLease(lease).catch(() => undefined);
    throw error;
  }
  if (decided.giveBack) await store.releaseLease(lease);
  return decided.result;
}

/**
 * {@link deleteRunIf}'s decision, made under `lease`: what it did, and
 * whether the lease is still to be given back (not when it went with the
 * run).
 */
async function deleteUnder(
  store: RunStore,
  lease: Lease,
  qualifies: (meta: RunMeta) => boolean,
  now: () => number,
): Promise<{ result: DeleteRunIfResult; giveBack: boolean }> {
  const { runId } = lease;
  const meta = (await store.load(runId))?.state.meta;
  if (meta !== undefined && !verdict(qualifies(meta))) return { result: { outcome: "kept", meta }, giveBack: true };
  let held = lease;
  // Held for half its time or more (a long load): renewed, or refused when another driver took the run, so that no
  // taker can have it when the delete comes, whatever the store does with the lease.
  if (now() >= held.expiresAt - DELETE_IF_LEASE_TTL_MS / 2) held = await store.renewLease(held, DELETE_IF_LEASE_TTL_MS, now());
  try {
    // Without a run (deleted meanwhile), what taking its lease made (the lease, an empty run file) goes with it.
    await store.delete(runId, held);
  } catch (error) {
    if (!(error instanceof RunLockedError)) throw error;
    if (meta === undefined) return { result: { outcome: "gone" }, giveBack: true };
    // Refused. When the lease is still held (its renewal goes through), the store refused this very lease: it ignores
    // delete's lease. When it was lost, the renewal throws RunLockedError naming the driver that took the run.
    await store.renewLease(held, DELETE_IF_LEASE_TTL_MS, now());
    return { result: { outcome: "unsupported", meta }, giveBack: true };
  }
  return { result: meta === undefined ? { outcome: "gone" } : { outcome: "deleted", meta }, giveBack: false };
}

/**
 * What `qualifies` said, which must be true or false: an async predicate's
 * promise is truthy, so every run it was asked about was deleted, those it
 * would have kept too.
 */
function verdict(said: unknown): boolean {
  if (typeof said === "boolean") return said;
  const what = said instanceof Promise ? "a promise (is it an async function? decide synchronously)" : valueText(said);
  throw new InvalidOptionError("qualifies", `of deleteRunIf must return true or false (it returned ${what})`);
}
