/**
 * graphify: the orders ETL written as a plain function over references.
 * `graphify` traces the function once into a static TaskGraph (the nodes
 * and their dependencies come from which references flow into which
 * task), which then runs, stores and resumes like any graph, here on the
 * embedded default store (./.taskloom, or TASKLOOM_DIR).
 *
 *     npx tsx examples/graphify.ts
 *     RUN_ID=gfy npx tsx examples/graphify.ts   # run it twice: the second call runs nothing
 */
import { GraphDefinitionError, graphify, run, runAsync, task, type NodeContext, type Ref } from "../src/index.js";

interface Order {
  readonly id: number;
  readonly customer: string;
  readonly amountCents: number;
}

/** Stands in for an HTTP call: one page of orders. */
async function fetchPage(day: string, page: number, { signal }: NodeContext): Promise<{ day: string; orders: Order[] }> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  signal.throwIfAborted();
  const orders = Array.from({ length: 5 }, (_, i) => ({ id: page * 5 + i, customer: `c${(page + i) % 3}`, amountCents: 1_000 + 137 * i }));
  return { day, orders };
}

function merge(...pages: { orders: Order[] }[]): Order[] {
  return pages.flatMap((p) => p.orders);
}

function totalsByCustomer(orders: Order[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const o of orders) totals[o.customer] = (totals[o.customer] ?? 0) + o.amountCents;
  return totals;
}

function biggest(orders: Order[], limit: number): Order[] {
  return [...orders].sort((a, b) => b.amountCents - a.amountCents).slice(0, limit);
}

const etl = graphify("orders-graphify", (inputs: Ref<{ day: string }>) => {
  // A loop over a constant runs at trace time: three tasks, each with its own id.
  const pages = [0, 1, 2].map((p) => task(`page-${p}`, fetchPage, { retry: { maxAttempts: 3 } })(inputs.day, p));
  const orders = task("merge", merge)(...pages);
  const totals = task("totals", totalsByCustomer)(orders);
  const top = task("top", biggest)(orders, 3); // 3 is a constant, captured as it is
  return { day: inputs.day, orders: orders.length, totals, top };
});

console.log("nodes:", etl.order.map((id) => `${id} ← [${etl.node(id)?.after.join(", ")}]`).join("  "));

const runId = process.env.RUN_ID ?? `orders-graphify-${Date.now()}`;
const handle = run(etl, { day: "2026-11-23" }, { runId, maxConcurrency: 4 });
handle.events
  .on("run:start", (e) => console.log(e.resumed ? `run ${runId}: resumed, ${e.kept} nodes kept` : `run ${runId}: started`))
  .on("node:success", (e) => console.log(`  ✓ ${e.nodeId} in ${e.durationMs} ms`));
const out = await handle.result();
console.log("outputs:", { ...out, top: out.top.map((o) => `#${o.id} ${o.amountCents}`) });

const again = await runAsync(etl, { day: "2026-11-23" }, { runId });
console.log("second call with the same run id returns the stored outputs:", JSON.stringify(again) === JSON.stringify(out));

// Using a reference's value while tracing is refused: it has no value yet.
try {
  graphify("refused", (inputs: Ref<{ day: string }>) => {
    const page = task("page", fetchPage)(inputs.day, 0);
    return { label: `orders of ${page.day as unknown as string}` };
  });
} catch (err) {
  if (!(err instanceof GraphDefinitionError)) throw err;
  console.log(`\nrefused as expected (${err.code}):\n  ${err.problems[0]}`);
}
