/**
 * Time spent inside synchronous `fs` calls during real durable runs (issue 16, twenty-third pass): every
 * `fs.*Sync` function is wrapped with a timer before taskloom is imported (`syncBuiltinESMExports`, so the
 * named imports of the build see the wrappers too), then runs go back to back on one store, from the build:
 *
 *   npm run build && node --expose-gc bench/probes/fs-call-time.mjs one [runs=3000]     # 1-node runs, LowdbStore
 *   npm run build && node --expose-gc bench/probes/fs-call-time.mjs chain [rounds=30]   # 10,000-node chains
 *   ... memory-one / memory-chain: the same on MemoryStore (no file calls; the runs' own time)
 *
 * Prints µs (one) or ms (chain) per run, the part spent in file calls, and the calls by name. Unlike a CPU
 * profile, whose sampling signal lands inside system calls and inflates them (a chain's `writeString` read
 * 60% of a profile and 30% here), this counts wall time inside the calls.
 */
import fs, { mkdtempSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";

const by = new Map();
let inside = 0;
/** Whether a timed run is going on: only its calls are listed by name. */
let counting = false;
for (const name of Object.keys(fs)) {
  const original = fs[name];
  if (!name.endsWith("Sync") || typeof original !== "function") continue;
  fs[name] = function (...args) {
    const t = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      const d = performance.now() - t;
      inside += d;
      const seen = counting ? (by.get(name) ?? { ms: 0, calls: 0 }) : undefined;
      if (seen !== undefined) {
        seen.ms += d;
        seen.calls += 1;
        by.set(name, seen);
      }
    }
  };
}
syncBuiltinESMExports();

const lib = await import(new URL("../../dist/index.js", import.meta.url).href);
const mode = process.argv[2] ?? "one";
const chain = mode.endsWith("chain");
const memory = mode.startsWith("memory");
const count = Number(process.argv[3] ?? (chain ? 30 : 3000));
const newStore = () => (memory ? new lib.MemoryStore() : new lib.LowdbStore({ dir: mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "fs-time-")) }));

let g;
if (chain) {
  g = lib.graph("chain");
  for (let i = 0; i < 10_000; i++) g = g.node(`n${i}`, async () => i, i ? { after: [`n${i - 1}`] } : undefined);
} else g = lib.graph("one").node("a", async () => 1);
const graph = g.build();

if (chain) {
  const times = [];
  let spent = 0;
  for (let r = -5; r < count; r++) {
    const store = newStore();
    globalThis.gc?.();
    const before = inside;
    counting = r >= 0;
    const t = performance.now();
    await lib.runAsync(graph, undefined, { store, runId: `r${r}`, maxConcurrency: 8 });
    counting = false;
    if (r >= 0) {
      times.push(performance.now() - t);
      spent += inside - before;
    }
    await store.close();
  }
  times.sort((a, b) => a - b);
  console.log(`${mode}: median ${times[times.length >> 1].toFixed(1)} ms a run, ${(spent / count).toFixed(1)} ms of it in file calls (mean)`);
} else {
  const store = newStore();
  for (let i = 0; i < 300; i++) await lib.runAsync(graph, undefined, { store, runId: `w${i}`, maxConcurrency: 8 });
  const before = inside;
  counting = true;
  const t = performance.now();
  for (let i = 0; i < count; i++) await lib.runAsync(graph, undefined, { store, runId: `r${i}`, maxConcurrency: 8 });
  counting = false;
  const us = ((performance.now() - t) * 1000) / count;
  console.log(`${mode}: ${us.toFixed(1)} µs a run, ${(((inside - before) * 1000) / count).toFixed(1)} µs of it in file calls`);
  await store.close();
}
for (const [name, { ms, calls }] of [...by].sort((a, b) => b[1].ms - a[1].ms))
  console.log(
    `  ${name.padEnd(16)} ${((ms * (chain ? 1 : 1000)) / count).toFixed(1).padStart(8)} ${chain ? "ms" : "µs"}  ${(calls / count).toFixed(2)} calls a run`,
  );
