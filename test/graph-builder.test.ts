/**
 * `graph(name)…build()`: validation at build time (every problem reported
 * at once in one GraphDefinitionError), the fingerprint's sensitivity, and
 * the builder's immutability.
 */
import { describe, expect, it } from "vitest";
import { GraphDefinitionError, TaskGraph, graph } from "../src/index.js";

const noop = (): null => null;

/** Runs `build` and returns the GraphDefinitionError it throws (fails the test otherwise). */
function definitionError(build: () => unknown): GraphDefinitionError {
  let caught: unknown;
  try {
    build();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(GraphDefinitionError);
  const err = caught as GraphDefinitionError;
  expect(err.code).toBe("GRAPH_DEFINITION");
  expect(err.name).toBe("GraphDefinitionError");
  return err;
}

describe("build() validation", () => {
  it("builds a valid graph in topological order", () => {
    const g = graph("ok")
      .node("a", noop)
      .node("b", noop, { after: ["a"] })
      .node("c", noop, { after: ["a", "b"] })
      .build();
    expect(g).toBeInstanceOf(TaskGraph);
    expect(g.name).toBe("ok");
    expect(g.size).toBe(3);
    expect(g.nodeIds()).toEqual(["a", "b", "c"]);
    expect(g.successors("a")).toEqual(["b", "c"]);
    expect(g.node("c")?.after).toEqual(["a", "b"]);
  });

  it('rejects a route named "__proto__" (an object key that sets the prototype: the route was lost in silence)', () => {
    const err = definitionError(() =>
      graph("proto-route")
        .node("a", noop, { routes: { ["__proto__"]: "b", ok: "b" } })
        .node("b", noop)
        .build(),
    );
    expect(err.problems).toContain('node "a": a route cannot be named "__proto__"; rename it');
  });

  it("rejects a duplicate node id", () => {
    const err = definitionError(() => graph("dup").node("a", noop).node("a", noop).build());
    expect(err.problems).toEqual(['node id "a" is used twice']);
    expect(err.message).toContain('graph "dup" is not valid');
  });

  it("rejects an unknown id in after", () => {
    const err = definitionError(() =>
      graph("unknown")
        .node("a", noop)
        .node("b", noop, { after: ["a", "nope" as never] })
        .build(),
    );
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toContain('node "b" runs after "nope"');
  });

  it("rejects a cycle, naming the nodes on it", () => {
    const err = definitionError(() =>
      graph("cyclic")
        .node("start", noop)
        .node("a", noop, { after: ["start", "c" as never] })
        .node("b", noop, { after: ["a"] })
        .node("c", noop, { after: ["b"] })
        .build(),
    );
    expect(err.problems).toHaveLength(1);
    const [problem] = err.problems;
    expect(problem).toContain("cycle");
    expect(problem).toContain('"a"');
    expect(problem).toContain('"b"');
    expect(problem).toContain('"c"');
    expect(problem).not.toContain('"start"');
  });

  it("rejects a node that depends on itself", () => {
    const err = definitionError(() =>
      graph("self")
        .node("a", noop, { after: ["a" as never] })
        .build(),
    );
    expect(err.problems).toEqual(['node "a" depends on itself']);
  });

  it("rejects a node body that is not a function", () => {
    const err = definitionError(() =>
      graph("fn")
        .node("a", 42 as never)
        .build(),
    );
    expect(err.problems).toEqual(['node "a" is a number, not a function']);
  });

  it("rejects maxAttempts below 1", () => {
    const err = definitionError(() =>
      graph("attempts")
        .node("a", noop, { retry: { maxAttempts: 0 } })
        .build(),
    );
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toContain('node "a" retry.maxAttempts');
  });

  it("rejects a negative backoff and negative timeouts", () => {
    const err = definitionError(() =>
      graph("durations")
        .node("backoff", noop, { retry: { backoff: { initialMs: -1 } } })
        .node("maxMs", noop, { retry: { backoff: { maxMs: -5 } } })
        .node("retryTimeout", noop, { retry: { timeoutMs: -10 } })
        .node("nodeTimeout", noop, { timeoutMs: -1 })
        .build(),
    );
    expect(err.problems).toHaveLength(4);
    expect(err.problems[0]).toContain('node "backoff" retry.backoff.initialMs');
    expect(err.problems[1]).toContain('node "maxMs" retry.backoff.maxMs');
    expect(err.problems[2]).toContain('node "retryTimeout" retry.timeoutMs');
    expect(err.problems[3]).toContain('node "nodeTimeout" timeoutMs');
  });

  it("rejects an empty graph", () => {
    const err = definitionError(() => graph("empty").build());
    expect(err.problems).toEqual(["it has no nodes"]);
  });

  it("reports several problems at once", () => {
    const err = definitionError(() =>
      graph("many")
        .node("a", noop)
        .node("a", noop)
        .node("b", noop, { after: ["ghost" as never] })
        .node("c", "not a function" as never)
        .node("d", noop, { retry: { maxAttempts: 0 } })
        .node("e", noop, { timeoutMs: -1 })
        .build(),
    );
    expect(err.problems).toHaveLength(5);
    expect(err.problems).toEqual([
      'node id "a" is used twice',
      expect.stringContaining('node "b" runs after "ghost"'),
      'node "c" is a string, not a function',
      expect.stringContaining('node "d" retry.maxAttempts'),
      expect.stringContaining('node "e" timeoutMs'),
    ]);
    for (const p of err.problems) expect(err.message).toContain(p);
  });
});

describe("fingerprint", () => {
  const build = (options: { edge?: boolean; maxAttempts?: number; body?: () => unknown } = {}) =>
    graph("fp")
      .node("a", options.body ?? (() => 1))
      .node("b", () => 2)
      .node("c", () => 3, {
        after: options.edge === false ? ["a"] : ["a", "b"],
        retry: { maxAttempts: options.maxAttempts ?? 3, backoff: { initialMs: 10 } },
      })
      .build();

  it("is stable across two identical builds", () => {
    const one = build();
    const two = build();
    expect(one).not.toBe(two);
    expect(one.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(two.fingerprint).toBe(one.fingerprint);
  });

  it("changes when an edge changes", () => {
    expect(build({ edge: false }).fingerprint).not.toBe(build().fingerprint);
  });

  it("changes when a retry option changes", () => {
    expect(build({ maxAttempts: 4 }).fingerprint).not.toBe(build().fingerprint);
  });

  it("changes when a backoff or timeout option changes", () => {
    const base = graph("fp2")
      .node("a", noop, { retry: { backoff: { initialMs: 10 } } })
      .build();
    const backoff = graph("fp2")
      .node("a", noop, { retry: { backoff: { initialMs: 20 } } })
      .build();
    const timeout = graph("fp2")
      .node("a", noop, { retry: { backoff: { initialMs: 10 } }, timeoutMs: 5 })
      .build();
    expect(backoff.fingerprint).not.toBe(base.fingerprint);
    expect(timeout.fingerprint).not.toBe(base.fingerprint);
  });

  it("does not change when only a function body changes", () => {
    const original = build({ body: () => 1 });
    const fixed = build({ body: () => "a completely different body" });
    expect(fixed.fingerprint).toBe(original.fingerprint);
  });
});

describe("builder immutability", () => {
  it("extending a shared prefix two ways yields independent graphs", () => {
    const prefix = graph("shared").node("a", () => 1);
    const left = prefix.node("b", ({ deps }) => deps.a + 1, { after: ["a"] });
    const right = prefix.node("c", ({ deps }) => deps.a * 10, { after: ["a"] }).node("d", noop, { after: ["c"] });

    const l = left.build();
    const r = right.build();
    const p = prefix.build();

    expect(l.nodeIds()).toEqual(["a", "b"]);
    expect(r.nodeIds()).toEqual(["a", "c", "d"]);
    expect(p.nodeIds()).toEqual(["a"]);
    expect(l.successors("a")).toEqual(["b"]);
    expect(r.successors("a")).toEqual(["c"]);
    expect(p.successors("a")).toEqual([]);
    expect(new Set([l.fingerprint, r.fingerprint, p.fingerprint]).size).toBe(3);

    // Building again after the others still gives the same graph.
    expect(left.build().nodeIds()).toEqual(["a", "b"]);
    expect(left.build().fingerprint).toBe(l.fingerprint);
  });

  it("a built graph is frozen", () => {
    const g = graph("frozen").node("a", noop).build();
    expect(Object.isFrozen(g)).toBe(true);
    expect(Object.isFrozen(g.order)).toBe(true);
    expect(Object.isFrozen(g.node("a"))).toBe(true);
  });
});
