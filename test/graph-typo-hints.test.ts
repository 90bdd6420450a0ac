/**
 * Plain JavaScript has no compile error for a misspelt node id in `after`,
 * a map source or a route target: `build()` names the nearest node id.
 * The graphs are built as an untyped caller builds them (ids as plain
 * strings, cast past the typed builder).
 */
import { describe, expect, it } from "vitest";
import { graph, GraphDefinitionError } from "../src/index.js";

/** The builder as plain JS sees it: any string in `after`. */
type Untyped = {
  node(id: string, fn: (ctx: unknown) => unknown, options?: object): Untyped;
  map(id: string, source: string, fn: (ctx: unknown) => unknown): Untyped;
  build(): unknown;
};
const untyped = (name: string): Untyped => graph(name);

function problemOf(build: () => unknown): string {
  try {
    build();
  } catch (err) {
    expect(err).toBeInstanceOf(GraphDefinitionError);
    return (err as Error).message;
  }
  throw new Error("build() did not throw");
}

describe("a misspelt node id", () => {
  it('in after says did you mean "fetch"?', () => {
    const message = problemOf(() =>
      untyped("typo")
        .node("fetch", () => 1)
        .node("summarize", () => 2, { after: ["fecth"] })
        .build(),
    );
    expect(message).toContain('node "summarize" runs after "fecth", which is not a node of this graph: did you mean "fetch"?');
  });

  it("in a map source and a route target names the nearest id too", () => {
    const map = problemOf(() =>
      untyped("typo-map")
        .node("items", () => [1, 2])
        .map("each", "itmes", () => 1)
        .build(),
    );
    expect(map).toContain('map node "each" maps "itmes", which is not a node of this graph: did you mean "items"?');
    const route = problemOf(() =>
      untyped("typo-route")
        .node("check", () => undefined, { routes: { ok: "pubilsh" } })
        .node("publish", () => 1)
        .build(),
    );
    expect(route).toContain('route "ok" leads to "pubilsh", which is not a node of this graph: did you mean "publish"?');
  });

  it("far from every id gets no guess", () => {
    const message = problemOf(() =>
      untyped("far")
        .node("fetch", () => 1)
        .node("summarize", () => 2, { after: ["zzz"] })
        .build(),
    );
    expect(message).toContain('runs after "zzz", which is not a node of this graph');
    expect(message).not.toContain("did you mean");
  });
});
