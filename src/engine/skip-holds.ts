/**
 * What holds a node of a routed run back from being skipped: the queries
 * {@link RoutingReadySet} asks before it skips a node that never ran
 * (`routing-ready-set.ts`, `#resolve`, which decides and skips; this file
 * only reads the nodes' states, never changes them).
 *
 * A node that never ran may be skipped once nothing that could still start
 * it is left. What counts as "could still start it", under each rule:
 * - "undecided" (the rule of every change): a node before it (through
 *   `after` edges and routes) that is live, failed, or not decided yet
 *   (neither ran nor was skipped: a join whose last `after` node is
 *   skipped starts, and may route to the candidate);
 * - "starters" (nothing is live or failed, and the nodes left hold each
 *   other back, as the nodes on a loop of routes do): only a *starter*, a
 *   join not decided yet with a node of its `after` list that succeeded,
 *   which starts once the rest of its list is skipped, and may then route
 *   to any node after it; a starter holds itself back too;
 * - "none": nothing (no starter is left either).
 * Starters that wait for nodes only starters can start (a join waits for a
 * node that a route after it leads back to) hold each other back for good:
 * {@link SkipHolds.deadlockVictim} names the one node to skip then.
 *
 * The walk back from a node does not go past a skipped node: it never
 * runs, so nothing before it can reach the node through it (a chain of
 * skipped nodes costs a step each, not its length). It runs at every
 * settle of a routed run, so it reuses one set and one stack (it is never
 * reentered).
 *
 * @module
 */
import type { RoutingTopology } from "../graph/routing-topology.js";
import type { TaskGraph } from "../graph/task-graph.js";

/** What the ready-set tracks of each node: `routing-ready-set.ts` writes it, the holds here read it. */
export interface NodeState {
  /** Visits started so far. */
  visits: number;
  /** Visits started and not settled. */
  live: number;
  succeeded: boolean;
  failed: boolean;
  skipped: boolean;
  /** An `after` node succeeded since this node's last visit began. */
  fresh: boolean;
}

/** The rule a skip is decided under (module comment): what holds a node back besides live and failed nodes. */
export type SkipRule = "undecided" | "starters" | "none";

/** What a walk back from a node looks for: a hold under a rule, or a starter outside a given set. */
type Sought = "undecided" | "starters" | "other-starter";

/** No ids: the `except` of a walk for holds, made once. */
const NO_IDS: readonly string[] = [];

/** The hold queries over the node states of one routed run. */
export class SkipHolds {
  readonly #graph: TaskGraph<unknown, unknown>;
  readonly #topology: RoutingTopology;
  readonly #nodes: ReadonlyMap<string, NodeState>;
  readonly #seen = new Set<string>();
  readonly #stack: string[] = [];

  constructor(graph: TaskGraph<unknown, unknown>, topology: RoutingTopology, nodes: ReadonlyMap<string, NodeState>) {
    this.#graph = graph;
    this.#topology = topology;
    this.#nodes = nodes;
  }

  /** True when something could still start `id` under `rule` (module comment). */
  blocked(id: string, rule: SkipRule): boolean {
    if (rule === "none") return false;
    if (rule === "starters" && this.#starter(id, this.#state(id))) return true;
    return this.#walkFinds(id, rule, NO_IDS);
  }

  /** True when some node is a starter: without one, the rule after "undecided" is "none". */
  anyStarter(): boolean {
    for (const [id, s] of this.#nodes) if (this.#starter(id, s)) return true;
    return false;
  }

  /**
   * The node to skip when only starters hold the rest back: a node a
   * starter waits for and is no starter itself, so that the starter
   * starts (and may then route to it, a route that is dropped and
   * reported, as the graph asks for the node both before and after the
   * join); preferably one that no other starter can reach. Else the first
   * node not decided yet. The first in `work` of each kind.
   */
  deadlockVictim(work: readonly string[]): string | undefined {
    let waitedFor: string | undefined;
    let first: string | undefined;
    for (const id of work) {
      const s = this.#state(id);
      if (s.visits > 0 || s.skipped) continue;
      first ??= id;
      if (this.#starter(id, s)) continue;
      const waiting = this.#graph.successors(id).filter((j) => this.#starter(j, this.#state(j)));
      if (waiting.length === 0) continue;
      if (!this.#walkFinds(id, "other-starter", waiting)) return id;
      waitedFor ??= id;
    }
    return waitedFor ?? first;
  }

  /** A join not decided yet that starts once the rest of its `after` list is skipped: not route-gated, and a node of its list succeeded. */
  #starter(id: string, s: NodeState): boolean {
    return s.visits === 0 && !s.skipped && s.fresh && !this.#topology.isGated(id);
  }

  #state(id: string): NodeState {
    return this.#nodes.get(id) as NodeState;
  }

  /** Walks back from `id` for a node that holds it under `sought` ("other-starter": a starter not in `except`). */
  #walkFinds(id: string, sought: Sought, except: readonly string[]): boolean {
    const seen = this.#seen;
    const stack = this.#stack;
    seen.clear();
    stack.length = 0;
    seen.add(id);
    for (const p of this.#topology.predecessors(id)) stack.push(p);
    let found = false;
    while (stack.length > 0) {
      const p = stack.pop() as string;
      if (seen.has(p)) continue;
      seen.add(p);
      const s = this.#state(p);
      if (s.skipped) continue;
      const holds =
        sought === "other-starter"
          ? this.#starter(p, s) && !except.includes(p)
          : s.live > 0 || s.failed || (sought === "undecided" ? s.visits === 0 : this.#starter(p, s));
      if (holds) {
        found = true;
        break;
      }
      for (const q of this.#topology.predecessors(p)) stack.push(q);
    }
    seen.clear();
    stack.length = 0;
    return found;
  }
}
