/**
 * The summary of a run: its node counts and the fields `list()` shows,
 * made from a run state (O(nodes), at status changes only) or from a meta
 * and counts known from elsewhere (a resume's start, a journal append
 * that carries them).
 *
 * @module
 */
import { nodeRecords } from "./node-table.js";
import type { NodeRecord, RunMeta, RunSummary } from "./records.js";
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

/** Node counts being added up ({@link countNode}). */
export type NodeTally = { -readonly [K in keyof Required<NodeCounts>]: number };

/** Counts node activations: all, settled (succeeded or skipped), succeeded, failed. */
export function countNodes(state: RunState): Required<NodeCounts> {
  const counts: NodeTally = { nodeCount: 0, settledCount: 0, succeededCount: 0, failedCount: 0 };
  for (const n of nodeRecords(state.nodes)) countNode(counts, n);
  return counts;
}

/** Adds one activation to `counts`, as {@link countNodes} counts it. */
export function countNode(counts: NodeTally, node: NodeRecord): void {
  counts.nodeCount += 1;
  if (node.status === "succeeded") {
    counts.succeededCount += 1;
    counts.settledCount += 1;
  } else if (node.status === "skipped") counts.settledCount += 1;
  else if (node.status === "failed") counts.failedCount += 1;
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
