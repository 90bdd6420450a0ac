/**
 * The bench's no-op fan-out or chain of N nodes (a source, N middle nodes,
 * a sink; `maxConcurrency` 8) on `<tree>/dist`, in this process: the
 * median of R rounds after one warm-up, each on a fresh store with a
 * forced garbage collection before it. For an A/B of two builds in
 * separate processes (see `engine-ab.ts` for why not one).
 *
 *   npm run build   # in each tree
 *   TMPDIR=/dev/shm node --expose-gc bench/probes/shape-dist.mjs <tree> [n=10000] [rounds=15] [memory|lowdb] [fanout|chain]
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [root = ".", nArg = "10000", roundsArg = "15", kind = "memory", shape = "fanout"] = process.argv.slice(2);
if (kind !== "memory" && kind !== "lowdb") throw new Error(`shape-dist: the store is memory or lowdb, not ${kind}`);
if (shape !== "fanout" && shape !== "chain") throw new Error(`shape-dist: the shape is fanout or chain, not ${shape}`);
const n = Number(nArg);
const rounds = Number(roundsArg);
if (!(Number.isInteger(n) && n > 0 && Number.isInteger(rounds) && rounds > 0)) throw new Error("shape-dist: n and rounds are positive integers");
const lib = await import(pathToFileURL(resolve(root, "dist/index.js")).href);
let builder = lib.graph("bench").node("source", async () => 0);
for (let i = 0; i < n; i++) {
  const before = shape === "chain" && i > 0 ? `n${i - 1}` : "source";
  builder = builder.node(`n${i}`, async () => i, { after: [before] });
}
const sinkAfter = shape === "chain" ? [`n${n - 1}`] : Array.from({ length: n }, (_, i) => `n${i}`);
const graph = builder
  .node("sink", async () => 1, { after: sinkAfter })
  .output(() => null)
  .build();
const ms = [];
for (let r = 0; r <= rounds; r++) {
  const dir = mkdtempSync(join(tmpdir(), "shape-dist-"));
  const store = kind === "lowdb" ? new lib.LowdbStore({ dir }) : new lib.MemoryStore();
  globalThis.gc?.();
  const started = performance.now();
  await lib.runAsync(graph, undefined, { store, runId: `shape-dist-${r}`, maxConcurrency: 8 });
  await store.close();
  if (r > 0) ms.push(performance.now() - started);
  rmSync(dir, { recursive: true, force: true });
}
ms.sort((a, b) => a - b);
console.log(`${root} ${kind} ${shape} ${n}: median ${ms[ms.length >> 1].toFixed(1)} ms of ${rounds} rounds`);
