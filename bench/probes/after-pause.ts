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
import { timedRound } from "./ab-rounds.js";

type System = Parameters<typeof prepareFor>[0];
const [system = "taskloom-memory", shape = "chain", nArg = "1", waitArg = "0"] = process.argv.slice(2);
if (!(globalThis as { gc?: () => void }).gc) throw new Error("run with --expose-gc");
const pauseMs = Number(waitArg);
const prepared = await prepareFor(system as System)(shape as Shape, Number(nArg), 8);

let index = 0;
for (let i = 0; i < 2_000; i++) await timedRound(prepared, index++, { collect: false });
for (const collect of [true, false, true, false]) {
  const ms: number[] = [];
  const faults: number[] = [];
  for (let i = 0; i < 200; i++) {
    const { wallMs, minorFaults } = await timedRound(prepared, index++, collect ? { pauseMs } : { collect: false });
    ms.push(wallMs);
    faults.push(minorFaults);
  }
  const how = collect ? `after a collection${pauseMs > 0 ? ` and ${pauseMs} ms` : ""}` : "back to back";
  console.log(`${system} ${shape} ${nArg}, ${how}: median ${median(ms).toFixed(3)} ms, ${median(faults)} minor faults per run`);
}
