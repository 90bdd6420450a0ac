/**
 * Node and run statuses, each list defined once as a const array with its
 * type derived from it, so code that matches on a status with ts-pattern's
 * `.exhaustive()` fails to compile when a status is added.
 *
 * @module
 */

/** Every status a node activation can have. */
export const NODE_STATUSES = ["pending", "ready", "running", "retrying", "succeeded", "failed", "waiting", "skipped", "cancelled"] as const;

/**
 * The status of one node activation:
 * `pending → ready → running → succeeded | failed | waiting | skipped | cancelled`,
 * with `running → retrying → running` between attempts.
 */
export type NodeStatus = (typeof NODE_STATUSES)[number];

/** Every status a run can have. */
export const RUN_STATUSES = ["pending", "running", "waiting", "succeeded", "failed", "cancelled"] as const;

/** The status of a run. */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** True for a node status after which the node will not run again in this run. */
export function isNodeSettled(status: NodeStatus): boolean {
  return status === "succeeded" || status === "skipped";
}

/** True for a run status after which the run does no more work unless resumed. */
export function isRunFinal(status: RunStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled";
}
