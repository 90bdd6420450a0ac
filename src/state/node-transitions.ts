/**
 * Node transitions the engine needed beyond the lifecycle ones in
 * `run-state.ts` (kept apart so that module stays within its size): the
 * route that starts a known visit again, a waiting attempt going on, and
 * forgetting a wait that timed out. Like every {@link NodeTransition} they
 * are pure: a record in, the next record out, the input never changed.
 *
 * @module
 */
import type { NodeRecord } from "./records.js";
import type { NodeTransition } from "./run-state.js";

/** A visit whose record exists already (a resumed run) is started by `trigger`: the record keeps it. */
export function markTriggered(trigger: NonNullable<NodeRecord["trigger"]>): NodeTransition {
  return (n) => ({ ...n, trigger });
}

/** A waiting attempt got its event (or its wait expired) and runs on: `waiting → running`, nothing else changes. */
export function markResumed(): NodeTransition {
  return (n) => (n.status === "waiting" ? { ...n, status: "running" } : n);
}

/** Drops a node's record of one wait (after it timed out), so a retry waits afresh with a new deadline. */
export function forgetWait(key: string): NodeTransition {
  return (n: NodeRecord) => {
    if (!n.waits || !(key in n.waits)) return n;
    const waits = { ...n.waits };
    delete waits[key];
    return { ...n, waits };
  };
}
