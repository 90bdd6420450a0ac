/**
 * Node transitions: the pure functions from one immutable node record to
 * the next (a record in, the next record out, the input never changed)
 * that carry an activation through its lifecycle: ready, running,
 * retrying, waiting, succeeded, failed, cancelled, skipped, and back to
 * pending on a resume (the attempt it ends goes to the attempt log). The
 * engine decides *when* a node changes; these decide *how*; `run-state.ts`
 * lays the changed records into the run state
 * (`commitNodes`, `applyTransition`).
 *
 * A record that gains a field is made by {@link withFields}, never
 * `{ ...n, field }`: in V8 11 (Node 20) a literal that starts with a
 * spread and adds a key gets a hidden class of its own every time (some
 * 2 µs, and every reader of records turns megamorphic). A first plain key
 * keeps the class shared; `id` is every record's first key, so the
 * result's keys are in the same order as before (docs/architecture.md,
 * "Hidden classes").
 *
 * @module
 */
import { anchorShape } from "../core/shape-anchors.js";
import { MAX_ATTEMPT_LOG, type AttemptRecord, type ErrorRecord, type NodeRecord, type WaitRecord } from "./records.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One change to a node record: a pure function from the record to the next. */
export type NodeTransition = (node: NodeRecord) => NodeRecord;

/**
 * `{ ...n, ...fields }` as V8 shares its hidden class (see the module
 * comment): `id`, every record's first key, is written before the spread,
 * so the keys keep their order.
 *
 * @example
 * ```ts
 * withFields(n, { status: "skipped", endedAt: now });
 * ```
 */
export function withFields(n: NodeRecord, fields: Partial<NodeRecord>): NodeRecord {
  return { id: n.id, ...(n as Omit<NodeRecord, "id">), ...fields };
}

/*
 * Each transition builds the next record field by field rather than by
 * spreading and deleting: `delete` turns an object into a slow dictionary,
 * and these records are made several times per node.
 */

/** `log` with `attempt` added at the end, the oldest dropped past {@link MAX_ATTEMPT_LOG}. */
function logAttempt(log: readonly AttemptRecord[] | undefined, attempt: AttemptRecord): readonly AttemptRecord[] {
  const next = [...(log ?? []), attempt];
  return next.length > MAX_ATTEMPT_LOG ? next.slice(next.length - MAX_ATTEMPT_LOG) : next;
}

/** Copies what an activation keeps through every transition: journaled steps and waits, its visit and trigger, its earlier attempts. */
function carry(from: NodeRecord, to: Mutable<NodeRecord>): void {
  if (from.attemptLog !== undefined) to.attemptLog = from.attemptLog;
  if (from.steps !== undefined) to.steps = from.steps;
  if (from.waits !== undefined) to.waits = from.waits;
  if (from.visit !== undefined) to.visit = from.visit;
  if (from.trigger !== undefined) to.trigger = from.trigger;
}

/** The node's dependencies are met; it is queued. */
export function markReady(): NodeTransition {
  return (n) => ({ ...n, status: "ready" });
}

/** An attempt starts. */
export function markRunning(now: number): NodeTransition {
  return (n) => {
    const next: Mutable<NodeRecord> = { id: n.id, nodeId: n.nodeId, status: "running", attempts: n.attempts + 1, startedAt: now };
    if (n.error !== undefined) next.error = n.error;
    carry(n, next);
    return next;
  };
}

/** An attempt failed (at `failedAt`, when known) and another is due at `retryAt`; the failed attempt goes to the attempt log. */
export function markRetrying(error: ErrorRecord, retryAt: number, failedAt?: number): NodeTransition {
  return (n) => {
    if (n.startedAt === undefined) return withFields(n, { status: "retrying", error, retryAt });
    const attempt: AttemptRecord = { startedAt: n.startedAt, ...(failedAt !== undefined && { endedAt: failedAt }), outcome: "failed", error };
    return withFields(n, { status: "retrying", error, retryAt, attemptLog: logAttempt(n.attemptLog, attempt) });
  };
}

/**
 * The node succeeded with `output` (choosing `route`, for a routing node); `durable` is false when the
 * output cannot be stored; `settleOrder`: where it falls in the order of settling (routed graphs).
 */
export function markSucceeded(output: unknown, durable: boolean, now: number, route?: string, settleOrder?: number): NodeTransition {
  return (n) => {
    // startedAt is in the literal when it is set (in the order it always had), so that the record's
    // fields all fit in the object itself: added afterwards, it would need a property array of its
    // own, 40 bytes more per record, a million times in a million-node run.
    const next: Mutable<NodeRecord> =
      n.startedAt === undefined
        ? { id: n.id, nodeId: n.nodeId, status: "succeeded", attempts: n.attempts, output, endedAt: now }
        : { id: n.id, nodeId: n.nodeId, status: "succeeded", attempts: n.attempts, output, endedAt: now, startedAt: n.startedAt };
    carry(n, next);
    if (route !== undefined) next.route = route;
    if (!durable) next.durable = false;
    if (settleOrder !== undefined) next.settleOrder = settleOrder;
    return next;
  };
}

/** The node failed for good. */
export function markFailed(error: ErrorRecord, now: number): NodeTransition {
  return (n) => {
    const next: Mutable<NodeRecord> = { id: n.id, nodeId: n.nodeId, status: "failed", attempts: n.attempts, error, endedAt: now };
    if (n.startedAt !== undefined) next.startedAt = n.startedAt;
    carry(n, next);
    return next;
  };
}

/** The node was cancelled (it was running, retrying or queued when the run stopped). */
export function markCancelled(now: number): NodeTransition {
  return (n) => {
    const next: Mutable<NodeRecord> = { id: n.id, nodeId: n.nodeId, status: "cancelled", attempts: n.attempts, endedAt: now };
    if (n.startedAt !== undefined) next.startedAt = n.startedAt;
    if (n.error !== undefined) next.error = n.error;
    carry(n, next);
    return next;
  };
}

/** The node will not run: routing did not choose it, or everything before it was skipped. */
export function markSkipped(now: number): NodeTransition {
  return (n) => withFields(n, { status: "skipped", endedAt: now });
}

/** The node suspended in `ctx.waitFor`; `wait` is what is journaled for the key. */
export function markWaiting(key: string, wait: WaitRecord): NodeTransition {
  return (n) => withFields(n, { status: "waiting", waits: { ...n.waits, [key]: wait } });
}

/** The node took the payload of its wait and runs on. */
export function markWaitResolved(key: string, wait: WaitRecord): NodeTransition {
  return (n) => withFields(n, { status: "running", waits: { ...n.waits, [key]: wait } });
}

/** Records the result of `ctx.step(name, fn)` with the node. */
export function recordStep(name: string, value: unknown): NodeTransition {
  return (n) => withFields(n, { steps: { ...n.steps, [name]: value } });
}

/**
 * The record each record `markPending` made was made from (a resume's
 * reset records): {@link isPendingOf} then knows a reset by identity, as
 * records are never changed once made, without building the expected
 * record again and comparing it field by field (a 10,000-node resume of
 * 1,000 failed nodes asks once per reset node, at its start's append).
 * Weak: an entry lives as long as the reset record.
 */
const pendingSources = new WeakMap<NodeRecord, NodeRecord>();

/** Back to `pending` with fresh attempts, keeping journaled steps (a resume); the attempt it ends goes to the attempt log. */
export function markPending(): NodeTransition {
  return (n) => {
    const log = endedAttempt(n);
    const attemptLog = log === undefined ? n.attemptLog : logAttempt(n.attemptLog, log);
    // Field by field in this order (the order a spread of each present field gave), so records look as before.
    const next: Mutable<NodeRecord> = { id: n.id, nodeId: n.nodeId, status: "pending", attempts: 0 };
    if (n.steps) next.steps = n.steps;
    if (n.waits) next.waits = n.waits;
    if (n.visit !== undefined) next.visit = n.visit;
    if (n.trigger) next.trigger = n.trigger;
    if (attemptLog) next.attemptLog = attemptLog;
    pendingSources.set(next, n);
    return next;
  };
}

/** The last attempt of a record a resume starts afresh, as the attempt log keeps it; undefined when it never started. */
function endedAttempt(n: NodeRecord): AttemptRecord | undefined {
  const startedAt = n.startedAt;
  if (startedAt === undefined) return undefined;
  let outcome: AttemptRecord["outcome"];
  switch (n.status) {
    case "failed":
      outcome = "failed";
      break;
    case "cancelled":
      outcome = "cancelled";
      break;
    case "running":
      // Its process ended while it ran: when exactly is not known.
      return { startedAt, outcome: "interrupted" };
    case "waiting":
      return { startedAt, outcome: "suspended" };
    default:
      // Retrying or ready again: the failed attempt is in the log already.
      return undefined;
  }
  // Field by field in the order a spread gave: startedAt, endedAt when it is not before the start, outcome, error.
  const attempt: Mutable<AttemptRecord> = { startedAt } as Mutable<AttemptRecord>;
  if (n.endedAt !== undefined && n.endedAt >= startedAt) attempt.endedAt = n.endedAt;
  attempt.outcome = outcome;
  if (outcome === "failed" && n.error) attempt.error = n.error;
  return attempt;
}

/** A visit whose record exists already (a resumed run) is started by `trigger`: the record keeps it. */
export function markTriggered(trigger: NonNullable<NodeRecord["trigger"]>): NodeTransition {
  return (n) => withFields(n, { trigger });
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

/**
 * True when `next` is what {@link markPending} makes of `prev`: the same
 * fields with the same values, an attempt log that holds `prev`'s entries
 * (the very objects) and then the attempt `prev` ended, field for field.
 * A store may then record `next` as "`prev` reset" (`journal-delta.ts`)
 * and rebuild it with `markPending` when it reads it back.
 */
export function isPendingOf(prev: NodeRecord, next: NodeRecord): boolean {
  if (next.status !== "pending") return false;
  // Made by `markPending` from this very record: pending of it by construction.
  if (pendingSources.get(next) === prev) return true;
  const expected = markPending()(prev);
  const keys = Object.keys(expected);
  if (keys.length !== Object.keys(next).length) return false;
  for (const key of keys) {
    const a = (expected as unknown as Record<string, unknown>)[key];
    const b = (next as unknown as Record<string, unknown>)[key];
    if (a === b) continue;
    if (key !== "attemptLog" || !sameAttempts(a as readonly AttemptRecord[], b as readonly AttemptRecord[] | undefined)) return false;
  }
  return true;
}

/** Attempt logs whose entries are the same objects, or objects with the same fields and values. */
function sameAttempts(a: readonly AttemptRecord[], b: readonly AttemptRecord[] | undefined): boolean {
  if (b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y: AttemptRecord | undefined = b[i];
    if (x === y) continue;
    const keys = Object.keys(x);
    if (typeof y !== "object" || keys.length !== Object.keys(y).length) return false;
    for (const key of keys) if ((x as unknown as Record<string, unknown>)[key] !== (y as unknown as Record<string, unknown>)[key]) return false;
  }
  return true;
}

// A ready record is a copy of a pending one (`markReady`), made for a moment: once a run ends none is left, and
// its map would die. It is anchored (see core/shape-anchors.ts) through a sample copied from a pending record
// shaped as `createRunState` makes them (same fields, same order, so the same map).
anchorShape(markReady()({ id: "", nodeId: "", status: "pending", attempts: 0 }));
