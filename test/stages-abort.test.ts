/**
 * Aborting a stage runner: after its signal aborts, no agent call starts
 * (calls queued behind `maxConcurrency` never run, and no provider value
 * is created for them), `runAsync` resolves only once every call it
 * started has ended, an agent that ignores its aborted signal is
 * abandoned after 5 s with a warning, and an immediate resume never runs
 * a call of the same task and visit at the same time as the old one.
 */
import { describe, expect, it } from "vitest";
import { defineWorkflow, ManualClock, MemoryStore, StageRunner } from "../src/index.js";
import { deferred, until } from "./support/async.js";

const workflow = defineWorkflow({
  name: "abort",
  stages: [
    { id: "model", kind: "agent", pathways: { next: "complete" } },
    { id: "complete", kind: "final" },
  ],
});
const tasks = Array.from({ length: 6 }, (_, i) => ({ id: `t${i}` }));

describe("aborting a stage runner", () => {
  it("starts no agent call after the abort and resolves once the started calls ended; a resume does not overlap them", async () => {
    const store = new MemoryStore();
    const gate = deferred();
    const log: string[] = [];
    let running = 0;
    let provided = 0;
    const runner = new StageRunner(workflow, { store, backoff: { initialMs: 1, jitter: false } });
    runner.stage(
      "model",
      async (task, { visit }) => {
        running++;
        log.push(`start ${task.id} ${visit}`);
        if (running > 1) log.push("overlap");
        await gate.promise;
        running--;
        log.push(`end ${task.id} ${visit}`);
        return "next";
      },
      { deps: { value: () => ++provided } },
    );
    const controller = new AbortController();
    let resolved = false;
    const done = runner.runAsync({ tasks, runId: "stop", maxConcurrency: 1, signal: controller.signal }).then((r) => {
      resolved = true;
      return r;
    });
    await until(() => log.length === 1, "the first agent call");
    controller.abort();
    // The abort reached every task run; the started call is still running: runAsync waits for it.
    for (let i = 0; i < 200; i++) await new Promise<void>((r) => setImmediate(r));
    expect(resolved).toBe(false);
    gate.resolve();
    const report = await done;
    expect(log).toEqual(["start t0 1", "end t0 1"]);
    expect(provided).toBe(1);
    expect(report.tasks.every((t) => t.state === "interrupted" || t.state === "completed")).toBe(true);
    for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
    expect(log).toEqual(["start t0 1", "end t0 1"]);

    // An immediate resume: every task moves once, no call overlaps another.
    const resumed = await runner.runAsync({ tasks, runId: "stop", maxConcurrency: 1 });
    expect(resumed.completed).toBe(6);
    expect(log).not.toContain("overlap");
    expect(log.filter((l) => l.startsWith("start")).sort()).toEqual(["start t0 1", ...tasks.map((t) => `start ${t.id} 1`)].sort());
  });

  it("abandons, after 5 s, a call that ignores its aborted signal, with a warning naming the task", async () => {
    const clock = new ManualClock(0);
    const never = deferred<string>();
    const runner = new StageRunner(workflow, { store: new MemoryStore(), clock });
    let signal: AbortSignal | undefined;
    runner.stage("model", async (_task, ctx) => {
      signal = ctx.signal;
      return never.promise;
    });
    const warnings: string[] = [];
    runner.events.on("warning", (e) => void warnings.push(e.message));
    const controller = new AbortController();
    let resolved = false;
    const done = runner.runAsync({ tasks: [{ id: "stuck" }], runId: "stuck", signal: controller.signal }).then(() => (resolved = true));
    await until(() => signal !== undefined, "the agent call");
    controller.abort();
    await until(() => clock.pendingDelays().includes(5_000), "the abandon timer");
    expect(signal?.aborted).toBe(true);
    await clock.advance(4_999);
    expect(resolved).toBe(false);
    await clock.advance(1);
    await done;
    expect(warnings).toEqual([expect.stringMatching(/1 agent call of task "stuck" did not end within 5000 ms of the runner's abort; abandoned/)]);
  });
});
