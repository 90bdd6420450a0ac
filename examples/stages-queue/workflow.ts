/**
 * What the coordinator and the workers of the queue example share: the
 * workflow, the agent of `pre-label` (run only by the workers), and where
 * Redis is.
 */
import { defineWorkflow, type AgentFunction } from "../../src/index.js";

/** The tasks' data. */
export type Doc = { text: string; label?: string; checked?: boolean };

export const workflow = defineWorkflow({
  name: "queue-labeling",
  stages: [
    { id: "pre-label", kind: "agent", pathways: { review: "review", empty: "archive" } },
    { id: "review", kind: "review", pathways: { approve: "complete", reject: "pre-label" }, maxVisits: 3 },
    { id: "complete", kind: "final" },
    { id: "archive", kind: "final" },
  ],
});

/** The model: a label for a text, or `empty`. Runs in the worker processes. */
export const preLabel: AgentFunction<Record<string, never>, Doc> = async (task) => {
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.AGENT_MS ?? 5))); // the model's time
  if (task.data.text.trim() === "") return "empty";
  return { pathway: "review", label: task.data.text.split(" ")[0]?.toLowerCase() };
};

/** Where Redis is, the key prefix (Redis store and BullMQ), and the queue's name. */
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const PREFIX = process.env.PREFIX ?? "taskloom-example";
export const QUEUE = "pre-label";
