/**
 * The frontier: which activations may start next. One interface for plain
 * graphs and graphs with routes, so the run loop never asks which kind it
 * runs.
 *
 * - {@link PlainFrontier} wraps the pure {@link ReadySet} (AND-joins over
 *   `after` edges): an activation is a graph node, each runs once.
 * - {@link RoutingFrontier} wraps the pure {@link RoutingReadySet}: it
 *   carries out what that set decides (skips nodes, appends the records of
 *   later visits `n#k`, starts visits, stops a loop that ran out of
 *   visits), keeps each live visit and the `deps` it was started with, and
 *   gives each settled activation its place in the settle order (journaled,
 *   so a resume replays the settles in the same order).
 *
 * Invariants:
 * - `succeeded` is called once per succeeded activation, after its result
 *   is durable; what it returns runs once the activation is no longer
 *   counted as outstanding, and starts nothing once the run is stopping.
 * - A visit reads its `after` nodes' outputs as they were when it started,
 *   not as later visits leave them.
 *
 * @module
 */
import type { Clock } from "../core/clock.js";
import type { RunEvents } from "../events/run-events.js";
import { isRoute } from "../graph/route.js";
import type { TaskGraph } from "../graph/task-graph.js";
import { nodeRecords } from "../state/node-table.js";
import { markSkipped } from "../state/node-transitions.js";
import { markTriggered } from "../state/node-transitions.js";
import type { RecordBuffer } from "./record-buffer.js";
import { ReadySet } from "./ready-set.js";
import { RoutingReadySet, type RoutingStep, type Visit } from "./routing-ready-set.js";
import type { Stop } from "./loop-types.js";
import { LoopLimitExceeded, UnknownRouteError } from "./errors.js";

/** What may start next, as the run loop sees it. */
export interface Frontier {
  /** Dispatches what may start at the beginning (or on resume). */
  begin(): void;
  /**
   * Activation `id` succeeded (choosing `route`): returns what to do once
   * its result is durable and it no longer counts as outstanding, or
   * undefined when there is nothing to do (it unblocked nothing).
   * `position`: `id`'s graph position when known, else -1.
   */
  succeeded(id: string, route: string | undefined, position?: number): (() => void) | undefined;
  /**
   * The settle order the activation that settles now takes (routed graphs
   * only, else undefined): the run loop records it with the success, in
   * the same record (one copy of the record, not two), just before
   * {@link Frontier.succeeded}.
   */
  nextSettleOrder(): number | undefined;
  /** Activation `id` failed for good or was cancelled. */
  failed(id: string): void;
  /** The number of graph nodes not yet settled. */
  readonly unsettled: number;
  /** The visit `id` is, while it may run (routed graphs only). */
  visit(id: string): Visit | undefined;
  /** The `deps` a visit was started with (routed graphs only). */
  visitDeps(id: string): Record<string, unknown> | undefined;
}

/** What a frontier needs from the run loop. */
export interface FrontierHost {
  readonly stopping: Stop | undefined;
  dispatch(ids: readonly string[]): void;
  /** Dispatches the graph nodes at `positions` (of `graph.order`). */
  dispatchAt(positions: readonly number[]): void;
  nodeFailed(error: Error): void;
}

/** What a frontier works with. */
export interface FrontierEnv {
  readonly graph: TaskGraph<unknown, unknown>;
  readonly runId: string;
  readonly clock: Clock;
  readonly events: RunEvents;
  readonly buffer: RecordBuffer;
  readonly host: FrontierHost;
}

/** The frontier of a graph without routes. */
export class PlainFrontier implements Frontier {
  readonly #env: FrontierEnv;
  #readySet: ReadySet | undefined;

  constructor(env: FrontierEnv) {
    this.#env = env;
  }

  begin(): void {
    const { readySet, ready } = ReadySet.fromState(this.#env.graph, this.#env.buffer.state);
    this.#readySet = readySet;
    this.#env.host.dispatchAt(ready);
  }

  succeeded(id: string, _route?: string, position = -1): (() => void) | undefined {
    const unblocked = this.#readySet?.settle(id, position) ?? [];
    if (unblocked.length === 0) return undefined;
    return () => {
      if (!this.#env.host.stopping) this.#env.host.dispatchAt(unblocked);
    };
  }

  nextSettleOrder(): undefined {
    return undefined;
  }

  failed(): void {}

  get unsettled(): number {
    return this.#readySet?.unsettled ?? 0;
  }

  visit(): undefined {
    return undefined;
  }

  visitDeps(): undefined {
    return undefined;
  }
}

/** The frontier of a graph with routes. */
export class RoutingFrontier implements Frontier {
  readonly #env: FrontierEnv;
  readonly #maxVisits: number;
  #routing: RoutingReadySet | undefined;
  /** Visits by activation id, while they may run. */
  readonly #visits = new Map<string, Visit>();
  /** The `deps` of visits, taken when each visit was started. */
  readonly #visitDeps = new Map<string, Record<string, unknown>>();
  /** The last settle order given to an activation. */
  #settleOrder = 0;

  constructor(env: FrontierEnv, maxVisits: number) {
    this.#env = env;
    this.#maxVisits = maxVisits;
    for (const n of nodeRecords(env.buffer.state.nodes)) {
      if (n.settleOrder !== undefined && n.settleOrder > this.#settleOrder) this.#settleOrder = n.settleOrder;
    }
  }

  begin(): void {
    const { readySet, step } = RoutingReadySet.fromState(this.#env.graph, this.#env.buffer.state, this.#maxVisits);
    this.#routing = readySet;
    this.#route(step, true);
  }

  nextSettleOrder(): number {
    return ++this.#settleOrder;
  }

  succeeded(id: string, route: string | undefined): (() => void) | undefined {
    const step = (this.#routing as RoutingReadySet).settle(id, route);
    this.#visits.delete(id);
    this.#visitDeps.delete(id);
    if (step.dispatch.length > 0 || step.loopLimit !== undefined) return () => this.#route(step);
    // Nothing starts (a final stage, say): the nodes it rules out are marked now (no barrier is needed for
    // a skip, which starts nothing), and the success waits for no barrier, as a leaf's (run-loop.ts).
    this.#route(step);
    return undefined;
  }

  failed(id: string): void {
    this.#routing?.fail(id);
  }

  get unsettled(): number {
    return this.#routing?.unsettled ?? 0;
  }

  visit(id: string): Visit | undefined {
    return this.#visits.get(id);
  }

  visitDeps(id: string): Record<string, unknown> | undefined {
    return this.#visitDeps.get(id);
  }

  /**
   * Carries out what the routing ready set decided. `resumed`: the step
   * rebuilds a stored run (nodes it skipped were skipped before; no events for them).
   */
  #route(step: RoutingStep, resumed = false): void {
    const { buffer, events, clock, graph, host } = this.#env;
    const now = clock.now();
    for (const id of step.skipped) {
      if (buffer.get(id)?.status === "skipped") continue;
      buffer.transition(markSkipped(now), id, false);
      if (!resumed) events.emit("node:skip", { runId: this.#env.runId, at: now, nodeId: id });
    }
    const ids: string[] = [];
    for (const visit of step.dispatch) {
      this.#visits.set(visit.id, visit);
      const trigger = visit.trigger && { from: visit.trigger.from, route: visit.trigger.route };
      if (!buffer.get(visit.id)) {
        buffer.append([{ id: visit.id, nodeId: visit.nodeId, status: "pending", attempts: 0, visit: visit.visit, ...(trigger && { trigger }) }]);
      } else if (trigger) {
        buffer.change(visit.id, markTriggered(trigger));
      }
      // A visit reads its after nodes' outputs as they are now, not as later visits leave them.
      const after = graph.node(visit.nodeId)?.after ?? [];
      if (after.length > 0) this.#visitDeps.set(visit.id, Object.fromEntries(after.map((dep) => [dep, buffer.output(dep)])));
      ids.push(visit.id);
    }
    if (!resumed) {
      for (const d of step.dropped ?? []) {
        events.emit("warning", {
          runId: this.#env.runId,
          at: now,
          nodeId: d.from,
          code: "ROUTE_TARGET_SKIPPED",
          message:
            `node "${d.fromNode}" took route "${d.route}" to "${d.target}", which was skipped before (nothing could start it then), so "${d.target}" does not run. ` +
            `This happens when a join waits for "${d.target}" in its after list and routes to it: route to another node, or take "${d.target}" out of that after list`,
        });
      }
    }
    if (step.loopLimit) host.nodeFailed(new LoopLimitExceeded(step.loopLimit.nodeId, step.loopLimit.maxVisits));
    if (!host.stopping) host.dispatch(ids);
  }
}

/** A node's result once its route is taken off: the output and route, or the error of a route it cannot take. */
export type Unrouted = { readonly value: unknown; readonly route?: string } | { readonly error: UnknownRouteError };

/** Takes the route off graph node `nodeId`'s result (a node without routes must not return one). */
export function unroute(graph: TaskGraph<unknown, unknown>, nodeId: string, value: unknown): Unrouted {
  // A graph without routes (most) needs no lookup of the node.
  const routes = graph.routing === undefined ? undefined : graph.node(nodeId)?.routes;
  if (!routes) return isRoute(value) ? { error: new UnknownRouteError(nodeId, value.name, []) } : { value };
  if (!isRoute(value)) return { error: new UnknownRouteError(nodeId, undefined, Object.keys(routes)) };
  if (!Object.prototype.hasOwnProperty.call(routes, value.name)) {
    return { error: new UnknownRouteError(nodeId, value.name, Object.keys(routes)) };
  }
  return { value: value.value, route: value.name };
}
