/**
 * RSS probe (issue 16, target 6): where a large fan-out's peak memory is.
 * Runs one `--n`-node fan-out on `taskloom-lowdb` (or `--system`) in this
 * process and samples `process.memoryUsage()` every `--every` ms (rss,
 * heapUsed, external, arrayBuffers), printing one line per sample with the
 * phase (build, run) and the maxima at the end. With `--snapshot-mb M` it
 * writes one heap snapshot (`v8.writeHeapSnapshot`) the first time
 * heapUsed passes M MB during the run, to see which objects are alive near
 * the peak; with `--gc-mb M` it forces one full GC there instead (with
 * `--trace-gc-object-stats`, V8 then lists the dead objects by type: the
 * garbage that was promoted to old space).
 *
 * `node --expose-gc --max-old-space-size=8192 --import tsx bench/probes/rss.ts --n 200000 [--snapshot-mb 300]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";
import type { Prepare } from "../systems/types.js";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "200000" },
    system: { type: "string", default: "taskloom-lowdb" },
    every: { type: "string", default: "100" },
    "snapshot-mb": { type: "string" },
    "gc-mb": { type: "string" },
    quiet: { type: "boolean", default: false },
  },
});
const n = Number(values.n);
const system = values.system ?? "taskloom-lowdb";
const snapshotMB = values["snapshot-mb"] === undefined ? undefined : Number(values["snapshot-mb"]);
const MB = 2 ** 20;
const t0 = performance.now();
let phase = "build";
const max = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
/** The largest used size of each heap space seen (old_space, large_object_space, ...). */
const maxSpace = new Map<string, number>();
let snapshotWritten = false;
const gcMB = values["gc-mb"] === undefined ? undefined : Number(values["gc-mb"]);
let gcDone = false;

function sample(): void {
  const m = process.memoryUsage();
  for (const k of ["rss", "heapUsed", "external", "arrayBuffers"] as const) max[k] = Math.max(max[k], m[k]);
  for (const sp of getHeapSpaceStatistics()) maxSpace.set(sp.space_name, Math.max(maxSpace.get(sp.space_name) ?? 0, sp.space_used_size));
  if (!values.quiet) {
    console.log(
      `${(performance.now() - t0).toFixed(0).padStart(6)} ms ${phase.padEnd(5)} rss ${(m.rss / MB).toFixed(0).padStart(5)} heapUsed ${(m.heapUsed / MB).toFixed(0).padStart(5)} ` +
        `heapTotal ${(m.heapTotal / MB).toFixed(0).padStart(5)} external ${(m.external / MB).toFixed(0).padStart(4)} arrayBuffers ${(m.arrayBuffers / MB).toFixed(0).padStart(4)} ` +
        getHeapSpaceStatistics()
          .filter((sp) => sp.space_used_size > 4 * MB)
          .map((sp) => `${sp.space_name.replace("_space", "")} ${(sp.space_used_size / MB).toFixed(0)}`)
          .join(" "),
    );
  }
  if (snapshotMB !== undefined && phase === "run" && !snapshotWritten && m.heapUsed / MB >= snapshotMB) {
    snapshotWritten = true;
    console.log(`heap snapshot: ${writeHeapSnapshot(`${process.env.TMPDIR ?? "/tmp"}/rss-${process.pid}.heapsnapshot`)}`);
  }
  if (gcMB !== undefined && phase === "run" && !gcDone && m.heapUsed / MB >= gcMB) {
    gcDone = true;
    console.log("full GC (--gc-mb)");
    (globalThis as { gc?: () => void }).gc?.();
  }
}

const timer = setInterval(sample, Number(values.every));
async function load(): Promise<Prepare> {
  if (system === "pqueue") return (await import("../systems/pqueue.js")).prepare;
  return (await import("../systems/taskloom.js")).prepareFor(system as "taskloom-lowdb");
}
const prepared = await (await load())("fanout", n, 8);
const round = await prepared.round(0);
(globalThis as { gc?: () => void }).gc?.();
sample();
phase = "run";
const r0 = performance.now();
await round.run();
const runMs = performance.now() - r0;
phase = "done";
sample();
clearInterval(timer);
await round.cleanup();
console.log(
  `${system} fanout n=${n}: run ${runMs.toFixed(0)} ms; max rss ${(max.rss / MB).toFixed(0)} MB (maxRSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)}), ` +
    `max heapUsed ${(max.heapUsed / MB).toFixed(0)}, external ${(max.external / MB).toFixed(0)}, arrayBuffers ${(max.arrayBuffers / MB).toFixed(0)}; ` +
    `max used MB by space: ${[...maxSpace].map(([k, v]) => `${k.replace("_space", "")} ${(v / MB).toFixed(0)}`).join(", ")}`,
);
