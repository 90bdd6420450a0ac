/**
 * Routed runs against a model of the rules (`engine/routing-ready-set.ts`,
 * module comment), over random graphs without loops: which nodes run, and
 * in what order. Each graph's nodes are declared in order, `after` lists
 * and routes point only forward, and a route-gated node is the target of
 * one or two routing nodes and has no `after` list. The model:
 *
 * - a node some route leads to (route-gated) runs once for each run of a
 *   node routing to it that chose it (twice when both of its routers chose
 *   it): so a router that leaves it out must not skip it while the other
 *   may still choose it;
 * - any other node runs once at the start when it has no `after` list,
 *   else once every node of its list settled, when at least one of them
 *   ran (its list names only nodes that run at most once).
 *
 * A node that runs does so after a node of its `after` list that ran, or
 * after a router that chose it, and the run succeeds.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { graph, MemoryStore, route, run, runAsync, type RunState, type TaskGraph } from "../src/index.js";
import { getNode } from "../src/state/node-table.js";

function nodeStatus(state: RunState | undefined, id: string): string | undefined {
  return state === undefined ? undefined : getNode(state.nodes, id)?.status;
}

/** The builder with node ids known only at run time (the typed builder's node map needs literal ids). */
interface LooseBuilder {
  node(id: string, fn: () => unknown, options: { after?: readonly string[]; routes?: Record<string, string> }): LooseBuilder;
  output(fn: () => null): { build(): TaskGraph<undefined, null> };
}

interface NodeShape {
  readonly after: readonly number[];
  /** Route name → target, for a routing node. */
  readonly routes: Readonly<Record<string, number>> | undefined;
  /** The route it takes, for a routing node. */
  readonly choice: string | undefined;
}

/** Random loop-free routed graphs of 2 to 9 nodes. */
const shapes = fc.integer({ min: 2, max: 9 }).chain((n) =>
  fc
    .tuple(
      fc.array(fc.array(fc.boolean(), { minLength: n, maxLength: n }), { minLength: n, maxLength: n }),
      fc.array(fc.array(fc.boolean(), { minLength: n, maxLength: n }), { minLength: n, maxLength: n }),
      fc.array(fc.nat(), { minLength: n, maxLength: n }),
    )
    .map(([afterBits, routeBits, choices]) => {
      /** How many routers each node has (all of a node's routers come before it). */
      const routers = new Map<number, number[]>();
      /** Nodes that may run more than once: gated by two routers, or by one that may. */
      const mayRepeat = new Set<number>();
      const nodes: NodeShape[] = [];
      for (let i = 0; i < n; i++) {
        const mine = routers.get(i) ?? [];
        if (mine.length > 1 || mine.some((r) => mayRepeat.has(r))) mayRepeat.add(i);
        // A gated node's `after` list is data it reads and must name nodes its router runs after: left empty here.
        const after = mine.length > 0 ? [] : afterBits[i]!.flatMap((on, j) => (on && j < i && !mayRepeat.has(j) ? [j] : []));
        const targets = routeBits[i]!.flatMap((on, j) => (on && j > i && (routers.get(j)?.length ?? 0) < 2 ? [j] : []));
        for (const t of targets) routers.set(t, [...(routers.get(t) ?? []), i]);
        const routes = targets.length === 0 ? undefined : Object.fromEntries(targets.map((t) => [`to${t}`, t]));
        nodes.push({ after, routes, choice: targets.length === 0 ? undefined : `to${targets[choices[i]! % targets.length]}` });
      }
      return nodes;
    }),
);

/** The routers of each gated node. */
function routersOf(nodes: readonly NodeShape[]): Map<number, number[]> {
  const routers = new Map<number, number[]>();
  nodes.forEach((node, i) => {
    for (const t of Object.values(node.routes ?? {})) routers.set(t, [...(routers.get(t) ?? []), i]);
  });
  return routers;
}

/** How many times each node runs, by the model in the module comment. */
function modelRuns(nodes: readonly NodeShape[]): number[] {
  const routers = routersOf(nodes);
  const runs: number[] = [];
  nodes.forEach((node, i) => {
    const mine = routers.get(i);
    if (mine !== undefined) runs.push(mine.reduce((sum, r) => sum + (nodes[r]!.choice === `to${i}` ? runs[r]! : 0), 0));
    else runs.push(node.after.length === 0 || node.after.some((j) => runs[j]! > 0) ? 1 : 0);
  });
  return runs;
}

describe("routed runs follow the routing rules", () => {
  it("a join that a skip starts may still route to a node an earlier router left out", async () => {
    // "triage" takes "done": "fix" and "review" are left out, and "fix" is skipped, then "patch" after it.
    // "check" waits for "triage" and "patch": once "patch" is skipped it starts, and routes to "review",
    // which must not have been skipped meanwhile (it was, when only live nodes held a skip back).
    const ran: string[] = [];
    const body = (id: string, choice?: string) => () => {
      ran.push(id);
      return choice === undefined ? id : route(choice, id);
    };
    const g = graph("late-join")
      .node("triage", body("triage", "done"), { routes: { fix: "fix", review: "review", done: "done" } })
      .node("fix", body("fix", "patch"), { routes: { patch: "patch" } })
      .node("patch", body("patch"))
      .node("done", body("done"))
      .node("check", body("check", "review"), { after: ["triage", "patch"], routes: { review: "review" } })
      .node("review", body("review"))
      .output(() => null)
      .build();
    const handle = run(g, undefined, { store: new MemoryStore(), runId: "late-join" });
    await handle.result();
    expect(ran).toContain("check");
    expect(ran).toContain("review");
    expect(ran.indexOf("review")).toBeGreaterThan(ran.indexOf("check"));
    expect(nodeStatus(handle.state, "review")).toBe("succeeded");
    expect(nodeStatus(handle.state, "fix")).toBe("skipped");
    expect(nodeStatus(handle.state, "patch")).toBe("skipped");
  });

  it("property: each node runs as often as the model says, after what started it", async () => {
    await fc.assert(
      fc.asyncProperty(shapes, async (nodes) => {
        const ran: number[] = [];
        let b = graph("routed-property") as unknown as LooseBuilder;
        nodes.forEach((node, i) => {
          b = b.node(
            `n${i}`,
            () => {
              ran.push(i);
              return node.choice === undefined ? i : route(node.choice, i);
            },
            {
              ...(node.after.length > 0 && { after: node.after.map((j) => `n${j}`) }),
              ...(node.routes !== undefined && { routes: Object.fromEntries(Object.entries(node.routes).map(([name, t]) => [name, `n${t}`])) }),
            },
          );
        });
        const g = b.output(() => null).build();
        await runAsync(g, undefined, { store: new MemoryStore(), runId: "routed" });

        const counts = nodes.map((_, i) => ran.filter((r) => r === i).length);
        expect(counts).toEqual(modelRuns(nodes));
        // Each node's first run comes after the first run of something that started it.
        const first = (i: number): number => ran.indexOf(i);
        const routers = routersOf(nodes);
        for (const i of new Set(ran)) {
          const starters = routers.get(i)?.filter((r) => nodes[r]!.choice === `to${i}`) ?? nodes[i]!.after;
          if (starters.length === 0) continue;
          const started = starters.map(first).filter((k) => k >= 0);
          expect(started.length).toBeGreaterThan(0);
          expect(Math.min(...started)).toBeLessThan(first(i));
        }
      }),
      { numRuns: 500 },
    );
  });
});
