/**
 * Stored graphs: a graph written to a JSON file with `toSpec`, loaded
 * back with `fromSpec` and a registry of functions by name, and run on
 * the embedded default store (./.taskloom, or TASKLOOM_DIR). The loaded
 * graph has the same fingerprint as the one in code, so runs of either
 * resume under the other.
 *
 *     npx tsx examples/stored-graph.ts
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GraphDefinitionError, fromSpec, graph, runAsync, toSpec, type NodeContext } from "../src/index.js";

interface Order {
  readonly id: number;
  readonly amountCents: number;
}

// Named functions: the spec refers to them by name.
function fetchOrders({ inputs }: NodeContext<{ day: string; count: number }>): Order[] {
  return Array.from({ length: inputs.count }, (_, i) => ({ id: i, amountCents: 500 + 250 * i }));
}
function dropSmall({ deps }: NodeContext<unknown, { fetch: Order[] }>): Order[] {
  return deps.fetch.filter((o) => o.amountCents >= 1_000);
}
function total({ deps }: NodeContext<unknown, { keep: Order[] }>): number {
  return deps.keep.reduce((sum, o) => sum + o.amountCents, 0);
}
function isTransient(error: unknown): boolean {
  return !(error instanceof TypeError);
}
function report(outputs: Record<string, unknown>, inputs: { day: string }): { day: string; kept: number; totalCents: number } {
  return { day: inputs.day, kept: (outputs.keep as Order[]).length, totalCents: outputs.total as number };
}

const registry = { fetchOrders, dropSmall, total, isTransient, report };

const orders = graph("orders-stored")
  .input<{ day: string; count: number }>()
  .node("fetch", fetchOrders, { retry: { maxAttempts: 4, backoff: { initialMs: 100 }, retryOn: isTransient } })
  .node("keep", dropSmall, { after: ["fetch"] })
  .node("total", total, { after: ["keep"], timeoutMs: 5_000 })
  .output(report)
  .build();

const file = join(mkdtempSync(join(tmpdir(), "taskloom-spec-")), "orders.json");
writeFileSync(file, JSON.stringify(toSpec(orders, { registry }), null, 2));
console.log(`wrote ${file}:\n${readFileSync(file, "utf8")}`);

type Inputs = { day: string; count: number };
const loaded = fromSpec<Inputs, ReturnType<typeof report>>(JSON.parse(readFileSync(file, "utf8")), registry);
console.log("same fingerprint as the graph in code:", loaded.fingerprint === orders.fingerprint);

const runId = process.env.RUN_ID ?? `orders-stored-${Date.now()}`;
const out = await runAsync(loaded, { day: "2026-11-23", count: 6 }, { runId });
console.log(`run ${runId} outputs:`, out);

// A registry that lacks functions is refused, naming each one.
try {
  fromSpec(JSON.parse(readFileSync(file, "utf8")), { fetchOrders });
} catch (err) {
  if (!(err instanceof GraphDefinitionError)) throw err;
  console.log(`\nrefused as expected (${err.code}):\n  ${err.problems.join("\n  ")}`);
}
