/**
 * Property: whatever the order of starts, resumes and deletes of a parent
 * run and of its child run, a run of the parent's id never ends with a
 * result computed from another run of that id (its child's result is
 * always from a child started by this very run), never lists or takes a
 * child of a deleted run as its own, and fails with `StaleChildRunError`
 * exactly when such a child sits under the id its node derives.
 */
import fc from "fast-check";
import { expect, it } from "vitest";
import { deleteRun, getRun, graph, MemoryStore, NodeFailedError, runAsync, StaleChildRunError } from "../src/index.js";

const child = graph("prop-child")
  .input<{ v: number }>()
  .node("double", ({ inputs }) => inputs.v * 2)
  .output((o) => o.double)
  .build();

const parent = graph("prop-parent")
  .input<{ v: number }>()
  .node("spawn", ({ run, inputs }) => run(child, { v: inputs.v }, { key: "k" }))
  .output((o) => o.spawn)
  .build();

const PARENT = "pp";
const CHILD = "pp@spawn@k";

type Op = { readonly kind: "start"; readonly v: number } | { readonly kind: "deleteParent" } | { readonly kind: "deleteChild" };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("start" as const), v: fc.integer({ min: 0, max: 1_000 }) }),
  fc.constant({ kind: "deleteParent" as const }),
  fc.constant({ kind: "deleteChild" as const }),
);

/** What the store holds, as the test sees it: the parent's inputs, and whose child sits under CHILD. */
interface Model {
  parent: { v: number; done: boolean } | undefined;
  /** "own": started by the parent stored now; "stale": by a run of the id deleted since. */
  child: "own" | "stale" | undefined;
}

it("a run of a parent's id never takes a child of a deleted run of that id, in any order of starts and deletes", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
      const store = new MemoryStore();
      const model: Model = { parent: undefined, child: undefined };
      for (const o of ops) {
        if (o.kind === "deleteParent") {
          expect(await deleteRun(PARENT, { store })).toBe(model.parent !== undefined);
          if (model.parent !== undefined && model.child === "own") model.child = "stale";
          model.parent = undefined;
          continue;
        }
        if (o.kind === "deleteChild") {
          expect(await deleteRun(CHILD, { store })).toBe(model.child !== undefined);
          model.child = undefined;
          continue;
        }
        // A start: a new run with inputs { v }, or a resume of the stored one (its own inputs).
        const inputs = model.parent === undefined ? { v: o.v } : undefined;
        model.parent ??= { v: o.v, done: false };
        const expected = model.parent.v * 2;
        const outcome = await runAsync(parent, inputs, { runId: PARENT, store, retry: { maxAttempts: 1 } }).then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
        if (model.parent.done) {
          expect(outcome).toEqual({ value: expected }); // the stored outputs: nothing runs, no child is looked at
        } else if (model.child !== "stale") {
          expect(outcome).toEqual({ value: expected });
          model.parent.done = true;
          model.child = "own";
        } else {
          expect("error" in outcome && outcome.error).toBeInstanceOf(NodeFailedError);
          expect((outcome as { error: Error }).error.cause as Error).toBeInstanceOf(StaleChildRunError);
        }
        const children = (await getRun(PARENT, { store })).children!.map((c) => c.runId);
        expect(children).toEqual(model.child === "own" ? [CHILD] : []);
      }
    }),
    { numRuns: 150 },
  );
});
