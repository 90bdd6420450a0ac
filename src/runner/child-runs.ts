/**
 * Child runs (`ctx.run(graph, inputs, { key })`), as the runner drives
 * them for a parent run's session: the engine's {@link ChildRunner} port.
 *
 * A call derives the child's run id (child-run-id.ts) and drives the child
 * as a run of its own in this process, in the parent's store with the
 * parent's settings (concurrency, retry policy, snapshot policy, clock,
 * executor, caller ids), recording the parent (`parentRunId`). Because the
 * id is derived, the parent's node calling `ctx.run` again (a retry, a
 * resume in a new process) finds the same stored child: a succeeded child
 * returns its stored outputs without running, an unfinished one is
 * resumed (its succeeded nodes are kept).
 *
 * States of one call: driving the child → its outputs (resolved), its
 * error (rejected: the parent's attempt fails with it, and may retry), or
 * waiting: the child stopped with `GraphHasPendingWaits`, and the parent's
 * attempt parks on the wait `$child:<childRunId>` of the parent run
 * (holding no slot), so the parent ends `waiting` once nothing else can
 * run. Resolving the child's waits (`resolveWait(childRunId, …)`) and
 * resuming the parent drives the child again.
 *
 * Invariants. The attempt's signal aborting (cancel, timeout, another node
 * failing the run) cancels the child. One session per child run at a time:
 * a call for a child whose session has not stopped (one key used twice at
 * once) is refused with `InvalidOptionError`, never a second session that
 * would find the child's lease held by this very process. The parent's
 * session keeps every child session it started and gives its own lease
 * back only after they stopped. The `$child:` waits of a parent are shown as the child's own
 * waits, with the child's `runId` ({@link surfaceChildWaits}).
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import type { ChildRunner, ChildRunRequest } from "../engine/child-runs.js";
import { openChildRunWait } from "../engine/waits.js";
import { InvalidOptionError } from "../errors.js";
import type { TaskGraph } from "../graph/task-graph.js";
import type { ChildRunOptions } from "../graph/node-context.js";
import type { RunStore } from "../persistence/run-store.js";
import type { PendingWait } from "../state/waits.js";
import { CHILD_WAIT_PREFIX, childRunId } from "./child-run-id.js";
import { GraphHasPendingWaits } from "./errors.js";
import type { RunConfig } from "./run-options.js";
import { toTaskGraph, type Runnable } from "./runnable.js";

/** A child run driven in this process, as its parent's session sees it. */
export interface ChildSession {
  result(): Promise<unknown>;
  cancel(reason: string): void;
  readonly stopped: Promise<void>;
}

/** What the parent's session gives: its config, and how to start and keep a child session. */
export interface ChildRunsHost {
  readonly config: RunConfig;
  /** Starts a session driving run `config.runId` of `graph` with `parentRunId` recorded. */
  start(graph: TaskGraph<unknown, unknown>, inputs: unknown, config: RunConfig, parentRunId: string): ChildSession;
}

const OPTION_KEYS = optionKeys<ChildRunOptions>({ key: true });

/** The {@link ChildRunner} of one parent session (see the module comment). */
export function childRunner(host: ChildRunsHost): ChildRunner {
  /** The child runs whose session has not stopped yet: a second call for one of them is a key used twice. */
  const running = new Set<string>();
  return async (request: ChildRunRequest): Promise<unknown> => {
    const key = checkOptions(request.options);
    const graph = toTaskGraph<unknown, unknown>(request.graph as Runnable<unknown, unknown>);
    const runId = childRunId(request.parentRunId, request.activationId, key);
    const config: RunConfig = Object.freeze({ ...host.config, runId, signal: undefined, timeoutMs: undefined, takeover: false });
    for (let woken = false; ; woken = true) {
      if (request.signal.aborted) throw request.signal.reason;
      if (running.has(runId)) {
        // Not RunLockedError (this very process holds the child's lease), and the running child stays kept by the parent.
        throw new InvalidOptionError(
          `ctx.run key "${key}"`,
          `is used by a child run of "${request.activationId}" that has not ended (run "${runId}"); give each child of a node its own key`,
        );
      }
      const child = host.start(graph, request.inputs, config, request.parentRunId);
      running.add(runId);
      void child.stopped.then(() => running.delete(runId));
      const onAbort = (): void => child.cancel(`its parent run "${request.parentRunId}" stopped node "${request.activationId}"`);
      request.signal.addEventListener("abort", onAbort, { once: true });
      try {
        return await child.result();
      } catch (error) {
        // Woken once already: the parent's wait on this child is resolved for good, so waiting again would spin.
        if (!(error instanceof GraphHasPendingWaits) || error.runId !== runId || woken) throw error;
      } finally {
        request.signal.removeEventListener("abort", onAbort);
      }
      // The child waits for events: so does this activation, until the parent is resumed.
      // The one way to open a "$child:" wait: a user's waitFor with that prefix is refused.
      await openChildRunWait(() => request.waitFor(`${CHILD_WAIT_PREFIX}${runId}`));
    }
  };
}

function checkOptions(options: unknown): string {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("ctx.run(graph, inputs, options)", "options must be an object with a key");
  assertKnownKeys("ctx.run", options, OPTION_KEYS);
  const key = (options as { key?: unknown }).key;
  if (typeof key !== "string" || key.length === 0 || key.length > 100 || key.includes("#")) {
    throw new InvalidOptionError("ctx.run key", 'must be a string of 1 to 100 characters without "#"');
  }
  return key;
}

/**
 * `waits` with each `$child:` wait replaced by the open waits of that
 * child run (and of its own children), each with the child's `runId`:
 * what a caller must resolve. A child that no longer waits keeps the
 * parent's wait as it is.
 */
export async function surfaceChildWaits(store: RunStore, waits: readonly PendingWait[], depth = 0): Promise<PendingWait[]> {
  const out: PendingWait[] = [];
  for (const wait of waits) {
    if (!wait.key.startsWith(CHILD_WAIT_PREFIX) || depth > 32) {
      out.push(wait);
      continue;
    }
    const childId = wait.key.slice(CHILD_WAIT_PREFIX.length);
    const child = await store.load(childId).catch(() => undefined);
    const childWaits = child?.state.meta.status === "waiting" ? child.state.meta.waits : [];
    if (childWaits.length === 0) {
      out.push(wait);
      continue;
    }
    const surfaced = await surfaceChildWaits(store, childWaits, depth + 1);
    for (const w of surfaced) out.push(w.runId === undefined ? { ...w, runId: childId } : w);
  }
  return out;
}
