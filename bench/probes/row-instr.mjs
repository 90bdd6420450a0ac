/**
 * A bench row's rounds as the bench child runs them (the graph built once,
 * `rounds` rounds, each on a fresh store after a forced `gc()`), loading
 * `<tree>/dist`, for callgrind: the process's instruction count is stable
 * on a loaded machine where CPU time is not. The difference between
 * `taskloom-lowdb` and `taskloom-memory` is the durable store's user-space
 * cost over `rounds` runs (system calls' kernel time is not counted: count
 * them with `strace -c`).
 *
 *   npm run build   # in each tree
 *   TMPDIR=/dev/shm valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --expose-gc bench/probes/row-instr.mjs <tree> <memory|lowdb> <chain|fanout> <n> [rounds] 2>&1 | grep Collected
 *
 * @module
 */
import { mkdtempSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [root = ".", kind = "lowdb", shape = "fanout", nArg = "100", roundsArg = "24"] = process.argv.slice(2);
const lib = await import(resolve(root, "dist/index.js"));
const n = Number(nArg);
const ids = Array.from({ length: n }, (_, i) => `n${i}`);
let b = lib.graph(shape);
if (shape === "fanout") {
  b = b.node("root", async () => 0);
  for (let i = 0; i < n; i++) b = b.node(ids[i], async () => i, { after: ["root"] });
  b = b.node("join", async () => 0, { after: ids });
} else {
  b = b.node(ids[0], async () => 0);
  for (let i = 1; i < n; i++) b = b.node(ids[i], async () => i, { after: [ids[i - 1]] });
}
const g = b.output(() => null).build();
const trash = mkdtempSync(join(tmpdir(), "row-instr-trash-"));
for (let r = 0; r < Number(roundsArg); r++) {
  const dir = kind === "lowdb" ? mkdtempSync(join(tmpdir(), "row-instr-")) : undefined;
  const store = dir ? new lib.LowdbStore({ dir }) : new lib.MemoryStore();
  globalThis.gc?.();
  await lib.runAsync(g, undefined, { store, runId: `bench-${r}`, maxConcurrency: 8 });
  await store.close();
  if (dir) renameSync(dir, join(trash, String(r)));
}
