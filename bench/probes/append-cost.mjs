/**
 * Instructions of one durable chain step's append (issue 16, target 3),
 * for callgrind: a `LowdbStore` run is made and its lease taken, then
 * 20,000 single-record appends of a chain step's record (fenced with the
 * lease) warm up, and `n` more are made. The difference of two `n`,
 * divided by their difference, is one append's user-space instructions
 * (the `write` system call's kernel time is not counted):
 *
 *   npm run build   # in each tree: the probe loads <tree>/dist
 *   for n in 20000 60000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node bench/probes/append-cost.mjs <tree> $n 2>&1 | grep Collected; done
 *
 * Under valgrind an append may take longer than the fencing trust (5 ms), so
 * more of them look at `lease.json` than in a native run, on both trees alike.
 * Scratch stores go under `$TMPDIR` (use /dev/shm).
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [root = ".", nArg = "20000"] = process.argv.slice(2);
const lib = await import(resolve(root, "dist/index.js"));
const dir = mkdtempSync(join(tmpdir(), "append-cost-"));
const store = new lib.LowdbStore({ dir });
const g = lib
  .graph("one")
  .node("a", async () => 1)
  .output(() => null)
  .build();
await lib.runAsync(g, undefined, { store, runId: "r" });
const lease = await store.acquireLease("r", { owner: "probe", pid: process.pid, host: hostname(), ttlMs: 600_000, now: Date.now() });
let seq = 10;
const t0 = Date.now();
/** Appends the record a chain step `i` writes: succeeded, its output, two times (50 steps share a millisecond). */
const step = (i) => {
  const t = t0 + Math.floor(i / 50);
  const node = { id: `n${i}`, nodeId: `n${i}`, status: "succeeded", attempts: 1, output: i, endedAt: t, startedAt: t };
  return store.append("r", [{ kind: "node", seq: ++seq, node }], lease);
};
for (let i = 0; i < 20_000; i++) await step(i);
for (let i = 0, n = Number(nArg); i < n; i++) await step(i);
await store.close();
rmSync(dir, { recursive: true, force: true });
