/**
 * Where a stage runner's node bodies run when it is given an `executor`
 * (`bullmqExecutor(…)`): only agent stages go to it; the entry, human and
 * final stages run in the runner's own process, as without one.
 *
 * Why: a human stage's body does nothing but wait for a person's action.
 * Sent to a worker, it would hold one of the worker's concurrency slots
 * for as long as the person takes, and a worker with as many waiting
 * reviews as slots would take no agent job any more. Agent calls are the
 * work worth carrying to other machines (a GPU box for the model stage).
 *
 * Invariants: the activation and context the executor receives are the
 * engine's own (nothing is rewritten); `runStopped` reaches the executor
 * for every run, whichever bodies it ran.
 *
 * @module
 */
import type { NodeExecutor } from "../engine/node-executor.js";
import type { TaskGraph } from "../graph/task-graph.js";
import type { Workflow } from "./workflow.js";

/**
 * An executor that sends the bodies of `workflow`'s agent stages to
 * `executor` and runs every other body of `graph` here.
 *
 * @example
 * ```ts
 * run(graph, inputs, { executor: agentStagesOn(bullmqExecutor({ connection }), workflow, graph) });
 * ```
 */
export function agentStagesOn<I, O>(executor: NodeExecutor, workflow: Workflow, graph: TaskGraph<I, O>): NodeExecutor {
  const agentStages = new Set(workflow.stages.filter((s) => s.kind === "agent").map((s) => s.id));
  return {
    execute: (activation, context) => {
      if (agentStages.has(activation.nodeId)) return executor.execute(activation, context);
      const node = graph.node(activation.nodeId);
      if (!node) return Promise.reject(new Error(`taskloom: the stage graph has no node "${activation.nodeId}"`));
      return Promise.resolve().then(() => node.fn(context as never));
    },
    ...(executor.runStopped !== undefined && { runStopped: (runId, stop) => executor.runStopped?.(runId, stop) ?? Promise.resolve() }),
  };
}
