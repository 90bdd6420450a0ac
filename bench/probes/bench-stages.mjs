/**
 * The bench's stage-runner workload (`bench/stage-workflow.ts`) built with
 * a tree's own compiled package (`lib`, its `dist/index.js`), for the
 * `.mjs` probes that run one tree's `dist/` (stage-dist.mjs,
 * stage-instr.mjs, gc-promotion.mjs): two no-op agent stages, then a final
 * stage, so every task makes two moves.
 */
export function noOpStageRunner(lib, store) {
  const workflow = lib.defineWorkflow({
    name: "bench-stages",
    stages: [
      { id: "first", kind: "agent", pathways: { next: "second" } },
      { id: "second", kind: "agent", pathways: { done: "complete" } },
      { id: "complete", kind: "final" },
    ],
  });
  const runner = new lib.StageRunner(workflow, { store });
  runner.stage("first", async () => "next");
  runner.stage("second", async () => "done");
  return runner;
}

/** `n` tasks as the bench gives them: `{ id: "t<i>", data: { i } }`. */
export function benchTasks(n) {
  return Array.from({ length: n }, (_, i) => ({ id: `t${i}`, data: { i } }));
}
