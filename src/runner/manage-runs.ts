/**
 * Reading and managing stored runs without running them: `listRuns`,
 * `getRun` and `deleteRun`; `deleteRunIf`, the delete decided under the
 * run's lease, is in `delete-run-if.ts`. Each takes `{ store }` (the
 * default store when omitted), so the same calls serve users, the CLI and
 * tests.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import type { PendingWait } from "../state/waits.js";
import { InvalidOptionError } from "../errors.js";
import { RunNotFoundError } from "./errors.js";
import type { RunQuery, RunStore } from "../persistence/run-store.js";
import { nodeRecords } from "../state/node-table.js";
import type { ErrorRecord, NodeRecord, RunSession, RunSummary } from "../state/records.js";
import { RUN_STATUSES, type RunStatus } from "../state/status.js";
import { defaultStore } from "./default-store.js";
import { assertRunId } from "../core/run-id.js";
import { assertStore } from "./run-options.js";
import { valueText } from "../core/text.js";
import { childRunsOf } from "./run-children.js";
import { surfaceChildWaits } from "./child-runs.js";
import { countNodes } from "../state/run-summary.js";
import { SnapshotCorruptError, UnsafeStoreFileError } from "../persistence/errors.js";
import type { LeaseHolder } from "../state/lease-holder.js";
import { claimsDriver, readLiveness, type RunLiveness } from "./run-liveness.js";

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

/** The store of `options`, after refusing keys not in `known` (`what` names the call); `delete-run-if.ts` finds its store so too. */
export function storeOf(what: string, options: StoreOption | undefined, known: readonly string[]): RunStore {
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
