/**
 * The main example: an ETL graph on the embedded default store (files in
 * ./.taskloom, no server). It shows typed dependencies, a flaky node that
 * succeeds on retry, live events, and what a second call with the same
 * run id does: nothing runs again, the stored outputs come back.
 *
 * Run it with `npm run example`. To watch a crashed run resume, kill it
 * half way and run it again with the same id:
 *
 *     RUN_ID=demo CRASH=1 npm run example   # SIGKILLs itself inside "totals"
 *     RUN_ID=demo npm run example           # resumes: extract and validate are not run again
 */
import { graph, getRun, runAsync, run } from "../src/index.js";

interface Order {
  readonly id: number;
  readonly customer: string;
  readonly amountCents: number;
}

let flakyCalls = 0;

const etl = graph("orders-etl")
  .input<{ day: string; pages: number }>()
  .node("extract", async ({ inputs }) => {
    const orders: Order[] = [];
    for (let p = 0; p < inputs.pages; p++) {
      for (let i = 0; i < 5; i++) orders.push({ id: p * 5 + i, customer: `c${(p + i) % 3}`, amountCents: 1_000 + 137 * i });
    }
    return orders;
  })
  .node(
    "validate",
    ({ deps }) => {
      flakyCalls += 1;
      if (flakyCalls === 1) throw new Error("upstream schema service timed out (simulated)");
      return deps.extract.filter((o) => o.amountCents > 0);
    },
    { after: ["extract"], retry: { maxAttempts: 3, backoff: { initialMs: 50, jitter: false } } },
  )
  .node(
    "totals",
    async ({ deps, inputs }) => {
      if (process.env.CRASH === "1") {
        console.log("  (CRASH=1: killing the process while 'totals' runs; run the example again to resume)");
        process.kill(process.pid, "SIGKILL");
      }
      const byCustomer = new Map<string, number>();
      for (const o of deps.validate) byCustomer.set(o.customer, (byCustomer.get(o.customer) ?? 0) + o.amountCents);
      return { day: inputs.day, byCustomer };
    },
    { after: ["validate"] },
  )
  .node("count", ({ deps }) => deps.validate.length, { after: ["validate"] })
  .output(({ totals, count }) => ({ day: totals.day, orders: count, byCustomer: totals.byCustomer }))
  .build();

const runId = process.env.RUN_ID ?? `orders-etl-${Date.now()}`;
const inputs = { day: "2026-11-23", pages: 4 };

console.log(`run ${runId} (store: ${process.env.TASKLOOM_DIR ?? ".taskloom"})`);
const handle = run(etl, inputs, { runId, maxConcurrency: 4 });
handle.events
  .on("run:start", (e) => console.log(e.resumed ? `  resumed, ${e.kept} nodes kept from before` : "  started"))
  .on("node:start", (e) => console.log(`  ▶ ${e.nodeId} (attempt ${e.attempt})`))
  .on("node:retry", (e) => console.log(`  ↻ ${e.nodeId} failed, retrying in ${e.delayMs} ms: ${(e.error as Error).message}`))
  .on("node:success", (e) => console.log(`  ✓ ${e.nodeId} in ${e.durationMs} ms`));

const outputs = await handle.result();
console.log("outputs:", outputs);

const stored = await getRun(runId);
console.log(`stored run: ${stored.status}, ${stored.nodes.length} nodes, started ${stored.starts} time(s)`);

console.log(`\ncalling runAsync again with runId ${runId}: nothing runs, the stored outputs come back`);
const again = await runAsync(etl, inputs, { runId });
console.log("same outputs:", JSON.stringify([...again.byCustomer]) === JSON.stringify([...outputs.byCustomer]));
