/**
 * Scale probe (issue 16, target 6): one fan-out of `--n` nodes through one
 * system in this process; prints the build and run time, the cost per
 * node (wall and CPU time: on a loaded machine, compare CPU) and the peak
 * RSS (`maxRSS` of this process, which holds nothing else). Run each system and size in its own process:
 *
 * `node --expose-gc --import tsx bench/probes/scale.ts --system taskloom-lowdb --n 1000000`
 *
 * `--warmup K` runs K untimed rounds first and `--rounds R` times R rounds (each printed, then
 * their medians): the bench times N = 100,000 as the median of 3 rounds after 1 warm-up, and
 * N = 1,000,000 (the `memory` kind) as 1 round without one. `--profile FILE` writes a CPU
 * profile of the last timed round's run alone (not the graph's build, nor a store's setup) to FILE,
 * sampled every `--profile-interval` µs (default 1,000; compare profiles of one interval only:
 * a finer one slows small runs more). It also prints the build's CPU time and the garbage
 * collections of the timed runs (scavenges and mark-compacts: count and total pause), from
 * `perf_hooks` "gc" entries.
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { PerformanceObserver, constants } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { median } from "../stats.js";
import type { Prepare } from "../systems/types.js";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "100000" },
    system: { type: "string", default: "taskloom-lowdb" },
    shape: { type: "string", default: "fanout" },
    warmup: { type: "string", default: "0" },
    rounds: { type: "string", default: "1" },
    profile: { type: "string" },
    "profile-interval": { type: "string", default: "1000" },
  },
});
const n = Number(values.n);
const shape = values.shape === "chain" ? "chain" : "fanout";
const system = values.system ?? "taskloom-lowdb";
const warmup = Number(values.warmup);
const rounds = Math.max(1, Number(values.rounds));

async function load(): Promise<Prepare> {
  if (system === "pqueue") return (await import("../systems/pqueue.js")).prepare;
  if (system === "taskloom-memory" || system === "taskloom-lowdb") return (await import("../systems/taskloom.js")).prepareFor(system);
  throw new Error(`scale probe: unknown system ${system}`);
}

const gc = (globalThis as { gc?: () => void }).gc;
const buildCpu0 = process.cpuUsage();
const prepared = await (await load())(shape, n, 8);
const buildCpu = process.cpuUsage(buildCpu0);
for (let i = 0; i < warmup; i++) {
  const round = await prepared.round(i);
  await round.run();
  await round.cleanup();
}
let session: Session | undefined;
if (values.profile !== undefined) {
  session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: Number(values["profile-interval"]) });
}
const wallUs: number[] = [];
const cpuUs: number[] = [];
let rssBeforeMB = 0;
/** Garbage collections during the timed runs, by kind: count and total pause. */
const gcs = { scavenge: { n: 0, ms: 0 }, major: { n: 0, ms: 0 } };
let timing = false;
const gcObserver = new PerformanceObserver((list) => {
  if (!timing) return;
  for (const entry of list.getEntries()) {
    const kind = ((entry as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind;
    const slot = kind === constants.NODE_PERFORMANCE_GC_MINOR ? gcs.scavenge : kind === constants.NODE_PERFORMANCE_GC_MAJOR ? gcs.major : undefined;
    if (slot === undefined) continue;
    slot.n += 1;
    slot.ms += entry.duration;
  }
});
gcObserver.observe({ entryTypes: ["gc"] });
for (let i = 0; i < rounds; i++) {
  const round = await prepared.round(warmup + i);
  gc?.();
  rssBeforeMB = process.memoryUsage().rss / 2 ** 20;
  if (session && i === rounds - 1) await session.post("Profiler.start");
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const faults0 = process.resourceUsage().minorPageFault;
  timing = true;
  await round.run();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const faults = process.resourceUsage().minorPageFault - faults0;
  // The observer hears of a collection in a later task: let the last ones of the run arrive.
  await new Promise((resolve) => setImmediate(resolve));
  timing = false;
  if (session && i === rounds - 1) {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(values.profile!, JSON.stringify(profile));
  }
  await round.cleanup();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  wallUs.push((ms * 1000) / n);
  cpuUs.push((cpuMs * 1000) / n);
  console.log(
    `${system} ${shape} n=${n} round ${i}: run ${ms.toFixed(0)} ms, ${((ms * 1000) / n).toFixed(2)} us/node, ` +
      `run CPU ${cpuMs.toFixed(0)} ms (${((cpuMs * 1000) / n).toFixed(2)} us/node; system ${(cpu.system / 1000).toFixed(0)} ms), ` +
      `${faults} minor page faults (${((faults * 1000) / n).toFixed(0)} per 1,000 nodes)`,
  );
}
const peakMB = process.resourceUsage().maxRSS / 1024;
console.log(
  `${system} ${shape} n=${n}: build ${prepared.buildMs.toFixed(0)} ms (CPU ${((buildCpu.user + buildCpu.system) / 1000).toFixed(0)} ms), warm-up ${warmup}, rounds ${rounds}, ` +
    `median ${median(wallUs).toFixed(2)} us/node, median CPU ${median(cpuUs).toFixed(2)} us/node, ` +
    `rss before run ${rssBeforeMB.toFixed(0)} MB, peak rss ${peakMB.toFixed(0)} MB; ` +
    `in the ${rounds} timed runs: ${gcs.scavenge.n} scavenges (${gcs.scavenge.ms.toFixed(0)} ms), ` +
    `${gcs.major.n} mark-compacts (${gcs.major.ms.toFixed(0)} ms)`,
);
gcObserver.disconnect();
