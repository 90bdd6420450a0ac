/**
 * A small graph to try the `taskloom` command on: two fetches in parallel
 * (one fails once and is retried), a summary, an optional human approval,
 * and a publish step. Each node sleeps a little so the live progress has
 * something to show.
 *
 *     npx taskloom run examples/cli-graph.ts --inputs '{"city":"Lyon"}' --run-id demo
 *     npx taskloom show demo
 *     npx taskloom report demo examples/cli-graph.ts -o demo.html
 *
 * With `"review": true` the run stops at "approve" (exit code 2) until
 * someone decides, from any process:
 *
 *     npx taskloom run examples/cli-graph.ts --inputs '{"review":true}' --run-id demo-review
 *     npx taskloom resolve demo-review approve:demo-review --payload '{"approved":true}'
 *     npx taskloom resume demo-review examples/cli-graph.ts
 */
import { graph } from "../src/index.js";

/** Resolves after `ms`, or rejects when the node's signal aborts (a timeout or a cancelled run). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason as Error)), { once: true });
  });
}

let airCalls = 0;

export default graph("weather-digest")
  .input<{ city?: string; review?: boolean } | undefined>()
  .node("fetch-forecast", async ({ inputs, signal }) => {
    await sleep(300, signal);
    return { city: inputs?.city ?? "Lyon", highs: [12, 14, 17, 15, 11, 9, 13] };
  })
  .node(
    "fetch-air",
    async ({ signal }) => {
      await sleep(250, signal);
      if (++airCalls === 1) throw new Error("air-quality service timed out");
      return { aqi: 42 };
    },
    { retry: { maxAttempts: 3, backoff: { initialMs: 200, jitter: false } } },
  )
  .node(
    "summarize",
    async ({ deps, signal }) => {
      await sleep(150, signal);
      const warmest = Math.max(...deps["fetch-forecast"].highs);
      return `${deps["fetch-forecast"].city}: up to ${warmest}°C this week, air quality index ${deps["fetch-air"].aqi}.`;
    },
    { after: ["fetch-forecast", "fetch-air"] },
  )
  .node(
    "approve",
    ({ inputs, runId, waitFor }) => (inputs?.review ? waitFor<{ approved: boolean }>(`approve:${runId}`) : Promise.resolve({ approved: true })),
    { after: ["summarize"] },
  )
  .node("publish", ({ deps }) => (deps.approve.approved ? `published: ${deps.summarize}` : "not published"), {
    after: ["summarize", "approve"],
  })
  .output(({ publish }) => ({ result: publish }))
  .build();
