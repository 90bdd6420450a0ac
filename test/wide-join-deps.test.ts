/**
 * The `deps` of a wide join (at least 32 `after` entries), which the engine
 * reads by graph position (engine/attempts.ts, `RecordBuffer.outputAt`):
 * a plain object whose keys are the join's `after` list in its own order
 * (not the graph's topological order), each the output of that node, in a
 * fresh run and in a resumed one whose earlier outputs come from the store.
 */
import { describe, expect, it } from "vitest";
import { graph, MemoryStore, NonRetryableError, runAsync, type GraphBuilder } from "../src/index.js";

type LooseBuilder = GraphBuilder<undefined, Record<string, unknown>, never>;

const WIDTH = 50;

/** Branch ids in declaration order, and the join's after list: the same ids, in another order. */
const ids = Array.from({ length: WIDTH }, (_, i) => `b${i}`);
const after = [...ids].sort((x, y) => ((Number(x.slice(1)) * 17) % WIDTH) - ((Number(y.slice(1)) * 17) % WIDTH));

function wideJoin(fail: (i: number) => boolean, seen: Record<string, unknown>[]) {
  let b = graph("wide") as unknown as LooseBuilder;
  b = b.node("root", () => "r");
  // Every other branch depends on the previous one too, so the topological order is not the declared one.
  for (let i = 0; i < WIDTH; i++) {
    const deps = i % 2 === 1 ? ["root", ids[i - 1]!] : ["root"];
    b = b.node(
      ids[i]!,
      () => {
        if (fail(i)) throw new NonRetryableError(`b${i} fails`);
        return { i };
      },
      { after: deps as never },
    );
  }
  b = b.node(
    "join",
    ({ deps }: { deps: Record<string, unknown> }) => {
      seen.push(deps);
      return Object.keys(deps).length;
    },
    { after: after as never },
  );
  return b.build();
}

function expectDeps(deps: Record<string, unknown> | undefined): void {
  expect(deps).toBeDefined();
  expect(Object.getPrototypeOf(deps)).toBe(Object.prototype);
  expect(Object.keys(deps!)).toEqual(after);
  for (const id of after) expect(deps![id]).toEqual({ i: Number(id.slice(1)) });
}

describe("the deps of a wide join", () => {
  it("hold every after entry's output, in the join's after order", async () => {
    expect(after).not.toEqual(ids);
    const seen: Record<string, unknown>[] = [];
    const g = wideJoin(() => false, seen);
    expect(g.order).not.toEqual(["root", ...ids, "join"]);
    await runAsync(g, undefined, { store: new MemoryStore(), maxConcurrency: 4 });
    expect(seen).toHaveLength(1);
    expectDeps(seen[0]);
  });

  it("hold the stored outputs of a resumed run too", async () => {
    let failing = true;
    const seen: Record<string, unknown>[] = [];
    const g = wideJoin((i) => failing && i % 7 === 3, seen);
    const store = new MemoryStore();
    await expect(runAsync(g, undefined, { store, runId: "r", continueOnError: true, retry: { maxAttempts: 1 } })).rejects.toThrow();
    expect(seen).toHaveLength(0);
    failing = false;
    await runAsync(g, undefined, { store, runId: "r", retry: { maxAttempts: 1 } });
    expect(seen).toHaveLength(1);
    expectDeps(seen[0]);
  });
});
