/**
 * `build()`'s validation, found by the stored-graphs audit: a node id
 * `"__proto__"` (its output was lost from the run's outputs), a hint for
 * every unknown reference (minutes for thousands of them), and a bad
 * retry hiding a bad timeout of the same node.
 */
import { describe, expect, it } from "vitest";
import { GraphDefinitionError, graph, runAsync } from "../src/index.js";

const noop = (): number => 1;

/** The problems `build` throws (a `GraphDefinitionError`). */
function problemsOf(build: () => unknown): readonly string[] {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(GraphDefinitionError);
    return (error as GraphDefinitionError).problems;
  }
  throw new Error("build() did not throw");
}

describe("build()", () => {
  it('refuses a node id "__proto__", whose output a run\'s outputs object cannot hold', async () => {
    expect(
      problemsOf(() =>
        graph("g")
          .node("__proto__", noop)
          .node("b", () => 2)
          .build(),
      ),
    ).toEqual(['node id "__proto__" is reserved (a run\'s outputs object could not hold its output); rename it']);
    // "constructor" and "toString" are own keys like any other.
    const g = graph("g")
      .node("constructor", () => 1)
      .node("toString", () => 2)
      .build();
    expect(await runAsync(g, undefined)).toEqual({ constructor: 1, toString: 2 });
  });

  it("names the likely id for the first ten unknown references only (each hint compared with every id)", () => {
    let b = graph("g") as unknown as { node(id: string, fn: () => number, o: { after: string[] }): typeof b; build(): unknown };
    for (let i = 0; i < 300; i++) b = b.node(`node-${i}`, noop, { after: [`nodx-${i}`] });
    const problems = problemsOf(() => b.build());
    expect(problems).toHaveLength(300);
    expect(problems[0]).toBe('node "node-0" runs after "nodx-0", which is not a node of this graph: did you mean "node-0"?');
    expect(problems.filter((p) => p.includes("did you mean"))).toHaveLength(10);
    expect(problems[299]).toBe('node "node-299" runs after "nodx-299", which is not a node of this graph');
  });

  it("reports a bad retry and a bad timeout of one node together", () => {
    const problems = problemsOf(() =>
      graph("g")
        .node("a", noop, { retry: { maxAttempts: 0 }, timeoutMs: -1 })
        .build(),
    );
    expect(problems.some((p) => p.includes('node "a" retry.maxAttempts'))).toBe(true);
    expect(problems.some((p) => p.includes('node "a" timeoutMs'))).toBe(true);
  });
});
