/**
 * Scale probe (issue 16, target 6): one fan-out of `--n` nodes through one
 * system in this process; prints the build and run time, the cost per
 * node (wall and CPU time: on a loaded machine, compare CPU) and the peak
 * RSS (`maxRSS` of this process, which holds nothing else). Run each system and size in its own process:
 *
 * `node --expose-gc --import tsx bench/probes/scale.ts --system taskloom-lowdb --n 1000000`
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Prepare } from "../systems/types.js";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "100000" },
    system: { type: "string", default: "taskloom-lowdb" },
    shape: { type: "string", default: "fanout" },
  },
});
const n = Number(values.n);
const shape = values.shape === "chain" ? "chain" : "fanout";
const system = values.system ?? "taskloom-lowdb";

async function load(): Promise<Prepare> {
  if (system === "pqueue") return (await import("../systems/pqueue.js")).prepare;
  if (system === "taskloom-memory" || system === "taskloom-lowdb") return (await import("../systems/taskloom.js")).prepareFor(system);
  throw new Error(`scale probe: unknown system ${system}`);
}

const prepared = await (await load())(shape, n, 8);
const round = await prepared.round(0);
(globalThis as { gc?: () => void }).gc?.();
const rssBeforeMB = process.memoryUsage().rss / 2 ** 20;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await round.run();
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
await round.cleanup();
const peakMB = process.resourceUsage().maxRSS / 1024;
console.log(
  `${system} ${shape} n=${n}: build ${prepared.buildMs.toFixed(0)} ms, run ${ms.toFixed(0)} ms, ${((ms * 1000) / n).toFixed(2)} us/node, ` +
    `run CPU ${cpuMs.toFixed(0)} ms (${((cpuMs * 1000) / n).toFixed(2)} us/node), ` +
    `rss before run ${rssBeforeMB.toFixed(0)} MB, peak rss ${peakMB.toFixed(0)} MB`,
);
