/**
 * Probe of the JIT's warm-up in a bench row (issue 16, targets 1 and 3; the
 * nineteenth pass's protocol change in `bench/plan.ts`, `warmupRounds`):
 * the wall and CPU time (user + system, ms) of each round of an n-node
 * row (10,000 unless given), set up as the bench's `time` child sets it up
 * (the graph built once, a fresh store per round, a forced `gc()` before
 * it), optionally after `pre` untimed rounds of the same system and shape
 * at `preN` nodes.
 * Prints each round as `wall/cpu` and the median wall time of rounds 2 to
 * 16 (the bench's figure before that pass: one warm-up, 15 counted).
 *
 *   npm run build
 *   TMPDIR=/dev/shm node --expose-gc --import tsx bench/probes/warmup-curve.ts <system> <shape> [rounds=20] [pre=0] [preN=1000] [n=10000]
 *
 * E.g. `taskloom-lowdb fanout 30` shows the fan-out's rounds falling from
 * 30 to 60 ms to about 25 ms over the first 16 rounds; `taskloom-lowdb
 * fanout 20 100 1000` (100 runs of 1,000 nodes first) is at the floor by
 * its third round: the code that runs once per run tiers up with the
 * number of runs. `taskloom-memory fanout 300 0 1000 100` shows a 100-node
 * row still falling after 60 runs.
 *
 * @module
 */
import { prepareFor } from "../systems/taskloom.js";
import type { Shape } from "../protocol.js";
import { median } from "../stats.js";
import { timedRound } from "./ab-rounds.js";

type System = Parameters<typeof prepareFor>[0];
const [system = "taskloom-lowdb", shape = "fanout", rounds = "20", pre = "0", preN = "1000", nArg = "10000"] = process.argv.slice(2);
const n = Number(nArg);
if (!(globalThis as { gc?: () => void }).gc) throw new Error("run with --expose-gc");
const prepare = prepareFor(system as System);
if (Number(pre) > 0) {
  const small = await prepare(shape as Shape, Number(preN), 8);
  for (let i = 0; i < Number(pre); i++) await timedRound(small, i);
}
const prepared = await prepare(shape as Shape, n, 8);
const wall: number[] = [];
const shown: string[] = [];
for (let i = 0; i < Number(rounds); i++) {
  const { wallMs, cpuMs } = await timedRound(prepared, i);
  const digits = wallMs < 10 ? 2 : 0;
  wall.push(wallMs);
  shown.push(`${wallMs.toFixed(digits)}/${cpuMs.toFixed(digits)}`);
}
const early = wall.slice(1, 16);
const medianOfEarly = early.length > 0 ? ` | median of rounds 2 to ${early.length + 1}: ${median(early).toFixed(1)} ms` : "";
console.log(`${system} ${shape} ${n.toLocaleString("en-US")}: ${shown.join(" ")}${medianOfEarly}`);
