/**
 * Audit: child runs (`ctx.run`) of one node that share a key. Two calls
 * with one key at once name one child run: the second must be refused with
 * a typed error that says to give each child its own key (not a
 * `RunLockedError` that blames this very process), and the first child
 * must still be kept by the parent's session (its lease is given back
 * only once that child stopped).
 */
import { describe, expect, it } from "vitest";
import { InvalidOptionError, MemoryStore, NodeFailedError, RunLockedError, getRun, graph, runAsync } from "../src/index.js";
import { deferred, rejection, until } from "./support/async.js";

describe("ctx.run with a key in use by a running child of the same run", () => {
  it("is refused with InvalidOptionError naming the key; the running child is kept and ends", async () => {
    const store = new MemoryStore();
    const gate = deferred<number>();
    let started = 0;
    const child = graph("child")
      .node("hold", () => {
        started += 1;
        return gate.promise;
      })
      .build();
    let second: unknown;
    const parent = graph("parent")
      .node("spawn", async ({ run }) => {
        const first = run(child, undefined, { key: "x" });
        await until(() => started === 1, "the first child to start");
        second = await rejection(run(child, undefined, { key: "x" }));
        gate.resolve(7);
        return first;
      })
      .build();
    expect(await runAsync(parent, undefined, { runId: "dup", store, retry: { maxAttempts: 1 } })).toEqual({ spawn: { hold: 7 } });
    expect(second).toBeInstanceOf(InvalidOptionError);
    expect(second).not.toBeInstanceOf(RunLockedError);
    expect((second as Error).message).toContain('"x"');
    expect((second as Error).message).toContain("own key");
    expect(started).toBe(1);
    expect((await getRun("dup@spawn@x", { store })).status).toBe("succeeded");
  });

  it("two calls with one key at once fail the node with InvalidOptionError as its cause", async () => {
    const store = new MemoryStore();
    const child = graph("child")
      .node("one", () => 1)
      .build();
    const parent = graph("parent")
      .node("spawn", ({ run }) => Promise.all([run(child, undefined, { key: "x" }), run(child, undefined, { key: "x" })]))
      .build();
    const error = await rejection(runAsync(parent, undefined, { runId: "dup2", store, retry: { maxAttempts: 1 } }));
    expect(error).toBeInstanceOf(NodeFailedError);
    expect((error as Error).cause).toBeInstanceOf(InvalidOptionError);
  });
});
