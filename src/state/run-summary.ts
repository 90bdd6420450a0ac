/**
 * The summary of a run: its node counts and the fields `list()` shows,
 * made from a run state (O(nodes), at status changes only) or from a meta
 * and counts known from elsewhere (a resume's start, a journal append
 * that carries them).
 *
 * @module
 */
import { nodeRecords } from "./node-table.js";
import type { RunMeta, RunSummary } from "./records.js";
import type { RunState } from "./run-state.js";

/** Node counts of a run, as a {@link RunSummary} keeps them. */
export interface NodeCounts {
  /** Activations in all. */
  readonly nodeCount: number;
  /** Activations that succeeded or were skipped. */
  readonly settledCount: number;
  /** Activations that succeeded. */
  readonly succeededCount?: number;
  /** Activations that failed. */
  readonly failedCount?: number;
}

/** Counts node activations: all, settled (succeeded or skipped), succeeded, failed. */
export function countNodes(state: RunState): Required<NodeCounts> {
  let nodeCount = 0;
  let settledCount = 0;
  let succeededCount = 0;
  let failedCount = 0;
  for (const n of nodeRecords(state.nodes)) {
    nodeCount += 1;
    if (n.status === "succeeded" || n.status === "skipped") settledCount += 1;
    if (n.status === "succeeded") succeededCount += 1;
    else if (n.status === "failed") failedCount += 1;
  }
  return { nodeCount, settledCount, succeededCount, failedCount };
}

/** Makes the {@link RunSummary} of a state (O(nodes): call at status changes, not per transition). */
export function summarize(state: RunState): RunSummary {
  return summaryOf(state.meta, countNodes(state));
}

/** The {@link RunSummary} of a run meta, with node counts known from elsewhere (a prior summary). */
export function summaryOf(meta: RunMeta, counts: NodeCounts): RunSummary {
  return {
    runId: meta.runId,
    graphName: meta.graphName,
    status: meta.status,
    nodeCount: counts.nodeCount,
    settledCount: counts.settledCount,
    ...(counts.succeededCount !== undefined && { succeededCount: counts.succeededCount }),
    ...(counts.failedCount !== undefined && { failedCount: counts.failedCount }),
    createdAt: meta.createdAt,
    updatedAt: meta.updatedAt,
    waits: meta.waits,
    ...(meta.sessionId !== undefined && { sessionId: meta.sessionId }),
    ...(meta.agentId !== undefined && { agentId: meta.agentId }),
    ...(meta.appId !== undefined && { appId: meta.appId }),
    ...(meta.parentRunId !== undefined && { parentRunId: meta.parentRunId }),
  };
}
