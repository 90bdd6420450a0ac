/**
 * Engine overhead probe (issue 16, target 3): taskloom against raw
 * p-queue on the bench graphs (bench/systems), both measured in this one
 * process and interleaved round by round, so that load on the machine
 * hits both alike. Prints the medians of wall and CPU time and their
 * ratios (CPU time is the steadier one on a loaded machine).
 *
 * `node --expose-gc --import tsx bench/probes/engine-overhead.ts [--n 10000] [--rounds 15] [--shape fanout|chain] [--system taskloom-memory|taskloom-lowdb]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { prepare as preparePQueue } from "../systems/pqueue.js";
import { prepareFor } from "../systems/taskloom.js";
import type { Shape } from "../protocol.js";
import { median } from "../stats.js";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "10000" },
    rounds: { type: "string", default: "15" },
    shape: { type: "string" },
    system: { type: "string", default: "taskloom-memory" },
  },
});
const n = Number(values.n);
const rounds = Number(values.rounds);
const system = values.system === "taskloom-lowdb" ? "taskloom-lowdb" : "taskloom-memory";
const shapes: Shape[] = values.shape === "fanout" || values.shape === "chain" ? [values.shape] : ["fanout", "chain"];
const gc = (globalThis as { gc?: () => void }).gc;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

for (const shape of shapes) {
  const systems = [
    ["pqueue", await preparePQueue(shape, n, 8)],
    [system, await prepareFor(system)(shape, n, 8)],
  ] as const;
  const wall = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  for (let i = 0; i < rounds + 2; i++) {
    for (const [name, prepared] of systems) {
      const round = await prepared.round(i);
      gc?.();
      const c0 = cpuMs();
      const t0 = performance.now();
      await round.run();
      const ms = performance.now() - t0;
      const cms = cpuMs() - c0;
      await round.cleanup();
      if (i < 2) continue;
      wall.set(name, [...(wall.get(name) ?? []), ms]);
      cpu.set(name, [...(cpu.get(name) ?? []), cms]);
    }
  }
  const pw = median(wall.get("pqueue") ?? []);
  const tw = median(wall.get(system) ?? []);
  const pc = median(cpu.get("pqueue") ?? []);
  const tc = median(cpu.get(system) ?? []);
  console.log(
    `${shape} n=${n}: wall p-queue ${pw.toFixed(1)} ms, ${system} ${tw.toFixed(1)} ms (${(tw / pw).toFixed(2)}x); ` +
      `cpu p-queue ${pc.toFixed(1)} ms, ${system} ${tc.toFixed(1)} ms (${(tc / pc).toFixed(2)}x)`,
  );
}
