/**
 * Child runs as the store sees them: a run started by `ctx.run` records
 * its parent (`parentRunId`, in its meta and summary), so a parent's
 * children are the stored runs that name it. Read-only.
 *
 * @module
 */
import type { RunStore } from "../persistence/run-store.js";
import type { RunSummary } from "../state/records.js";

/** The stored runs whose parent is `runId`, oldest first (runs the store cannot read are skipped). */
export async function childRunsOf(store: RunStore, runId: string): Promise<RunSummary[]> {
  const all = await store.list({ onProblem: () => undefined });
  return all.filter((s) => s.parentRunId === runId).sort((a, b) => a.createdAt - b.createdAt || (a.runId < b.runId ? -1 : 1));
}
