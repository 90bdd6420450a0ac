/**
 * Probe (issue 16, target 2): one stage-runner round instrumented, to see
 * where a round's time goes: every store call counted and timed (calls,
 * total and worst latency), the sweep and every fifth batch timestamped,
 * the process's user and system CPU, and the event loop's worst delay (a
 * long delay is synchronous work: LowdbStore's file calls are synchronous).
 * Pair with `strace -f -c`, `perf stat` or `--cpu-prof`.
 *
 *   node --import tsx bench/probes/stage-runner-trace.ts [N=10000] [batchSize=300] [lowdb|memory] [maxConcurrency=64]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { type RunStore } from "../../src/index.js";
import { taskloom } from "../taskloom-lib.js";
import { noOpStageRunner } from "../stage-workflow.js";

const { LowdbStore, MemoryStore } = taskloom;

const N = Number(process.argv[2] ?? 10_000);
const BATCH = Number(process.argv[3] ?? 300);
const which = process.argv[4] ?? "lowdb";
const stats = new Map<string, { n: number; ms: number; max: number }>();
function wrap(store: RunStore): RunStore {
  return new Proxy(store, {
    get(t, p, r) {
      const v = Reflect.get(t, p, r) as unknown;
      if (typeof v !== "function") return v;
      const method = v as (...args: unknown[]) => Promise<unknown>;
      if (p === "close") return method.bind(t);
      return async (...args: unknown[]): Promise<unknown> => {
        const t0 = performance.now();
        try {
          return await method.apply(t, args);
        } finally {
          const ms = performance.now() - t0;
          const s = stats.get(String(p)) ?? { n: 0, ms: 0, max: 0 };
          s.n++;
          s.ms += ms;
          s.max = Math.max(s.max, ms);
          stats.set(String(p), s);
        }
      };
    },
  });
}
const dir = mkdtempSync(join(tmpdir(), "taskloom-probe-stages-"));
const raw = which === "lowdb" ? new LowdbStore({ dir }) : new MemoryStore();
const store = wrap(raw);
const runner = noOpStageRunner(store, true);
const t0 = performance.now();
const mark = (s: string) => console.log(`${(performance.now() - t0).toFixed(0).padStart(6)} ms ${s}`);
runner.events.on("sweep:start", (e) => mark(`sweep:start runnable=${e.runnable}`));
let batches = 0;
runner.events.on("batch:written", () => {
  batches++;
  if (batches % 5 === 0) mark(`batch ${batches}`);
});
const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
const cpu0 = process.cpuUsage();
const tasks = Array.from({ length: N }, (_, i) => ({ id: `t${i}`, data: {} }));
const report = await runner.runAsync({ tasks, runId: "probe", batchSize: BATCH, maxConcurrency: Number(process.argv[5] ?? 64) });
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
h.disable();
await raw.close();
rmSync(dir, { recursive: true, force: true });
console.log(
  `completed ${report.completed}/${N} in ${ms.toFixed(0)} ms = ${Math.round((N / ms) * 1000)}/s; cpu user ${(cpu.user / 1000).toFixed(0)} sys ${(cpu.system / 1000).toFixed(0)} ms; eld max ${(h.max / 1e6).toFixed(0)} p99 ${(h.percentile(99) / 1e6).toFixed(0)} ms`,
);
for (const [k, s] of stats) console.log(`${k.padEnd(16)} n=${s.n} total=${s.ms.toFixed(0)}ms avg=${(s.ms / s.n).toFixed(2)} max=${s.max.toFixed(0)}`);
