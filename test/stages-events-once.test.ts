/**
 * The stage runner's events call their listeners as eventemitter3 does: a
 * `once` listener hears one event (it heard every one), and a listener
 * added with a context is called with it as `this` (it was lost). A
 * listener that throws still does not stop the others.
 */
import { describe, expect, it } from "vitest";
import { defineWorkflow, MemoryStore, StageRunner } from "../src/index.js";

const workflow = defineWorkflow({
  name: "once",
  stages: [
    { id: "model", kind: "agent", pathways: { next: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

describe("a stage runner's events", () => {
  it("call a once listener once, a listener with its context, and go on past a listener that throws", async () => {
    const runner = new StageRunner(workflow, { store: new MemoryStore() }).stage("model", async () => "next");
    let onces = 0;
    let all = 0;
    const holder = { name: "holder", seen: [] as string[] };
    runner.events.once("task:move", () => void (onces += 1));
    runner.events.on("task:move", () => {
      throw new Error("a listener that throws");
    });
    runner.events.on(
      "task:move",
      function (this: typeof holder, e) {
        this.seen.push(e.taskId);
      },
      holder,
    );
    runner.events.on("task:move", () => void (all += 1));
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    try {
      await runner.runAsync({ tasks: [{ id: "t1" }, { id: "t2" }, { id: "t3" }], runId: "r1" });
    } finally {
      console.error = original;
    }
    expect(all).toBeGreaterThanOrEqual(3);
    expect(onces).toBe(1);
    expect(holder.seen.length).toBe(all);
    expect(errors).toHaveLength(all);
    expect(runner.events.listenerCount("task:move")).toBe(3);
  });
});
