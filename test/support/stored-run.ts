/**
 * A run stored as a driver that is gone left it: created (pending, or in
 * the status given) and never driven since, with the run mark given (or
 * none, as a run stored before marks were kept). For tests that resume,
 * retrieve or take over such a run.
 */
import type { TaskGraph } from "../../src/index.js";
import type { RunStore } from "../../src/persistence/run-store.js";
import { createRunState, setRunStatus } from "../../src/state/run-state.js";
import type { RunStatus } from "../../src/state/status.js";

/** What {@link storeLeftRun} stores besides the graph and run id. */
export interface LeftRun {
  /** The run's mark (`RunMeta.instance`); none when absent. */
  readonly instance?: string;
  readonly inputs?: unknown;
  /** @default "pending" */
  readonly status?: RunStatus;
}

/** Stores run `runId` of `graph` as described (see the module comment). */
export async function storeLeftRun(
  store: RunStore,
  graph: Pick<TaskGraph<unknown, unknown>, "name" | "fingerprint" | "nodeIds">,
  runId: string,
  left: LeftRun = {},
): Promise<void> {
  const now = Date.now();
  const created = createRunState({
    runId,
    graphName: graph.name,
    fingerprint: graph.fingerprint,
    inputs: left.inputs,
    nodeIds: graph.nodeIds(),
    now,
    ...(left.instance !== undefined && { instance: left.instance }),
  });
  await store.writeSnapshot(left.status === undefined || left.status === "pending" ? created : setRunStatus(created, left.status, now), 0);
}
