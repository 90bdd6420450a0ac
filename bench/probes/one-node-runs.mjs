/**
 * Many durable 1-node runs back to back on one store (issue 16, twenty-second pass), from the build, for a CPU
 * profile of what a run costs over MemoryStore:
 *
 *   npm run build && node --cpu-prof --cpu-prof-dir=/tmp/prof bench/probes/one-node-runs.mjs lowdb 3000
 *
 * prints the mean µs per run (after 300 warm-up runs) and the store folder.
 */
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
const lib = await import(new URL("../../dist/index.js", import.meta.url).href);
const g = lib
  .graph("one")
  .node("a", async () => 1)
  .build();
const kind = process.argv[2] ?? "lowdb";
const n = Number(process.argv[3] ?? 3000);
const dir = mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "prof-one-"));
const store = kind === "lowdb" ? new lib.LowdbStore({ dir }) : new lib.MemoryStore();
for (let i = 0; i < 300; i++) await lib.runAsync(g, undefined, { store, runId: `w${i}`, maxConcurrency: 8 });
const t = performance.now();
for (let i = 0; i < n; i++) await lib.runAsync(g, undefined, { store, runId: `r${i}`, maxConcurrency: 8 });
console.log(kind, (((performance.now() - t) * 1000) / n).toFixed(1), "us per run");
await store.close();
console.log(dir);
