/**
 * Child runs as the store sees them: a run started by `ctx.run` records
 * its parent (`parentRunId`, and the parent's mark `parentInstance`, in
 * its meta and summary), so a parent's children are the stored runs that
 * name it, and not those of an earlier run of its id deleted since.
 * Read-only.
 *
 * @module
 */
import type { RunStore } from "../persistence/run-store.js";
import type { RunSummary } from "../state/records.js";

/**
 * The stored runs whose parent is run `runId`, oldest first (runs the
 * store cannot read are skipped). `instance` is that run's mark
 * (`RunMeta.instance`): when given, a child started by an earlier run of
 * the id, deleted since (another `parentInstance`, or none), is not one.
 */
export async function childRunsOf(store: RunStore, runId: string, instance: string | undefined): Promise<RunSummary[]> {
  const all = await store.list({ onProblem: () => undefined });
  return all
    .filter((s) => s.parentRunId === runId && (instance === undefined || s.parentInstance === instance))
    .sort((a, b) => a.createdAt - b.createdAt || (a.runId < b.runId ? -1 : 1));
}
