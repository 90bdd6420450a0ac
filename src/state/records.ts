/**
 * The plain, JSON-able records a run is made of. Everything here can be
 * serialized by superjson and rebuilt; nothing holds a function, a timer or
 * a promise. A run is one {@link RunMeta} plus one {@link NodeRecord} per
 * node activation.
 *
 * @module
 */
import type { PendingWait } from "./waits.js";
import type { NodeStatus, RunStatus } from "./status.js";

/** An error as stored: enough to show and to rebuild an `Error`. */
export interface ErrorRecord {
  /** The error's class name. */
  readonly name: string;
  /** Its message. */
  readonly message: string;
  /** Its taskloom code, when it has one. */
  readonly code?: string;
  /** Its stack, when it had one. */
  readonly stack?: string;
  /** Its cause, recursively. */
  readonly cause?: ErrorRecord;
}

/** The stored state of one node activation. */
export interface NodeRecord {
  /** The activation id (the node id for a node's first and only visit). */
  readonly id: string;
  /** The graph node this activation runs. */
  readonly nodeId: string;
  /** Its status. */
  readonly status: NodeStatus;
  /** Attempts started in this run (reset when a resume runs the node afresh). */
  readonly attempts: number;
  /** The output, once succeeded (absent when `durable` is false and the record was loaded). */
  readonly output?: unknown;
  /** False when the output cannot be serialized: the node runs again on resume. */
  readonly durable?: boolean;
  /** The last error. */
  readonly error?: ErrorRecord;
  /** When the current or last attempt started (epoch ms). */
  readonly startedAt?: number;
  /** When the node settled (epoch ms). */
  readonly endedAt?: number;
  /** When the next attempt is due, while retrying (epoch ms). */
  readonly retryAt?: number;
  /** Results of `ctx.step(name, fn)` calls, by name, journaled with the node. */
  readonly steps?: Readonly<Record<string, unknown>>;
  /** The node's `ctx.waitFor` calls, by key: when each began, its deadline, and the payload once taken. */
  readonly waits?: Readonly<Record<string, WaitRecord>>;
  /** Which visit of the node this is, for visits after the first (routing loops): id `nodeId#visit`. */
  readonly visit?: number;
  /** The route that started this activation: the routing activation's id and the route's name. */
  readonly trigger?: { readonly from: string; readonly route: string };
  /** The route this routing node chose, once it succeeded. */
  readonly route?: string;
  /**
   * In a graph with routes: the position of this activation among the
   * activations that settled, so a resume replays routing decisions in
   * the order they were made.
   */
  readonly settleOrder?: number;
  /**
   * The earlier attempts of this activation, oldest first (the current or
   * last one is `startedAt`/`endedAt`/`error` above): failed attempts
   * that were retried, and attempts a resume started afresh (failed,
   * cancelled, or cut off when their process ended). At most
   * {@link MAX_ATTEMPT_LOG}, the latest.
   */
  readonly attemptLog?: readonly AttemptRecord[];
}

/** At most this many earlier attempts are kept per activation ({@link NodeRecord.attemptLog}). */
export const MAX_ATTEMPT_LOG = 50;

/** How an earlier attempt ended. */
export const ATTEMPT_OUTCOMES = ["failed", "cancelled", "interrupted", "suspended"] as const;

/** One earlier attempt of an activation. */
export interface AttemptRecord {
  /** When it started (epoch ms). */
  readonly startedAt: number;
  /** When it ended (epoch ms); absent when its process ended (a crash) and the end is not known. */
  readonly endedAt?: number;
  /**
   * `failed` (its error is `error`), `cancelled`, `interrupted` (its
   * process ended while it ran: a crash), or `suspended` (it waited for an
   * event and the run stopped to wait; the resume ran it again).
   */
  readonly outcome: (typeof ATTEMPT_OUTCOMES)[number];
  /** Why it failed. */
  readonly error?: ErrorRecord;
}

/** One `ctx.waitFor(key)` of a node, as journaled. */
export interface WaitRecord {
  /** When the wait began (epoch ms); kept across resumes. */
  readonly since: number;
  /** When it times out (epoch ms); kept across resumes. */
  readonly deadline?: number;
  /** Set once the node took the payload. */
  readonly resolved?: { readonly payload: unknown; readonly at: number };
}

/** An event delivered by `resolveWait` that its node has not taken yet. */
export interface InboxEntry {
  /** The payload. */
  readonly payload: unknown;
  /** When it was delivered (epoch ms). */
  readonly at: number;
}

/** Run-level state: everything about a run except its node records. */
export interface RunMeta {
  /** The run id. */
  readonly runId: string;
  /** The graph's name. */
  readonly graphName: string;
  /** The graph's fingerprint when the run was (last) started. */
  readonly fingerprint: string;
  /** The validated inputs. */
  readonly inputs: unknown;
  /** The run's status. */
  readonly status: RunStatus;
  /** When the run was first created (epoch ms). */
  readonly createdAt: number;
  /** When the run was last changed (epoch ms). */
  readonly updatedAt: number;
  /** When the run (or its latest resume) started (epoch ms). */
  readonly startedAt?: number;
  /** When it last stopped (epoch ms). */
  readonly endedAt?: number;
  /** How many times the run was started: 1, plus one per resume. */
  readonly starts: number;
  /** The graph outputs, once succeeded. */
  readonly outputs?: unknown;
  /**
   * False when the run succeeded with outputs that cannot be stored
   * exactly (`outputs` is then absent): a resume computes them again.
   */
  readonly outputsDurable?: false;
  /** Why the run failed or was cancelled. */
  readonly error?: ErrorRecord;
  /** Open waits. */
  readonly waits: readonly PendingWait[];
  /** Events delivered by `resolveWait` and not yet taken by their node, by key. */
  readonly inbox?: Readonly<Record<string, InboxEntry>>;
  /** Caller-provided ids, recorded as given. */
  readonly sessionId?: string;
  /** Caller-provided ids, recorded as given. */
  readonly agentId?: string;
  /** Caller-provided ids, recorded as given. */
  readonly appId?: string;
  /** The run's deadline (epoch ms), from the `timeoutMs` it was (last) started with; kept across resumes. */
  readonly deadline?: number;
  /** The run that started this one with `ctx.run` (a child run), if any. */
  readonly parentRunId?: string;
  /**
   * A random mark of this run, set when it is created and kept across
   * resumes: it tells this run from an earlier run of the same id that was
   * deleted, whose remote work (the BullMQ adapter's job ids) and child
   * runs outlive it. Absent for runs stored before the mark was kept.
   */
  readonly instance?: string;
  /** For a child run: its parent's mark (`instance`) when the child was created, so a later run of the parent's id can tell it is not its child. */
  readonly parentInstance?: string;
  /**
   * The processes that drove the run, oldest first: when each started the
   * run and when it stopped it (absent when it ended without stopping the
   * run: a crash). At most {@link MAX_ATTEMPT_LOG}, the latest.
   */
  readonly sessions?: readonly RunSession[];
}

/** One process's stint driving a run. */
export interface RunSession {
  /** When it started (or resumed) the run (epoch ms). */
  readonly startedAt: number;
  /** When it stopped the run: finished, failed, cancelled or waiting (epoch ms). */
  readonly endedAt?: number;
}

/**
 * One durable change: the new value of one node record or of the run meta.
 * A store appends these to a journal; replaying them over a snapshot in
 * order rebuilds the state. Each is small, whatever the size of the run.
 */
export type JournalRecord =
  { readonly kind: "node"; readonly seq: number; readonly node: NodeRecord } | { readonly kind: "run"; readonly seq: number; readonly run: RunMeta };

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

/** A run summary as listed by `listRuns`. */
export interface RunSummary {
  /** The run id. */
  readonly runId: string;
  /** The graph's name. */
  readonly graphName: string;
  /** The run's status. */
  readonly status: RunStatus;
  /** Node activations in all. */
  readonly nodeCount: number;
  /** Activations that succeeded or were skipped. */
  readonly settledCount: number;
  /** Activations that succeeded (absent in summaries stored before this count was kept). */
  readonly succeededCount?: number;
  /** Activations that failed (absent in summaries stored before this count was kept). */
  readonly failedCount?: number;
  /** When the run was created (epoch ms). */
  readonly createdAt: number;
  /** When it last changed (epoch ms). */
  readonly updatedAt: number;
  /** Open waits. */
  readonly waits: readonly PendingWait[];
  /** Caller-provided ids. */
  readonly sessionId?: string;
  /** Caller-provided ids. */
  readonly agentId?: string;
  /** Caller-provided ids. */
  readonly appId?: string;
  /** The run that started this one with `ctx.run`, for a child run. */
  readonly parentRunId?: string;
  /** For a child run: its parent's mark when it was created (`RunMeta.parentInstance`). */
  readonly parentInstance?: string;
}
