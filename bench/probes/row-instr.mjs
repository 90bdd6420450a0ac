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
import { benchGraph } from "./bench-graph.mjs";
import { mkdtempSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [root = ".", kind = "lowdb", shape = "fanout", nArg = "100", roundsArg = "24"] = process.argv.slice(2);
const lib = await import(resolve(root, "dist/index.js"));
const n = Number(nArg);
const g = benchGraph(lib, shape, n);
const trash = mkdtempSync(join(tmpdir(), "row-instr-trash-"));
for (let r = 0; r < Number(roundsArg); r++) {
  const dir = kind === "lowdb" ? mkdtempSync(join(tmpdir(), "row-instr-")) : undefined;
  const store = dir ? new lib.LowdbStore({ dir }) : new lib.MemoryStore();
  globalThis.gc?.();
  await lib.runAsync(g, undefined, { store, runId: `bench-${r}`, maxConcurrency: 8 });
  await store.close();
  if (dir) renameSync(dir, join(trash, String(r)));
}
