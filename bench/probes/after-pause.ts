/**
 * Probe of what a forced collection before a round does to a small run
 * (issue 16, target 1; the twentieth pass's batched rounds, `bench/plan.ts`
 * `batchedRow`): the wall time and minor page faults of single runs of a
 * row, each either just after `gc()` (optionally followed by a timer of
 * `wait` ms) or straight after the previous run, after 2,000 untimed runs.
 * Four blocks of 200 runs: after a collection, back to back, after, back
 * to back (medians). Set up as the bench's `time` child sets a round up (a
 * fresh store per run, made untimed).
 *
 *   npm run build
 *   TASKLOOM_BENCH_TRASH=$(mktemp -d) node --expose-gc --import tsx bench/probes/after-pause.ts <system> [shape=chain] [n=1] [wait=0]
 *
 * On the twentieth pass's machine, MemoryStore's 1-node run read 0.43 to
 * 0.61 ms after a collection and 0.07 to 0.12 ms back to back, with no
 * page fault either way; a 5 ms or 50 ms timer after the collection made
 * it 0.66 and 0.92 ms; `--no-flush-bytecode`, `--no-concurrent-sweeping`,
 * `--single-threaded-gc` changed nothing. So what slows the run after a
 * collection is the pause itself (a process whose caches and vCPU went
 * cold), not work the collector leaves behind.
 *
 * @module
 */
import { prepareFor } from "../systems/taskloom.js";
import type { Shape } from "../protocol.js";
import { median } from "../stats.js";

type System = Parameters<typeof prepareFor>[0];
const [system = "taskloom-memory", shape = "chain", nArg = "1", waitArg = "0"] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");
const collect: () => void = gc;
const waitMs = Number(waitArg);
const prepared = await prepareFor(system as System)(shape as Shape, Number(nArg), 8);

/** One run (its store made before and disposed of after, untimed): its wall time (ms) and minor page faults. */
async function once(index: number, afterCollection: boolean): Promise<readonly [number, number]> {
  const round = await prepared.round(index);
  if (afterCollection) {
    collect();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
  const faults = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  await round.run();
  const ms = performance.now() - t0;
  const faulted = process.resourceUsage().minorPageFault - faults;
  await round.cleanup();
  return [ms, faulted];
}

let index = 0;
for (let i = 0; i < 2_000; i++) await once(index++, false);
for (const afterCollection of [true, false, true, false]) {
  const ms: number[] = [];
  const faults: number[] = [];
  for (let i = 0; i < 200; i++) {
    const [m, f] = await once(index++, afterCollection);
    ms.push(m);
    faults.push(f);
  }
  const how = afterCollection ? `after a collection${waitMs > 0 ? ` and ${waitMs} ms` : ""}` : "back to back";
  console.log(`${system} ${shape} ${nArg}, ${how}: median ${median(ms).toFixed(3)} ms, ${median(faults)} minor faults per run`);
}
