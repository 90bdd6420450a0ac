/**
 * The summary of a run: its node counts and the fields `list()` shows,
 * made from a run state (O(nodes), at status changes only) or from a meta
 * and counts known from elsewhere (a resume's start, a journal append
 * that carries them).
 *
 * @module
 */
import { nodeRecords } from "./node-table.js";
import type { NodeCounts, NodeRecord, RunMeta, RunSummary } from "./records.js";
import type { RunState } from "./run-state.js";

/** Re-exported from `records.ts`, where it lives so that `run-state.ts` can name it without importing this module. */
export type { NodeCounts } from "./records.js";

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

/**
 * The {@link RunSummary} of a run meta, with node counts known from
 * elsewhere (a prior summary). Optional fields are set when present, in
 * the order the summary lists them (so its text is the same as ever), not
 * spread in: a store makes a summary at each snapshot and at a run's end,
 * mostly before the code is optimized, where each spread of a condition is
 * a call into the runtime.
 */
export function summaryOf(meta: RunMeta, counts: NodeCounts): RunSummary {
  const summary: { -readonly [K in keyof RunSummary]: RunSummary[K] } = {
    runId: meta.runId,
    graphName: meta.graphName,
    status: meta.status,
    nodeCount: counts.nodeCount,
    settledCount: counts.settledCount,
  } as RunSummary;
  if (counts.succeededCount !== undefined) summary.succeededCount = counts.succeededCount;
  if (counts.failedCount !== undefined) summary.failedCount = counts.failedCount;
  summary.createdAt = meta.createdAt;
  summary.updatedAt = meta.updatedAt;
  summary.waits = meta.waits;
  if (meta.sessionId !== undefined) summary.sessionId = meta.sessionId;
  if (meta.agentId !== undefined) summary.agentId = meta.agentId;
  if (meta.appId !== undefined) summary.appId = meta.appId;
  if (meta.parentRunId !== undefined) summary.parentRunId = meta.parentRunId;
  if (meta.parentInstance !== undefined) summary.parentInstance = meta.parentInstance;
  return summary;
}
