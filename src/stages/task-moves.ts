/**
 * The moves one drive of a task's run made, read from the run's state
 * once the run has stopped, and only those that were saved: a move counts
 * (in the report's `moves`, as a `task:move` event) after it is saved,
 * never before.
 *
 * A move is a stage activation that succeeded with a route (the pathway
 * it chose). Each settle gets the run's next settle order (journaled with
 * it), so the moves of this drive are those settled after the last settle
 * order the run had when this drive started it (0 for a new run), in
 * settle order.
 *
 * Which of them are saved: every one when the run's end was saved (it
 * succeeded, or it waits: `runAsync` reports a failed final write
 * instead); else (it failed or was cancelled, when a failed final write
 * is not reported) every move whose target activation started, since
 * the engine starts it only once the move's record is durable (a target
 * may be marked as chosen by the move when the write failed: that alone
 * proves nothing). Any other
 * move is checked against the stored run (a rare path: a run stopped
 * between a move and its target's start).
 *
 * @module
 */
import { getNode, nodeRecords } from "../state/node-table.js";
import type { NodeRecord } from "../state/records.js";
import type { RunState } from "../state/run-state.js";
import type { Workflow } from "./workflow.js";

/** One move of a task: it left stage `from` (visit `visit`) along `pathway` for stage `to`, at `at`. */
export interface TaskMoveMade {
  /** The activation that moved the task (`review`, `review#2`). */
  readonly activationId: string;
  readonly from: string;
  readonly to: string;
  readonly pathway: string;
  readonly visit: number;
  readonly at: number;
  readonly settleOrder: number;
  /** Whether the run's state alone shows it saved (else the stored run must say). */
  readonly saved: boolean;
}

/** The last settle order a run's state holds (0: nothing settled). */
export function lastSettleOrder(state: RunState | undefined): number {
  let last = 0;
  if (state === undefined) return last;
  for (const r of nodeRecords(state.nodes)) if (r.settleOrder !== undefined && r.settleOrder > last) last = r.settleOrder;
  return last;
}

/**
 * The moves `state` holds that settled after settle order `after`, in
 * settle order, each with whether it is known to be saved by `state`
 * alone: `ended` says the run's end was saved, or its target activation
 * (triggered by it) started.
 */
export function movesAfter(state: RunState, after: number, workflow: Workflow, ended: boolean): TaskMoveMade[] {
  const out: TaskMoveMade[] = [];
  let records: NodeRecord[] | undefined;
  let ordered = true;
  for (const r of nodeRecords(state.nodes)) {
    if (r.status !== "succeeded" || r.route === undefined || r.settleOrder === undefined || r.settleOrder <= after) continue;
    const to = workflow.stage(r.nodeId)?.pathways.find((p) => p.name === r.route)?.to;
    if (to === undefined) continue;
    let saved = ended;
    if (!saved) {
      records ??= [...nodeRecords(state.nodes)];
      saved = records.some((t) => t.trigger?.from === r.id && t.startedAt !== undefined);
    }
    if (out.length > 0 && (out[out.length - 1] as TaskMoveMade).settleOrder > r.settleOrder) ordered = false;
    out.push({ activationId: r.id, from: r.nodeId, to, pathway: r.route, visit: r.visit ?? 1, at: r.endedAt ?? 0, settleOrder: r.settleOrder, saved });
  }
  return ordered ? out : out.sort((a, b) => a.settleOrder - b.settleOrder);
}

/** Whether `stored` (the run as saved) holds `move`: its activation succeeded there with the same settle order. */
export function isStored(stored: RunState | undefined, move: TaskMoveMade): boolean {
  if (stored === undefined) return false;
  const r = getNode(stored.nodes, move.activationId);
  return r?.status === "succeeded" && r.settleOrder === move.settleOrder;
}
