/**
 * Reading and managing stored runs without running them: `listRuns`,
 * `getRun`, `deleteRun`. Each takes `{ store }` (the default store when
 * omitted), so the same calls serve users, the CLI and tests.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import type { PendingWait } from "../state/waits.js";
import { InvalidOptionError } from "../errors.js";
import { RunNotFoundError } from "./errors.js";
import type { RunQuery, RunStore } from "../persistence/run-store.js";
import { nodeRecords } from "../state/node-table.js";
import type { ErrorRecord, NodeRecord, RunSummary } from "../state/records.js";
import { RUN_STATUSES, type RunStatus } from "../state/status.js";
import { defaultStore } from "./default-store.js";
import { assertRunId } from "../core/run-id.js";
import { assertStore } from "./run-options.js";
import { valueText } from "../core/text.js";
import { childRunsOf } from "./run-children.js";

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
  /** The run's deadline (epoch ms), when it was started with `timeoutMs`. */
  readonly deadline?: number;
  /** The run that started this one with `ctx.run`, for a child run. */
  readonly parentRunId?: string;
  /** The child runs this run started with `ctx.run`, oldest first (`getRun` always sets it; empty when there are none). */
  readonly children?: readonly RunSummary[];
}

const STORE_OPTION_KEYS = optionKeys<StoreOption>({ store: true });
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
 * @example
 * ```ts
 * const unfinished = await listRuns({ status: ["failed", "cancelled"], store });
 * const runs = await listRuns({ store, onProblem: (e) => console.warn(e.file, e.message) });
 * ```
 */
export async function listRuns(options: RunQuery & StoreOption = {}): Promise<RunSummary[]> {
  const store = storeOf("listRuns", options, LIST_OPTION_KEYS);
  assertStatusQuery(options.status);
  if (options.onProblem !== undefined && typeof options.onProblem !== "function") {
    throw new InvalidOptionError("onProblem", "must be a function");
  }
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
  const store = storeOf("getRun", options, STORE_OPTION_KEYS);
  const stored = await store.load(runId);
  if (!stored) throw new RunNotFoundError(runId);
  const { meta } = stored.state;
  const nodes = [...nodeRecords(stored.state.nodes)].sort((a, b) => (a.startedAt ?? Infinity) - (b.startedAt ?? Infinity) || (a.id < b.id ? -1 : 1));
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
    ...(meta.deadline !== undefined && { deadline: meta.deadline }),
    ...(meta.parentRunId !== undefined && { parentRunId: meta.parentRunId }),
    children: await childRunsOf(store, runId),
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
