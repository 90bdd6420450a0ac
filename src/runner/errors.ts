/**
 * Errors of runs as the runner sees them: a run that waits for events
 * ({@link GraphHasPendingWaits}), a resume refused because the graph or the
 * inputs changed, a run id no store knows, and an `output` function that threw.
 *
 * @module
 */
import { describe, TaskloomError } from "../errors.js";
import { listText } from "../core/text.js";
import type { PendingWait } from "../state/waits.js";

/** How many waits a {@link GraphHasPendingWaits} message names; its `waits` holds them all. */
const SHOWN_WAITS = 20;

/**
 * The run cannot go on until external events arrive: it was saved with
 * status `waiting`. Resolve the waits, then call `runAsync` with the same run id.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof GraphHasPendingWaits) notify(e.runId, e.waits) }
 * ```
 */
export class GraphHasPendingWaits extends TaskloomError {
  /** The run that waits. */
  readonly runId: string;
  /** The open waits. */
  readonly waits: readonly PendingWait[];

  constructor(runId: string, waits: readonly PendingWait[]) {
    super(
      "PENDING_WAITS",
      `run "${runId}" is waiting for ${listText(waits, SHOWN_WAITS, ", ", "the error's waits", (w) => (w.runId === undefined ? `"${w.key}"` : `"${w.key}" (of child run "${w.runId}")`))}. ` +
        `Call resolveWait(runId, key, payload) for each (with the child's run id for a child's wait), then runAsync with runId "${runId}" again.`,
    );
    this.runId = runId;
    this.waits = waits;
  }
}

/**
 * The same class as {@link GraphHasPendingWaits}, under a name with the
 * usual `Error` suffix. `GraphHasPendingWaits` stays the contract name;
 * either name works with `instanceof`.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof GraphHasPendingWaitsError) notify(e.runId, e.waits) }
 * ```
 */
export const GraphHasPendingWaitsError = GraphHasPendingWaits;
/** The same type as {@link GraphHasPendingWaits}. */
export type GraphHasPendingWaitsError = GraphHasPendingWaits;

/** How a graph's nodes differ from those a stored run was made with. */
export interface GraphChanges {
  /** Nodes the graph has and the run has no record of. */
  readonly added: readonly string[];
  /** Nodes the run has records of and the graph no longer has. */
  readonly removed: readonly string[];
}

/** "nodes added: a, b; removed: c", or what changed when no node was added or removed. */
function changesText(changes: GraphChanges | undefined): string {
  if (changes === undefined) return "";
  const list = (ids: readonly string[]): string => listText(ids, 8, ", ", "the error's changes");
  const parts = [
    ...(changes.added.length > 0 ? [`nodes added: ${list(changes.added)}`] : []),
    ...(changes.removed.length > 0 ? [`nodes removed: ${list(changes.removed)}`] : []),
  ];
  return parts.length > 0
    ? ` What changed: ${parts.join("; ")}.`
    : " What changed: no node was added or removed, so edges (after, routes) or a node's retry, timeout or map options were rewired.";
}

/**
 * A stored run was made by a graph with another fingerprint (nodes, edges
 * or options changed). Pass `{ allowGraphChange: true }` to resume anyway.
 * `changes` names the nodes added and removed (the store keeps no edges,
 * so a rewired edge is reported as "no node was added or removed").
 *
 * @example
 * ```ts
 * await runAsync(g, inputs, { runId, allowGraphChange: true });
 * ```
 */
export class GraphChangedError extends TaskloomError {
  /** The run. */
  readonly runId: string;
  /** The fingerprint stored with the run. */
  readonly storedFingerprint: string;
  /** The fingerprint of the graph passed now. */
  readonly fingerprint: string;
  /** The nodes added and removed, when known. */
  readonly changes: GraphChanges | undefined;

  constructor(runId: string, storedFingerprint: string, fingerprint: string, changes?: GraphChanges) {
    super(
      "GRAPH_CHANGED",
      `run "${runId}" was started by a different version of the graph (fingerprint ${storedFingerprint.slice(0, 12)}, now ${fingerprint.slice(0, 12)}).` +
        `${changesText(changes)} Use a new runId, or pass { allowGraphChange: true } to resume it with the new graph.`,
    );
    this.runId = runId;
    this.storedFingerprint = storedFingerprint;
    this.fingerprint = fingerprint;
    this.changes = changes;
  }
}

/**
 * `runAsync` was given a stored run id with inputs other than the stored
 * ones. Omit the inputs (pass `undefined`) to resume with the stored ones.
 *
 * @example
 * ```ts
 * await runAsync(g, undefined, { runId }); // resume with the stored inputs
 * ```
 */
export class RunInputsMismatchError extends TaskloomError {
  /** The run. */
  readonly runId: string;

  constructor(runId: string) {
    super(
      "RUN_INPUTS_MISMATCH",
      `run "${runId}" was started with other inputs. Pass the same inputs, omit them (undefined) to reuse the stored ones, or use a new runId.`,
    );
    this.runId = runId;
  }
}

/**
 * `ctx.run` found, under the child run id it derives, a child run started
 * by an earlier run of the parent's id that was deleted since (the child
 * names another mark of its parent, `RunMeta.parentInstance`): its stored
 * result is not this run's to take. Delete the child run (`deleteRun`),
 * then resume the parent, whose node starts a new child.
 *
 * @example
 * ```ts
 * if (cause instanceof StaleChildRunError) await deleteRun(cause.runId, { store });
 * ```
 */
export class StaleChildRunError extends TaskloomError {
  /** The child run. */
  readonly runId: string;
  /** Its parent's run id. */
  readonly parentRunId: string;

  constructor(runId: string, parentRunId: string) {
    super(
      "STALE_CHILD_RUN",
      `child run "${runId}" was started by an earlier run "${parentRunId}" that was deleted, so its stored result is not this run's. ` +
        `Delete it (deleteRun("${runId}")), then resume run "${parentRunId}": its node starts a new child.`,
    );
    this.runId = runId;
    this.parentRunId = parentRunId;
  }
}

/**
 * No stored run has this id; or, when the caller named a run mark
 * (`instance`), the run stored under the id is another run: the one asked
 * for was deleted and a new run was started under its id. Nothing was
 * written to the run found.
 *
 * @example
 * ```ts
 * await getRun("nope", { store }); // throws RunNotFoundError
 * await resolveWait("review-42", "review", payload, { instance: "0a1b2c3d4e5f" }); // RunNotFoundError when run review-42 now has another mark
 * ```
 */
export class RunNotFoundError extends TaskloomError {
  /** The run id looked up. */
  readonly runId: string;
  /** The run mark asked for, when the caller named one (the run of the id has another mark, or none). */
  readonly instance: string | undefined;

  constructor(runId: string, instance?: string) {
    super(
      "RUN_NOT_FOUND",
      instance === undefined
        ? `no stored run has id "${runId}". Check the id and the store (dir) it was saved in.`
        : `the run "${runId}" with mark "${instance}" is gone: it was deleted, and the run now stored under its id is another one (getRun("${runId}").instance tells its mark). ` +
            `What was meant for the deleted run is not handed to this one; nothing was written.`,
    );
    this.runId = runId;
    this.instance = instance;
  }
}

/**
 * The graph's `output` function threw; every node had succeeded.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof OutputError) console.error(e.cause) }
 * ```
 */
export class OutputError extends TaskloomError {
  /** The run. */
  readonly runId: string;

  constructor(runId: string, cause: unknown) {
    super("OUTPUT_FAILED", `the output function of run "${runId}" threw: ${describe(cause)}. Every node succeeded; fix output() and call runAsync again.`, {
      cause,
    });
    this.runId = runId;
  }
}

/**
 * `cancel()` of a handle from `retrieveRun` on a run this process does not
 * drive (another process drives it, or it waits, stopped, for events):
 * use `cancelRun(runId, { store })`, which reaches any driver. Also thrown
 * by `cancelRun` when the driver could not be reached or did not stop the
 * run (`detail` says which).
 *
 * @example
 * ```ts
 * try { (await retrieveRun(id, { store })).cancel() }
 * catch (e) { if (e instanceof CancelNotAvailableError) await cancelRun(id, { store }) }
 * ```
 */
export class CancelNotAvailableError extends TaskloomError {
  /** The run. */
  readonly runId: string;
  /** Its status as last read from the store. */
  readonly status: string;

  constructor(runId: string, status: string, detail?: string) {
    super(
      "CANCEL_NOT_AVAILABLE",
      detail === undefined
        ? `run "${runId}" (${status}) is not driven by this process, so its handle cannot cancel it. ` +
            `Call cancelRun("${runId}", { store }), which reaches the process that drives it, or cancel it through that process's RunHandle or AbortSignal.`
        : `run "${runId}" (${status}) could not be cancelled: ${detail}. Stop the process that drives it, then call cancelRun again.`,
    );
    this.runId = runId;
    this.status = status;
  }
}

/**
 * `result()` of a handle from `retrieveRun` on a run driven elsewhere
 * (one it was waiting for, or one called after) when the handle was
 * disposed (`await using`, or `handle[Symbol.asyncDispose]()`) before the
 * run ended: the handle stopped reading the store. The run itself goes on
 * in the process that drives it.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof RunHandleDisposedError) handle = await retrieveRun(e.runId, { store }) }
 * ```
 */
export class RunHandleDisposedError extends TaskloomError {
  /** The run. */
  readonly runId: string;

  constructor(runId: string) {
    super(
      "RUN_HANDLE_DISPOSED",
      `the handle of run "${runId}" was disposed before the run ended, so result() stopped waiting for it. ` +
        `The run goes on where it is driven: call retrieveRun("${runId}", { store }) again to wait for it, or keep the handle undisposed until result() settles.`,
    );
    this.runId = runId;
  }
}

/**
 * `result()` of a handle from `retrieveRun` on a succeeded run whose
 * outputs could not be stored exactly (an `OUTPUT_NOT_DURABLE` warning
 * said so when it ended): resuming it computes them again.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof RunOutputsNotStoredError) out = await runAsync(g, undefined, { runId: e.runId, store }) }
 * ```
 */
export class RunOutputsNotStoredError extends TaskloomError {
  /** The run. */
  readonly runId: string;

  constructor(runId: string) {
    super(
      "OUTPUTS_NOT_STORED",
      `run "${runId}" succeeded, but its outputs could not be stored exactly. ` +
        `Resume it with runAsync(graph, undefined, { runId: "${runId}" }) to compute them again from its stored node outputs.`,
    );
    this.runId = runId;
  }
}

/**
 * The run's deadline (`timeoutMs`) passed: the run was cancelled and saved
 * `cancelled` with this error. The deadline is stored with the run, so a
 * resume after it fails at once with this error; pass a new `timeoutMs`
 * to give the resumed run a new deadline.
 *
 * @example
 * ```ts
 * try { await runAsync(g, inputs, { runId, timeoutMs: 60_000 }) }
 * catch (e) { if (e instanceof RunTimeoutError) await runAsync(g, undefined, { runId, timeoutMs: 60_000 }) }
 * ```
 */
export class RunTimeoutError extends TaskloomError {
  /** The run. */
  readonly runId: string;
  /** The deadline that passed (epoch ms). */
  readonly deadline: number;

  constructor(runId: string, deadline: number) {
    super(
      "RUN_TIMEOUT",
      `run "${runId}" passed its deadline (${new Date(deadline).toISOString()}) and was cancelled. ` +
        `Resume it with runAsync(graph, undefined, { runId: "${runId}", timeoutMs }) to give it a new deadline.`,
    );
    this.runId = runId;
    this.deadline = deadline;
  }
}
