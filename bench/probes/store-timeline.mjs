/**
 * Where a small durable run's time goes, store call by store call (issue
 * 16, target 1): a bench row's rounds (the graph built once, a fresh store
 * after a forced `gc()` each round, `runAsync` plus `store.close()`),
 * loading `<tree>/dist`, with every `RunStore` call of the store class
 * wrapped to note when it starts and when it (or its promise) ends. Prints
 * the calls of one round with their record counts (`append(100)`: one
 * append of 100 records), then the median of each stretch between two
 * consecutive events over rounds 4 to 24 (the bench's counted rounds),
 * over all processes: a store call's own time, and the engine's time
 * between calls.
 *
 *   npm run build   # in the tree
 *   node --expose-gc bench/probes/store-timeline.mjs <tree> <lowdb|memory> <chain|fanout> <n> [processes]
 *
 * A median of each stretch, not of the whole: on a busy machine a
 * preempted round is slow in one stretch, and the stretches' medians stay.
 *
 * @module
 */
import { benchGraph } from "./bench-graph.mjs";
import { execFileSync } from "node:child_process";
import { mkdtempSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const [root = ".", kind = "lowdb", shape = "fanout", nArg = "100", procsArg = "8", child] = process.argv.slice(2);
if (child !== "child") {
  const stretches = new Map();
  let calls = "";
  for (let i = 0; i < Number(procsArg); i++) {
    const out = execFileSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), root, kind, shape, nArg, "1", "child"], { encoding: "utf8" });
    const { rounds, first } = JSON.parse(out);
    calls = first;
    for (const events of rounds) {
      let prev = ["start", 0];
      for (const [name, t] of events) {
        const key = `${prev[0]} .. ${name}`;
        if (!stretches.has(key)) stretches.set(key, []);
        stretches.get(key).push((t - prev[1]) * 1000);
        prev = [name, t];
      }
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(`calls of one ${kind} ${shape} ${nArg} run: ${calls}`);
  for (const [key, us] of stretches) console.log(`${median(us).toFixed(0).padStart(7)} us  ${key}`);
} else {
  const lib = await import(resolve(root, "dist/index.js"));
  const n = Number(nArg);
  const g = benchGraph(lib, shape, n);
  const Store = kind === "lowdb" ? lib.LowdbStore : lib.MemoryStore;
  let t0 = 0;
  let events = [];
  for (const m of ["acquireLease", "load", "writeSnapshot", "append", "renewLease", "releaseLease", "close"]) {
    const orig = Store.prototype[m];
    Store.prototype[m] = function (...args) {
      const tag = m === "append" ? `append(${args[1].length})` : m;
      events.push([`${tag}<`, performance.now() - t0]);
      const p = orig.apply(this, args);
      const end = () => events.push([`${tag}>`, performance.now() - t0]);
      if (p && typeof p.then === "function") return p.then((v) => (end(), v));
      end();
      return p;
    };
  }
  const trash = mkdtempSync(join(tmpdir(), "store-timeline-trash-"));
  const rounds = [];
  let first = "";
  for (let r = 0; r < 24; r++) {
    const dir = kind === "lowdb" ? mkdtempSync(join(tmpdir(), "store-timeline-")) : undefined;
    const store = dir ? new lib.LowdbStore({ dir }) : new lib.MemoryStore();
    globalThis.gc?.();
    events = [];
    t0 = performance.now();
    await lib.runAsync(g, undefined, { store, runId: `bench-${r}`, maxConcurrency: 8 });
    await store.close();
    events.push(["end", performance.now() - t0]);
    if (r >= 3) rounds.push(events);
    if (r === 3)
      first = events
        .filter(([name]) => name.endsWith("<"))
        .map(([name]) => name.slice(0, -1))
        .join(" ");
    if (dir) renameSync(dir, join(trash, String(r)));
  }
  process.stdout.write(JSON.stringify({ rounds, first }));
}
