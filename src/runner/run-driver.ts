/**
 * The run driver: everything between `run()` and the scheduler. It takes
 * the run's lease (renewing it while the run goes on), loads a stored run
 * or creates a new one, checks that a stored run belongs to this graph and
 * these inputs, resets what did not finish, writes the starting snapshot,
 * lets the {@link ForwardScheduler} work, and records how the run ended.
 *
 * Resume rules (DESIGN.md, "Persistence and resume"): a succeeded run
 * returns its stored outputs and runs nothing; an unfinished one
 * (crashed, failed, cancelled) keeps every succeeded node's output and
 * runs the rest with fresh attempts; another fingerprint is refused unless
 * `allowGraphChange`; other inputs are refused, and omitted inputs mean
 * the stored ones, which the graph's input validator checks again (it is
 * not part of the fingerprint): refused, nothing runs and nothing is written.
 *
 * @module
 */
import { match } from "ts-pattern";
import {
  describe,
  GraphChangedError,
  GraphHasPendingWaits,
  InputValidationError,
  OutputError,
  RunCancelledError,
  RunInputsMismatchError,
  SnapshotCorruptError,
} from "../errors.js";
import type { RunEvents } from "../events/run-events.js";
import type { TaskGraph } from "../graph/task-graph.js";
import { PersistenceObserver } from "../persistence/persistence-observer.js";
import type { Lease, RunStore } from "../persistence/run-store.js";
import { checkDurable } from "../core/value-codec.js";
import { sameValue } from "../persistence/serialization.js";
import type { Clock, TimerHandle } from "../core/clock.js";
import { ForwardScheduler, type SchedulerOutcome } from "../engine/forward-scheduler.js";
import { errorFromRecord, toErrorRecord } from "../state/error-record.js";
import { getNode, nodeRecords } from "../state/node-table.js";
import {
  adoptGraph,
  countNodes,
  createRunState,
  resetUnfinished,
  setRunStatus,
  type RunState,
} from "../state/run-state.js";
import type { RunStatus } from "../state/status.js";
import { acquireAfterDeliveries } from "./delivery-lease.js";
import { registerLiveRun } from "./live-runs-channel.js";
import { leaseRequest, renewalFailure } from "./run-lease.js";
import type { RunOptions } from "./run-options.js";

/** What the driver needs from the handle that owns it. */
export interface DriverHost {
  readonly runId: string;
  readonly events: RunEvents;
  readonly clock: Clock;
  setStatus(status: RunStatus): void;
  setState(state: RunState): void;
  /** The scheduler, once there is one, so `cancel()` can reach it. */
  setScheduler(scheduler: ForwardScheduler<unknown> | undefined): void;
  /** Set when cancel() was called before the scheduler existed. */
  cancelRequested(): string | undefined;
}

/** Drives one run to its end; resolves to the outputs or rejects with the run's error. */
export async function driveRun<I, O>(
  graph: TaskGraph<I, O>,
  rawInputs: unknown,
  options: RunOptions,
  store: RunStore,
  host: DriverHost,
): Promise<O> {
  const { runId, clock, events } = host;
  const ttlMs = options.leaseTtlMs ?? 30_000;
  // A resolveWait holding the lease for its one write is waited for, not reported as a driver (RUN_LOCKED);
  // a store that cannot take the lease (disk full, read-only) fails with PersistenceError, never a raw Error.
  const request = leaseRequest({ ttlMs, now: clock.now(), takeover: options.takeover === true });
  const held: Lease = await acquireAfterDeliveries(store, runId, () => ({ ...request, now: clock.now() }));
  let lease = held;
  let renewTimer: TimerHandle | undefined;
  let scheduler: ForwardScheduler<unknown> | undefined;
  let leaseLost: unknown;
  const renew = (): void => {
    renewTimer = clock.setTimeout(() => {
      store.renewLease(lease, ttlMs, clock.now()).then(
        (renewed) => {
          lease = renewed;
          if (renewTimer !== undefined) renew();
        },
        (error: unknown) => {
          // Taken over: LeaseLostError, as a fenced write says; a store failure: PersistenceError.
          leaseLost = renewalFailure(lease, error);
          scheduler?.fail(leaseLost);
        },
      );
    }, Math.max(1, Math.floor(ttlMs / 3)));
  };
  renew();
  let markStopped!: () => void;
  const driverStopped = new Promise<void>((resolve) => (markStopped = resolve));
  // Registered while we hold the lease, from before the run is loaded until the lease is given back:
  // a resolveWait that arrives before the scheduler exists waits for it, and one that arrives while
  // the run is being saved waits for `stopped`; neither finds our own lease held (RunLockedError).
  let schedulerReady!: (scheduler: ForwardScheduler<unknown> | undefined) => void;
  const live = new Promise<ForwardScheduler<unknown> | undefined>((resolve) => (schedulerReady = resolve));
  const unregister = registerLiveRun(store, runId, {
    deliver: async (key, payload) => {
      const running = await live;
      return running ? running.deliver(key, payload) : false;
    },
    stopped: driverStopped,
  });
  try {
    const prepared = await prepare(graph, rawInputs, options, store, host);
    if (prepared.kind === "done") {
      host.setState(prepared.state);
      host.setStatus("succeeded");
      return prepared.outputs as O;
    }
    const cancelled = host.cancelRequested();
    if (cancelled !== undefined) throw new RunCancelledError(runId, cancelled);

    let state = setRunStatus(prepared.state, "running", clock.now());
    let current = (): RunState => state;
    host.setState(state);
    host.setStatus("running");
    const observer = new PersistenceObserver({
      store,
      runId,
      policy: options.snapshot,
      clock,
      events,
      getState: () => current(),
      seq: prepared.seq,
      nodeCount: graph.size,
      // Every write carries the lease: once another driver takes the run over, the store refuses them (LeaseLostError).
      lease: held,
    });
    await observer.snapshot();
    events.emit("run:start", {
      runId,
      at: clock.now(),
      graphName: graph.name,
      resumed: prepared.resumed,
      kept: prepared.kept,
    });

    const startedAt = clock.now();
    scheduler = new ForwardScheduler<unknown>(graph as unknown as TaskGraph<unknown, unknown>, state, prepared.inputs, observer, events, {
      maxConcurrency: options.maxConcurrency ?? 8,
      retry: options.retry,
      continueOnError: options.continueOnError ?? false,
      clock,
      random: options.random ?? Math.random,
      inbox: state.meta.inbox,
      maxVisits: options.maxVisits,
      executor: options.executor,
    });
    const active = scheduler;
    current = () => active.state;
    host.setScheduler(scheduler);
    schedulerReady(active);
    const lateCancel = host.cancelRequested();
    if (lateCancel !== undefined) scheduler.cancel(lateCancel);
    let outcome: SchedulerOutcome = await scheduler.execute();
    host.setScheduler(undefined);
    if (leaseLost !== undefined && outcome.status !== "failed") {
      outcome = { status: "failed", state: outcome.state, error: leaseLost };
    }
    state = outcome.state;
    current = () => state;

    let outputs: unknown;
    let outputsDurable = true;
    if (outcome.status === "succeeded") {
      try {
        outputs = outcome.outputs ? outcome.outputs.value : graph.outputs(collectOutputs(state, graph), prepared.inputs as I);
        // Run outputs follow the rule node outputs do: stored exactly, or flagged and computed again on resume.
        const durability = checkDurable(outputs);
        if (!durability.ok) {
          outputsDurable = false;
          // One warning per cause: a node flagged already explains outputs that hold its output.
          const explained = [...nodeRecords(state.nodes)].some((n) => n.status === "succeeded" && n.durable === false);
          if (!explained) {
            events.emit("warning", {
              runId,
              at: clock.now(),
              code: "OUTPUT_NOT_DURABLE",
              message: `the outputs of run "${runId}" cannot be stored exactly (${durability.reason}); a resume by its run id computes them again`,
            });
          }
        }
      } catch (error) {
        outcome = { status: "failed", state, error: new OutputError(runId, error) };
      }
    }
    const now = clock.now();
    const inbox = active.inbox();
    const final = match(outcome)
      .with({ status: "succeeded" }, () => ({
        status: "succeeded" as const,
        change: outputsDurable ? { outputs, inbox } : { outputsDurable: false as const, inbox },
      }))
      .with({ status: "failed" }, (o) => ({ status: "failed" as const, change: { error: toErrorRecord(o.error), inbox } }))
      .with({ status: "cancelled" }, (o) => ({
        status: "cancelled" as const,
        change: { error: toErrorRecord(new RunCancelledError(runId, o.reason)), inbox },
      }))
      .with({ status: "waiting" }, (o) => ({ status: "waiting" as const, change: { waits: o.waits, inbox } }))
      .exhaustive();
    state = setRunStatus(state, final.status, now, final.change);
    host.setState(state);
    let saveError: unknown;
    try {
      await observer.snapshot();
    } catch (error) {
      saveError = error;
    }
    host.setStatus(final.status);

    return match(outcome)
      .with({ status: "succeeded" }, () => {
        if (saveError !== undefined) throw saveError;
        events.emit("run:success", { runId, at: now, outputs, durationMs: now - startedAt });
        return outputs as O;
      })
      .with({ status: "failed" }, (o) => {
        events.emit("run:error", { runId, at: now, error: o.error });
        throw o.error;
      })
      .with({ status: "cancelled" }, (o) => {
        events.emit("run:cancel", { runId, at: now, reason: o.reason });
        throw new RunCancelledError(runId, o.reason);
      })
      .with({ status: "waiting" }, (o) => {
        if (saveError !== undefined) throw saveError;
        events.emit("run:waiting", { runId, at: now, waits: o.waits });
        throw new GraphHasPendingWaits(runId, o.waits);
      })
      .exhaustive();
  } finally {
    if (renewTimer !== undefined) clock.clearTimeout(renewTimer);
    renewTimer = undefined;
    if (options.executor?.runStopped) {
      // Renewing tells whether the run is still ours: a driver that lost it must leave its remote work to the new holder.
      const leaseLost = await store.renewLease(lease, ttlMs, clock.now()).then(() => false, () => true);
      await options.executor.runStopped(runId, { leaseLost }).catch(() => undefined);
    }
    schedulerReady(undefined);
    await store.releaseLease(lease).catch((error: unknown) => {
      // The run's result is saved; only the lease stays until it expires (or its holder is seen dead).
      events.emit("warning", {
        runId,
        at: clock.now(),
        code: "LEASE_RELEASE_FAILED",
        message: `the lease of run "${runId}" could not be given back (${describe(error)}); another driver can take the run once it expires`,
      });
    });
    unregister();
    markStopped();
  }
}

type Prepared =
  | { readonly kind: "done"; readonly state: RunState; readonly outputs: unknown }
  | {
      readonly kind: "run";
      readonly state: RunState;
      readonly inputs: unknown;
      readonly seq: number;
      readonly resumed: boolean;
      readonly kept: number;
    };

async function prepare<I, O>(
  graph: TaskGraph<I, O>,
  rawInputs: unknown,
  options: RunOptions,
  store: RunStore,
  host: DriverHost,
): Promise<Prepared> {
  const { runId, clock } = host;
  const stored = await store.load(runId);
  if (!stored) {
    const inputs = await graph.parseInputs(rawInputs);
    assertStorableInputs(inputs);
    const state = createRunState({
      runId,
      graphName: graph.name,
      fingerprint: graph.fingerprint,
      inputs,
      nodeIds: graph.nodeIds(),
      now: clock.now(),
      sessionId: options.sessionId,
      agentId: options.agentId,
      appId: options.appId,
    });
    return { kind: "run", state, inputs, seq: 0, resumed: false, kept: 0 };
  }

  let state = stored.state;
  const meta = state.meta;
  if (meta.fingerprint !== graph.fingerprint) {
    if (!options.allowGraphChange) throw new GraphChangedError(runId, meta.fingerprint, graph.fingerprint);
    state = adoptGraph(state, graph.fingerprint, graph.nodeIds(), clock.now());
  }
  // Same graph, so every node has a record; a missing one means the stored run was damaged.
  const lost = graph.nodeIds().find((id) => !getNode(state.nodes, id));
  if (lost !== undefined) {
    throw new SnapshotCorruptError(stored.source ?? `run "${runId}"`, `it has no record of node "${lost}", which its graph has`);
  }
  let inputs: unknown = meta.inputs;
  if (rawInputs !== undefined) {
    const given = await graph.parseInputs(rawInputs);
    if (!sameValue(given, meta.inputs)) throw new RunInputsMismatchError(runId);
    inputs = given;
  }
  // Outputs that could not be stored exactly are computed again: the nodes (or steps) they come from are kept.
  if (meta.status === "succeeded" && meta.outputsDurable !== false) return { kind: "done", state, outputs: meta.outputs };
  // The graph may have gained (or changed) its validator since the run was stored; its fingerprint does not
  // cover it. Stored inputs it refuses never reach a node: InputValidationError, before anything is written.
  if (rawInputs === undefined) await graph.parseInputs(meta.inputs);
  const { state: reset } = resetUnfinished(state, clock.now());
  return { kind: "run", state: reset, inputs, seq: stored.seq, resumed: true, kept: countNodes(reset).settledCount };
}

/** Refuses run inputs that cannot be stored exactly: the run could not be resumed with them. */
function assertStorableInputs(inputs: unknown): void {
  let problem: string;
  try {
    const durability = checkDurable(inputs);
    if (durability.ok) return;
    problem = durability.reason;
  } catch (error) {
    problem = `reading them threw ${describe(error)}`;
  }
  throw new InputValidationError("the run's inputs", [
    { path: [], message: `they cannot be stored exactly (${problem}); pass plain data (see docs/durability.md, "What a node may return")` },
  ]);
}

/**
 * The output of every succeeded node of the graph (not of map elements or
 * steps), by node id; for a node visited more than once (a routing loop),
 * its latest visit's.
 */
export function collectOutputs(state: RunState, graph: { node(id: string): unknown }): Record<string, unknown> {
  const outputs: Record<string, unknown> = {};
  const latest = new Map<string, number>();
  for (const n of nodeRecords(state.nodes)) {
    if (n.status !== "succeeded" || !graph.node(n.nodeId)) continue;
    const visit = n.id === n.nodeId ? 1 : n.visit;
    if (visit === undefined || visit < (latest.get(n.nodeId) ?? 0)) continue;
    latest.set(n.nodeId, visit);
    outputs[n.nodeId] = n.output;
  }
  return outputs;
}

/** Rebuilds the error a stored failed run ended with. */
export function storedRunError(state: RunState): Error | undefined {
  return state.meta.error ? errorFromRecord(state.meta.error) : undefined;
}

