/**
 * Routed runs against a model of the rules (`engine/routing-ready-set.ts`,
 * module comment), over random graphs: which nodes run, and in what order.
 * Each graph's nodes are declared in order, `after` lists and the routes
 * taken point only forward, and a route-gated node is the target of one or
 * two routing nodes and has no `after` list. The second property adds
 * decoys: routes never taken, backward too, so that loops of routes that
 * never run hold skips back until nothing is live (a decoy that is no back
 * edge gates its target, which then never runs). The model:
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
import { graph, MemoryStore, route, run, type RunState, type TaskGraph } from "../src/index.js";
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

/**
 * Random routed graphs of 2 to 9 nodes. Routes a node takes point forward;
 * with `decoys`, a routing node also has routes it never takes, to any
 * other node (backward too): loops of routes that never run, which hold
 * the skips of what they lead to back until nothing is live.
 */
const shapesWith = (decoys: boolean) =>
  fc.integer({ min: 2, max: 9 }).chain((n) =>
    fc
      .tuple(
        fc.array(fc.array(fc.boolean(), { minLength: n, maxLength: n }), { minLength: n, maxLength: n }),
        fc.array(fc.array(fc.boolean(), { minLength: n, maxLength: n }), { minLength: n, maxLength: n }),
        fc.array(fc.nat(), { minLength: n, maxLength: n }),
        fc.array(fc.array(fc.integer({ min: 0, max: decoys ? 3 : 0 }), { minLength: n, maxLength: n }), { minLength: n, maxLength: n }),
      )
      .map(([afterBits, routeBits, choices, decoyDice]) => {
        /** How many routers each node has (all of a node's routers come before it). */
        const routers = new Map<number, number[]>();
        /** Nodes that may run more than once: gated by two routers, or by one that may. */
        const mayRepeat = new Set<number>();
        /** Decoy routes drawn (1 in 4 of the pairs); kept only on nodes that route for real too. */
        const decoyOf = (i: number): number[] => decoyDice[i]!.flatMap((d, j) => (decoys && d === 3 && j !== i ? [j] : []));
        const real = new Set<number>();
        for (let i = 0; i < n; i++) if (routeBits[i]!.some((on, j) => on && j > i)) real.add(i);
        /** Nodes a kept decoy route leads to: gated, so their `after` list is left empty. */
        const decoyTargets = new Set<number>();
        for (const i of real) for (const j of decoyOf(i)) decoyTargets.add(j);
        const nodes: NodeShape[] = [];
        for (let i = 0; i < n; i++) {
          const mine = routers.get(i) ?? [];
          if (mine.length > 1 || mine.some((r) => mayRepeat.has(r))) mayRepeat.add(i);
          // A gated node's `after` list is data it reads and must name nodes its router runs after: left empty here.
          const gated = mine.length > 0 || decoyTargets.has(i);
          const after = gated ? [] : afterBits[i]!.flatMap((on, j) => (on && j < i && !mayRepeat.has(j) ? [j] : []));
          const targets = routeBits[i]!.flatMap((on, j) => (on && j > i && (routers.get(j)?.length ?? 0) < 2 ? [j] : []));
          for (const t of targets) routers.set(t, [...(routers.get(t) ?? []), i]);
          const decoyRoutes = targets.length === 0 || !real.has(i) ? [] : decoyOf(i).filter((j) => !targets.includes(j));
          const routes =
            targets.length === 0
              ? undefined
              : Object.fromEntries<number>([
                  ...targets.map((t): [string, number] => [`to${t}`, t]),
                  ...decoyRoutes.map((t): [string, number] => [`decoy${t}`, t]),
                ]);
          nodes.push({ after, routes, choice: targets.length === 0 ? undefined : `to${targets[choices[i]! % targets.length]}` });
        }
        return nodes;
      }),
  );

/** Random loop-free routed graphs of 2 to 9 nodes. */
const shapes = shapesWith(false);

/** The routers of each node a route may take (decoys left out: they never run). */
function routersOf(nodes: readonly NodeShape[]): Map<number, number[]> {
  const routers = new Map<number, number[]>();
  nodes.forEach((node, i) => {
    for (const [name, t] of Object.entries(node.routes ?? {})) if (name.startsWith("to")) routers.set(t, [...(routers.get(t) ?? []), i]);
  });
  return routers;
}

/**
 * How many times each node runs, by the model in the module comment.
 * `gated` says which nodes are route-gated: by default those a route may
 * take leads to; with decoys, the graph's own reading, for a decoy that is
 * no back edge gates its target too (and one that is leaves a loop head
 * that starts from its `after` list).
 */
function modelRuns(nodes: readonly NodeShape[], gated: (i: number) => boolean = (i) => routersOf(nodes).has(i)): number[] {
  const routers = routersOf(nodes);
  const runs: number[] = [];
  nodes.forEach((node, i) => {
    if (gated(i)) runs.push((routers.get(i) ?? []).reduce((sum, r) => sum + (nodes[r]!.choice === `to${i}` ? runs[r]! : 0), 0));
    else runs.push(node.after.length === 0 || node.after.some((j) => runs[j]! > 0) ? 1 : 0);
  });
  return runs;
}

/** Node bodies that record their runs in `ran`, in order: `body(id, choice)` routes to `choice` when given. */
function recorder(): { ran: string[]; body: (id: string, choice?: string) => () => unknown } {
  const ran: string[] = [];
  const body = (id: string, choice?: string) => () => {
    ran.push(id);
    return choice === undefined ? id : route(choice, id);
  };
  return { ran, body };
}

/** Runs `g` on a MemoryStore: the handle, once the run ended, and the warnings it emitted. */
async function runWithWarnings(
  g: TaskGraph<undefined, null>,
  runId: string,
): Promise<{ handle: ReturnType<typeof run<undefined, null>>; warnings: { nodeId?: string; code: string; message: string }[] }> {
  const handle = run(g, undefined, { store: new MemoryStore(), runId });
  const warnings: { nodeId?: string; code: string; message: string }[] = [];
  handle.events.on("warning", (e) => warnings.push(e));
  await handle.result();
  return { handle, warnings };
}

describe("routed runs follow the routing rules", () => {
  it("a join that a skip starts may still route to a node an earlier router left out", async () => {
    // "triage" takes "done": "fix" and "review" are left out, and "fix" is skipped, then "patch" after it.
    // "check" waits for "triage" and "patch": once "patch" is skipped it starts, and routes to "review",
    // which must not have been skipped meanwhile (it was, when only live nodes held a skip back).
    const { ran, body } = recorder();
    const g = graph("late-join")
      .node("triage", body("triage", "done"), { routes: { fix: "fix", review: "review", done: "done" } })
      .node("fix", body("fix", "patch"), { routes: { patch: "patch" } })
      .node("patch", body("patch"))
      .node("done", body("done"))
      .node("check", body("check", "review"), { after: ["triage", "patch"], routes: { review: "review" } })
      .node("review", body("review"))
      .output(() => null)
      .build();
    const { handle } = await runWithWarnings(g, "late-join");
    expect(ran).toContain("check");
    expect(ran).toContain("review");
    expect(ran.indexOf("review")).toBeGreaterThan(ran.indexOf("check"));
    expect(nodeStatus(handle.state, "review")).toBe("succeeded");
    expect(nodeStatus(handle.state, "fix")).toBe("skipped");
    expect(nodeStatus(handle.state, "patch")).toBe("skipped");
  });

  it("a join that the skip of a loop starts may still route to a node a router left out", async () => {
    // "s" takes "done" and leaves out "y" and "a". "a" and "b" route to each other (a loop that never runs),
    // and "b" to "x"; "j" waits for "s" and "x". Once "done" settled nothing was live, and every node not
    // decided yet was skipped in the order it was found: "y" first, then "a", "b" and "x", whose skip
    // started "j", which routed to "y", already skipped. Now only what no join about to start can reach is
    // skipped so, and "j" holds "y" back.
    const { ran, body } = recorder();
    const g = graph("loop-join")
      .node("s", body("s", "done"), { routes: { a: "a", y: "y", done: "done" } })
      .node("done", body("done"))
      .node("a", body("a", "b"), { routes: { b: "b" } })
      .node("b", body("b", "x"), { routes: { a: "a", x: "x" } })
      .node("x", body("x"))
      .node("j", body("j", "y"), { after: ["s", "x"], routes: { y: "y" } })
      .node("y", body("y"))
      .output(() => null)
      .build();
    const { handle } = await runWithWarnings(g, "loop-join");
    expect(ran).toEqual(["s", "done", "j", "y"]);
    expect(nodeStatus(handle.state, "y")).toBe("succeeded");
    for (const id of ["a", "b", "x"]) expect(nodeStatus(handle.state, id)).toBe("skipped");
  });

  it("a route to a node that a join waited for, skipped so the join could run, is dropped and reported", async () => {
    // "x" is both waited for by "j" (its after list) and started only by "j"'s route: nothing can start it
    // while "j" waits, so once nothing is live "x" is skipped, "j" runs, and its route to "x" finds it skipped.
    const { ran, body } = recorder();
    const g = graph("contradiction")
      .node("s", body("s"))
      .node("x", body("x"))
      .node("j", body("j", "x"), { after: ["s", "x"], routes: { x: "x" } })
      .output(() => null)
      .build();
    const { handle, warnings } = await runWithWarnings(g, "contradiction");
    expect(ran).toEqual(["s", "j"]);
    expect(nodeStatus(handle.state, "x")).toBe("skipped");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ nodeId: "j", code: "ROUTE_TARGET_SKIPPED" });
    expect(warnings[0]!.message).toContain('route "x" to "x"');
  });

  const property = (label: string, shapesOf: typeof shapes, numRuns: number): void => {
    it(label, async () => {
      await fc.assert(
        fc.asyncProperty(shapesOf, async (nodes) => {
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
          const { warnings } = await runWithWarnings(g, "routed");
          // No route is ever dropped: a node a route may take is never skipped before the route is taken.
          expect(warnings).toEqual([]);

          const counts = nodes.map((_, i) => ran.filter((r) => r === i).length);
          expect(counts).toEqual(modelRuns(nodes, (i) => g.routing?.isGated(`n${i}`) ?? false));
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
        { numRuns },
      );
    });
  };

  property("property: each node runs as often as the model says, after what started it", shapes, 500);
  property("property: the same with loops of routes that never run", shapesWith(true), 500);
});
