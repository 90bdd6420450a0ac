/**
 * Where a 1,000-node fan-out with `fsync` flushes (issue 16, target 4; twenty-third pass): every flush call
 * (`fsync`, `fdatasync`, their `Sync` forms) is wrapped with a timer before taskloom is imported, and each run
 * (a fresh LowdbStore in a fresh folder, as a bench round) lists its flushes in order: when each starts, from
 * the run's start, and how long it takes. Medians over the second half of the runs, from the build:
 *
 *   npm run build && node bench/probes/fsync-flush-timeline.mjs [runs=200] [nofsync]
 *
 * The same run without fsync (`nofsync`) gives the time the flushes are added to.
 */
import fs, { mkdtempSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";

/** The flushes of the run going on: name, start (performance.now()) and duration, ms. */
const flushes = [];
for (const name of ["fsyncSync", "fdatasyncSync"]) {
  const original = fs[name];
  fs[name] = function (fd) {
    const t = performance.now();
    try {
      return original.call(this, fd);
    } finally {
      flushes.push([name, t, performance.now() - t]);
    }
  };
}
for (const name of ["fsync", "fdatasync"]) {
  const original = fs[name];
  fs[name] = function (fd, callback) {
    const t = performance.now();
    return original.call(this, fd, (error) => {
      flushes.push([name, t, performance.now() - t]);
      callback(error);
    });
  };
}
syncBuiltinESMExports();

const lib = await import(new URL("../../dist/index.js", import.meta.url).href);
let g = lib.graph("fan").node("root", async () => 0);
const ids = [];
for (let i = 0; i < 1000; i++) {
  g = g.node(`n${i}`, async () => i, { after: ["root"] });
  ids.push(`n${i}`);
}
const graph = g.node("join", async () => 1, { after: ids }).build();
const runs = Number(process.argv[2] ?? 200);
const fsync = process.argv[3] !== "nofsync";

const rows = [];
for (let r = 0; r < runs; r++) {
  const store = new lib.LowdbStore({ dir: mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "flush-timeline-")), fsync });
  flushes.length = 0;
  const t = performance.now();
  await lib.runAsync(graph, undefined, { store, runId: "fan", maxConcurrency: 8 });
  rows.push({ ms: performance.now() - t, flushes: flushes.map(([name, start, d]) => [name, start - t, d]) });
  await store.close();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const warm = rows.slice(runs >> 1);
const count = median(warm.map((row) => row.flushes.length));
console.log(`${fsync ? "fsync" : "no fsync"}: median ${median(warm.map((row) => row.ms)).toFixed(2)} ms a run, ${count} flushes`);
const alike = warm.filter((row) => row.flushes.length === count);
for (let i = 0; i < count; i++) {
  const at = alike.map((row) => row.flushes[i]);
  const start = median(at.map((f) => f[1])).toFixed(2);
  console.log(`  ${String(i + 1).padStart(2)}. ${at[0][0].padEnd(14)} starts at ${start} ms, takes ${median(at.map((f) => f[2])).toFixed(2)} ms`);
}
