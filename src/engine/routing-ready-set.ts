/**
 * Ready-set propagation for graphs with routes, pure: no timers, no I/O.
 * The scheduler tells it each time an activation succeeds (with the route
 * it chose) or fails; it answers with the activations to start, the nodes
 * to skip, and whether a loop ran out of visits.
 *
 * Rules (see `graph/routing-topology.ts` for gated nodes and loops):
 * - A node that is not route-gated starts when every node in its `after`
 *   list has settled (succeeded or been skipped), at least one succeeded,
 *   and one of them succeeded since its last visit began. With no `after`
 *   nodes it starts at the beginning.
 * - A route starts its targets (OR-join). A gated node starts only so.
 * - Each start asked for is a new visit, at once (so a node after a
 *   looping node runs once per visit of it, with that visit's output).
 *   Visit `k` of node `n` is activation `n` for k = 1, else `n#k`
 *   (`visitId` of `core/ids.ts`, which owns the format); beyond
 *   the node's `maxVisits` the loop stops with a loop-limit result instead.
 * - A node that never ran is skipped once nothing that could still start
 *   it is live, failed or undecided: no ancestor (through `after` edges
 *   and routes) has a live activation, failed, or neither ran nor was
 *   skipped (a join whose last `after` node is skipped starts, and may
 *   route to the candidate). Candidates are checked when a routing node
 *   leaves them out, when a node before them is skipped, again within the
 *   same change once it skipped something, and after every change while
 *   something blocks them.
 * - When nothing is live or failed, what still holds itself back (nodes on
 *   a loop of routes, each before the other) is skipped, except what a
 *   join about to start could reach: such a join starts once the rest of
 *   its `after` list is skipped and may route to it. Joins that wait for
 *   each other have one of the nodes they wait for skipped, one at a time.
 *   What holds a node back under each rule is `skip-holds.ts`; when and
 *   in what order the rules apply is `#resolve` here.
 *
 * Given the same sequence of settle calls it makes the same decisions,
 * which is how {@link RoutingReadySet.fromState} rebuilds it on resume: it
 * replays the stored activations in the order they settled.
 *
 * @module
 */
import { visitId } from "../core/ids.js";
import type { RoutingTopology } from "../graph/routing-topology.js";
import type { TaskGraph } from "../graph/task-graph.js";
import { nodeRecords } from "../state/node-table.js";
import type { NodeRecord } from "../state/records.js";
import type { RunState } from "../state/run-state.js";
import { SkipHolds, type NodeState, type SkipRule } from "./skip-holds.js";

/** What started a visit: the routing activation, its node and the route. */
export interface VisitTrigger {
  /** The routing activation's id. */
  readonly from: string;
  /** The routing node's id. */
  readonly fromNode: string;
  /** The route chosen. */
  readonly route: string;
}

/** One visit of a node: an activation to start. */
export interface Visit {
  /** The activation id: `nodeId` for the first visit, `nodeId#visit` after. */
  readonly id: string;
  /** The node. */
  readonly nodeId: string;
  /** The visit number, from 1. */
  readonly visit: number;
  /** The route that started it, if a route did. */
  readonly trigger?: VisitTrigger;
}

/** What one change leads to. */
export interface RoutingStep {
  /** Activations to start, in order. */
  readonly dispatch: Visit[];
  /** Nodes that will not run. */
  readonly skipped: string[];
  /** Set when a node was asked for a visit beyond its limit. */
  loopLimit?: { readonly nodeId: string; readonly maxVisits: number };
  /** Routes taken to nodes skipped before (the graph asked for them before the routing node too): they start nothing. */
  dropped?: Array<VisitTrigger & { readonly target: string }>;
}

type Request = VisitTrigger | "join";

/** Tracks which nodes of a routed graph start, run again, or are skipped. */
export class RoutingReadySet {
  readonly #graph: TaskGraph<unknown, unknown>;
  readonly #topology: RoutingTopology;
  readonly #maxVisits: number;
  readonly #nodes = new Map<string, NodeState>();
  /** Live activation id → node id. */
  readonly #live = new Map<string, string>();
  /** Nodes that could not be skipped yet because something before them was live. */
  readonly #deferred = new Set<string>();
  /** Triggers of live activations that a route started. */
  readonly #triggers = new Map<string, VisitTrigger>();
  #failed = 0;
  readonly #holds: SkipHolds;

  constructor(graph: TaskGraph<unknown, unknown>, maxVisits: number) {
    if (!graph.routing) throw new Error(`taskloom internal error: graph "${graph.name}" has no routes`);
    this.#graph = graph;
    this.#topology = graph.routing;
    this.#maxVisits = maxVisits;
    for (const id of graph.order) {
      this.#nodes.set(id, { visits: 0, live: 0, succeeded: false, failed: false, skipped: false, fresh: false });
    }
    this.#holds = new SkipHolds(graph, this.#topology, this.#nodes);
  }

  /**
   * Rebuilds the set of a stored run by replaying its succeeded
   * activations in the order they settled. `step.dispatch` lists the
   * activations to (re)start now; `step.skipped` every node the replay skipped.
   */
  static fromState(graph: TaskGraph<unknown, unknown>, state: RunState, maxVisits: number): { readySet: RoutingReadySet; step: RoutingStep } {
    // `this`, not the class's name: a class body that names its class is renamed by the build (scripts/build.mjs).
    const readySet = new this(graph, maxVisits);
    const all: RoutingStep = { dispatch: [], skipped: [] };
    const absorb = (step: RoutingStep): void => {
      all.skipped.push(...step.skipped);
      if (step.loopLimit) all.loopLimit ??= step.loopLimit;
    };
    absorb(readySet.start());
    const ordered: NodeRecord[] = [];
    let unordered: NodeRecord[] = [];
    for (const n of nodeRecords(state.nodes)) {
      if (n.status !== "succeeded" || n.durable === false) continue;
      if (n.settleOrder !== undefined) ordered.push(n);
      else unordered.push(n);
    }
    ordered.sort((a, b) => (a.settleOrder as number) - (b.settleOrder as number));
    for (const n of ordered) if (readySet.isLive(n.id)) absorb(readySet.settle(n.id, n.route));
    // Settled without a recorded order (a crash before it was written): in any order the replay allows.
    for (let progress = true; progress && unordered.length > 0;) {
      progress = false;
      const rest: NodeRecord[] = [];
      for (const n of unordered) {
        if (readySet.isLive(n.id)) {
          absorb(readySet.settle(n.id, n.route));
          progress = true;
        } else rest.push(n);
      }
      unordered = rest;
    }
    all.dispatch.push(...readySet.liveVisits());
    return { readySet, step: all };
  }

  /** The activations to start at the beginning of a run. */
  start(): RoutingStep {
    const step: RoutingStep = { dispatch: [], skipped: [] };
    for (const id of this.#graph.order) {
      const node = this.#graph.node(id);
      if (node && node.after.length === 0 && !this.#topology.isGated(id)) this.#request(id, "join", step);
    }
    this.#resolve([], step);
    return step;
  }

  /** True when activation `id` was started and has not settled. */
  isLive(id: string): boolean {
    return this.#live.has(id);
  }

  /** The live activations, in the order they started. */
  liveVisits(): Visit[] {
    const visits: Visit[] = [];
    for (const [id, nodeId] of this.#live) {
      const visit = (this.#nodes.get(nodeId) as NodeState).visits;
      visits.push({ id, nodeId, visit, ...(this.#triggers.has(id) && { trigger: this.#triggers.get(id) }) });
    }
    return visits;
  }

  /** The number of nodes that neither ran nor were skipped, plus live ones. */
  get unsettled(): number {
    let n = 0;
    for (const s of this.#nodes.values()) if (s.live > 0 || (s.visits === 0 && !s.skipped)) n += 1;
    return n;
  }

  /** Activation `id` succeeded, choosing `route` (for a routing node). */
  settle(id: string, route: string | undefined): RoutingStep {
    const step: RoutingStep = { dispatch: [], skipped: [] };
    const nodeId = this.#end(id);
    if (nodeId === undefined) return step;
    const state = this.#nodes.get(nodeId) as NodeState;
    state.succeeded = true;
    state.failed = false;
    const candidates: string[] = [];
    const routes = this.#graph.routesOf(nodeId);
    if (routes) {
      const chosen = route !== undefined ? (routes[route] ?? []) : [];
      for (const target of chosen) this.#request(target, { from: id, fromNode: nodeId, route: route as string }, step);
      for (const t of this.#topology.routeTargets(nodeId)) if (!chosen.includes(t)) candidates.push(t);
    }
    for (const dependent of this.#graph.successors(nodeId)) this.#afterSettled(dependent, true, step, candidates);
    this.#resolve(candidates, step);
    return step;
  }

  /** Activation `id` failed for good (its node's dependents cannot start, and nothing before them can be skipped). */
  fail(id: string): RoutingStep {
    const step: RoutingStep = { dispatch: [], skipped: [] };
    const nodeId = this.#end(id);
    if (nodeId === undefined) return step;
    const state = this.#nodes.get(nodeId) as NodeState;
    if (!state.failed) this.#failed += 1;
    state.failed = true;
    return step;
  }

  #end(id: string): string | undefined {
    const nodeId = this.#live.get(id);
    if (nodeId === undefined) return undefined;
    this.#live.delete(id);
    this.#triggers.delete(id);
    (this.#nodes.get(nodeId) as NodeState).live -= 1;
    return nodeId;
  }

  /** An `after` node of `id` settled (succeeded, or was skipped): `id` may start, or become a skip candidate. */
  #afterSettled(id: string, succeeded: boolean, step: RoutingStep, candidates: string[]): void {
    const state = this.#nodes.get(id) as NodeState;
    if (succeeded) state.fresh = true;
    if (this.#topology.isGated(id)) return; // its after list is data; only routes start it
    let anySucceeded = false;
    for (const dep of this.#graph.node(id)?.after ?? []) {
      const d = this.#nodes.get(dep) as NodeState;
      if (d.succeeded) anySucceeded = true;
      else if (!d.skipped) return; // not settled yet
    }
    if (!anySucceeded) candidates.push(id);
    else if (state.fresh) this.#request(id, "join", step);
  }

  /** Starts a visit of `id`. */
  #request(id: string, request: Request, step: RoutingStep): void {
    const state = this.#nodes.get(id) as NodeState;
    if (state.skipped) {
      if (request !== "join") (step.dropped ??= []).push({ ...request, target: id });
      return;
    }
    const visit = state.visits + 1;
    const limit = this.#graph.node(id)?.maxVisits ?? this.#maxVisits;
    if (visit > limit) {
      step.loopLimit ??= { nodeId: id, maxVisits: limit };
      return;
    }
    state.visits = visit;
    state.fresh = false;
    state.failed = false;
    const activation = visitId(id, visit);
    state.live += 1;
    this.#live.set(activation, id);
    if (request !== "join") this.#triggers.set(activation, request);
    step.dispatch.push({ id: activation, nodeId: id, visit, ...(request !== "join" && { trigger: request }) });
  }

  /**
   * Skips every candidate (and what follows from it) that nothing could
   * still start; `candidates` is the caller's, and used up. A node not
   * decided yet before a candidate (it never ran and was not skipped) may
   * still be started by the skips of this very call (a join whose last
   * `after` node is skipped starts) and route to the candidate, so it
   * holds the candidate back like a live node; the candidates held back
   * are looked at again once the call skipped something, until nothing
   * more is decided.
   *
   * What is then still held back while nothing is live or failed holds
   * itself back: nodes on a loop of routes, each before the other. Of
   * those, only what no starter can reach is skipped (the rules are
   * `skip-holds.ts`'s). Once a skip of this kind starts something, the
   * rule goes back to the first one, under which the started node holds
   * back what it can reach. Starters that wait for nodes only starters can
   * start hold each other back for good: one node is skipped
   * ({@link SkipHolds.deadlockVictim}), and the rules are applied again.
   */
  #resolve(candidates: string[], step: RoutingStep): void {
    let work = candidates;
    for (const id of this.#deferred) work.push(id);
    this.#deferred.clear();
    if (this.#live.size === 0 && this.#failed === 0) {
      for (const [id, s] of this.#nodes) if (s.visits === 0 && !s.skipped) work.push(id);
    }
    // The rule, or "deadlock": only the one node `SkipHolds.deadlockVictim` names may be skipped.
    let rule: SkipRule | "deadlock" = "undecided";
    for (;;) {
      let skipped = false;
      const victim = rule === "deadlock" ? this.#holds.deadlockVictim(work) : undefined;
      // First in, first out, read by an index: the list is the caller's, and nothing is taken off it.
      for (let at = 0; at < work.length; at++) {
        const id = work[at] as string;
        const state = this.#nodes.get(id) as NodeState;
        if (state.visits > 0 || state.skipped) continue;
        if (rule === "deadlock" ? id !== victim : this.#holds.blocked(id, rule)) {
          this.#deferred.add(id);
          continue;
        }
        state.skipped = true;
        skipped = true;
        step.skipped.push(id);
        for (const dependent of this.#graph.successors(id)) this.#afterSettled(dependent, false, step, work);
        for (const t of this.#topology.routeTargets(id)) work.push(t);
        if (rule !== "undecided" && (this.#live.size > 0 || rule === "deadlock")) {
          // Something started (or the deadlock is broken): the rest waits for the first rule, under which it holds.
          for (let rest = at + 1; rest < work.length; rest++) this.#deferred.add(work[rest] as string);
          break;
        }
      }
      if (this.#deferred.size === 0) return;
      if (skipped) rule = "undecided";
      else {
        if (this.#live.size > 0 || this.#failed > 0) return;
        // With no starter left, nothing holds: skipped without a walk each (a pass skips, and no skip makes a starter).
        rule = rule === "undecided" ? (this.#holds.anyStarter() ? "starters" : "none") : "deadlock";
      }
      work = [...this.#deferred];
      this.#deferred.clear();
    }
  }
}
