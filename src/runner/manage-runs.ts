/**
 * Reading and managing stored runs without running them: `listRuns`,
 * `getRun`, `deleteRun`. Each takes `{ store }` (the default store when
 * omitted), so the same calls serve users, the CLI and tests.
 *
 * @module
 */
import type { PendingWait } from "../errors.js";
import { RunNotFoundError } from "../errors.js";
import type { RunQuery, RunStore } from "../persistence/run-store.js";
import { nodeRecords } from "../state/node-table.js";
import type { ErrorRecord, NodeRecord, RunSummary } from "../state/records.js";
import type { RunStatus } from "../state/status.js";
import { defaultStore } from "./default-store.js";
import { assertRunId } from "./run-id.js";
import { assertStore } from "./run-options.js";

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
  /** Every node activation, in start order (never-started ones last). */
  readonly nodes: readonly NodeRecord[];
  readonly sessionId?: string;
  readonly agentId?: string;
  readonly appId?: string;
}

function storeOf(options: StoreOption | undefined): RunStore {
  if (options?.store !== undefined) {
    assertStore(options.store);
    return options.store;
  }
  return defaultStore();
}

/**
 * Lists stored runs, newest first. A run whose stored files are corrupt
 * or unsafe is skipped and handed to `onProblem` (a process warning by
 * default), so one bad run never hides the others.
 *
 * @example
 * ```ts
 * const unfinished = await listRuns({ status: ["failed", "cancelled"], store });
 * const runs = await listRuns({ store, onProblem: (e) => console.warn(e.file, e.message) });
 * ```
 */
export function listRuns(options: RunQuery & StoreOption = {}): Promise<RunSummary[]> {
  const store = storeOf(options);
  return store.list({
    ...(options.status !== undefined && { status: options.status }),
    ...(options.onProblem !== undefined && { onProblem: options.onProblem }),
  });
}

/**
 * Reads a stored run: status, node records (status, attempts, outputs,
 * errors, timing), outputs and open waits. Throws `RunNotFoundError`.
 *
 * @example
 * ```ts
 * const run = await getRun("etl-2026-11-23", { store });
 * for (const n of run.nodes) console.log(n.id, n.status, n.attempts);
 * ```
 */
export async function getRun(runId: string, options: StoreOption = {}): Promise<RunDetails> {
  assertRunId(runId);
  const stored = await storeOf(options).load(runId);
  if (!stored) throw new RunNotFoundError(runId);
  const { meta } = stored.state;
  const nodes = [...nodeRecords(stored.state.nodes)].sort(
    (a, b) => (a.startedAt ?? Infinity) - (b.startedAt ?? Infinity) || (a.id < b.id ? -1 : 1),
  );
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
    waits: meta.waits,
    nodes,
    ...(meta.sessionId !== undefined && { sessionId: meta.sessionId }),
    ...(meta.agentId !== undefined && { agentId: meta.agentId }),
    ...(meta.appId !== undefined && { appId: meta.appId }),
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
export function deleteRun(runId: string, options: StoreOption = {}): Promise<boolean> {
  assertRunId(runId);
  return storeOf(options).delete(runId);
}
