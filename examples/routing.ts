/**
 * Routing and loops: a writer drafts, a reviewer sends the draft back
 * ("revise") until it is good enough, then it is published; spam never is.
 *
 *   npm run example:routing
 */
import { graph, route, runAsync, MemoryStore } from "../src/index.js";

const writer = graph("writer")
  .input<{ topic: string; spam?: boolean }>()
  .node("screen", ({ inputs }) => (inputs.spam ? route("drop", inputs.topic) : route("write", inputs.topic)), {
    routes: { write: "draft", drop: [] },
  })
  .node("draft", ({ inputs, trigger, visit }) => {
    // The first visit comes from "screen"; later ones from "review", whose value is its notes.
    const notes = trigger?.from === "review" ? (trigger.value as string[]) : [];
    const text = `${inputs.topic}, draft ${visit}${notes.length ? ` (fixed: ${notes.join(", ")})` : ""}`;
    console.log(`  draft#${visit}: ${text}`);
    return text;
  })
  .node(
    "review",
    ({ deps, visit }) => {
      const notes = visit < 3 ? [`point ${visit}`] : [];
      console.log(`  review#${visit}: ${notes.length ? `revise (${notes.join(", ")})` : "accept"}`);
      return notes.length ? route("revise", notes) : route("accept", deps.draft);
    },
    { after: ["draft"], routes: { revise: "draft", accept: "publish" } },
  )
  .node("publish", ({ trigger }) => `published: ${String(trigger?.value)}`)
  .output(({ publish }) => publish ?? "nothing published")
  .build();

const store = new MemoryStore();
console.log("a real topic:");
console.log(" ", await runAsync(writer, { topic: "durable agents" }, { store, maxVisits: 5 }));
console.log("spam:");
console.log(" ", await runAsync(writer, { topic: "buy now", spam: true }, { store }));
