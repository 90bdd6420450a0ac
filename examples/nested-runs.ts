/**
 * Nested runs: a month-end graph bills each customer in a child run of its
 * own (`ctx.run(graph, inputs, { key })`). Each child is a durable run,
 * listed and inspectable like any run and linked to its parent; a big
 * invoice waits for a person's approval inside its child run.
 *
 * It shows:
 * 1. the parent stops `waiting`: `GraphHasPendingWaits` lists the child's
 *    wait with the child's run id;
 * 2. `getRun` of the parent lists its children, `getRun` of a child names
 *    its parent;
 * 3. `resolveWait` on the child's run id, then a resume of the parent:
 *    finished children are not run again, the waiting one goes on;
 * 4. a run deadline (`timeoutMs`) and `RunTimeoutError`.
 *
 * Runs are kept in a temporary folder (a LowdbStore), removed at the end.
 *
 *     npx tsx examples/nested-runs.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GraphHasPendingWaits, LowdbStore, RunTimeoutError, getRun, graph, resolveWait, runAsync } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "taskloom-nested-example-"));
const store = new LowdbStore({ dir });
const billed: string[] = [];

/** One customer's invoice: compute it, and have a person approve a big one. */
const invoice = graph("invoice")
  .input<{ customer: string; cents: number }>()
  .node("compute", ({ inputs }) => {
    billed.push(inputs.customer);
    return { customer: inputs.customer, cents: inputs.cents };
  })
  .node(
    "approve",
    async ({ deps, waitFor }) => {
      const bill = deps.compute;
      if (bill.cents < 100_000) return "auto";
      const decision = await waitFor<{ by: string }>("approval");
      return `approved by ${decision.by}`;
    },
    { after: ["compute"] },
  )
  .build();

const monthEnd = graph("month-end")
  .input<{ customers: { id: string; cents: number }[] }>()
  .node("bill", ({ inputs, run }) => Promise.all(inputs.customers.map((c) => run(invoice, { customer: c.id, cents: c.cents }, { key: c.id }))))
  .node("report", ({ deps }) => `${deps.bill.length} invoices`, { after: ["bill"] })
  .build();

const customers = [
  { id: "acme", cents: 12_000 },
  { id: "globex", cents: 250_000 },
  { id: "initech", cents: 8_000 },
];

try {
  // 1. The big invoice waits: so does the parent.
  try {
    await runAsync(monthEnd, { customers }, { runId: "month-2026-11", store });
  } catch (error) {
    if (!(error instanceof GraphHasPendingWaits)) throw error;
    for (const w of error.waits) console.log(`waiting for "${w.key}" in run ${w.runId ?? error.runId}`);
  }

  // 2. Parent and children, linked both ways.
  const parent = await getRun("month-2026-11", { store });
  console.log(
    parent.status,
    (parent.children ?? []).map((c) => `${c.runId}: ${c.status}`),
  );
  const globex = (parent.children ?? []).find((c) => c.status === "waiting");
  if (!globex) throw new Error("expected a waiting child");
  console.log(`${globex.runId} has parent ${(await getRun(globex.runId, { store })).parentRunId}`);

  // 3. Approve in the child, resume the parent: acme and initech are not billed again.
  await resolveWait(globex.runId, "approval", { by: "dana" }, { store });
  const out = await runAsync(monthEnd, undefined, { runId: "month-2026-11", store });
  console.log(out.report, "| billed:", billed.join(", "));

  // 4. A deadline for the whole run: the wait outlives it.
  try {
    await runAsync(monthEnd, { customers: [{ id: "hooli", cents: 500_000 }] }, { runId: "month-2026-12", store, timeoutMs: 1_500 });
  } catch (error) {
    if (!(error instanceof GraphHasPendingWaits)) throw error;
  }
  await new Promise((r) => setTimeout(r, 1_600));
  try {
    await runAsync(monthEnd, undefined, { runId: "month-2026-12", store });
  } catch (error) {
    if (error instanceof RunTimeoutError) console.log(`${error.code}: resume with a new timeoutMs to go on`);
    else throw error;
  }
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
