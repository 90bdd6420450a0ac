/**
 * Engine gap probe (issue 16, target 4): is a fsync chain step's work
 * besides its flush slower than a chain step without fsync because the
 * process blocked in the flush (cold caches, an idle core's wake-up), or
 * because of something the store does with fsync? `node:fs`'s
 * `fdatasyncSync` is replaced, side by side round by round in this one
 * process, by: the real call; a sleep of `--wait` µs (`Atomics.wait`: the
 * thread blocks as in a flush, no disk); a busy wait of as long (the
 * thread never leaves the CPU); nothing. A fifth side is the same chain on
 * a store without fsync. For each: the median per step of
 * the whole run, of the time inside the (replaced) flush calls, and of the
 * rest (the gap: the engine's and store's work), with the run's CPU time
 * and minor page faults.
 *
 * `TASKLOOM_BENCH_TRASH=/some/dir node --expose-gc --import tsx bench/probes/fsync-gap.ts [--n 1000] [--rounds 9] [--wait 80] [--gc]`
 *
 * @module
 */
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { parseArgs } from "node:util";
import { prepareFor } from "../systems/taskloom.js";
import { median } from "../stats.js";
import { timedRound } from "./ab-rounds.js";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "1000" },
    rounds: { type: "string", default: "9" },
    wait: { type: "string", default: "80" },
    gc: { type: "boolean", default: false },
  },
});
const n = Number(values.n);
const rounds = Number(values.rounds);
const waitUs = Number(values.wait);

const realFlush = fs.fdatasyncSync;
const cell = new Int32Array(new SharedArrayBuffer(4));
const modes: Record<string, (fd: number) => void> = {
  real: (fd) => realFlush(fd),
  sleep: () => void Atomics.wait(cell, 0, 0, waitUs / 1000),
  spin: () => {
    const end = performance.now() + waitUs / 1000;
    while (performance.now() < end);
  },
  none: () => undefined,
};
let mode = "real";
let inFlush = 0;
fs.fdatasyncSync = (fd: number) => {
  const t0 = performance.now();
  modes[mode]!(fd);
  inFlush += performance.now() - t0;
};
syncBuiltinESMExports();

const chain = await prepareFor("taskloom-lowdb-fsync")("chain", n, 8);
// The same chain without fsync, as a fifth side: what a durable step costs that never flushes.
const plain = await prepareFor("taskloom-lowdb")("chain", n, 8);
const names = [...Object.keys(modes), "no fsync"];
const rows = new Map<string, { step: number; flush: number; gap: number; cpu: number; faults: number }[]>();
for (let i = 0; i < rounds + 1; i++) {
  for (let k = 0; k < names.length; k++) {
    mode = names[(i + k) % names.length]!;
    // Setting a round up flushes nothing: the flush time counted from here is the run's.
    inFlush = 0;
    const { wallMs: ms, cpuMs, minorFaults: faults } = await timedRound(mode === "no fsync" ? plain : chain, i, { collect: values.gc });
    if (i === 0) continue;
    const list = rows.get(mode) ?? [];
    list.push({ step: (ms * 1000) / n, flush: (inFlush * 1000) / n, gap: ((ms - inFlush) * 1000) / n, cpu: (cpuMs * 1000) / n, faults: faults / n });
    rows.set(mode, list);
  }
}
console.log(`fsync chain of ${n}, fdatasyncSync replaced; medians of ${rounds} rounds, us per step${values.gc ? ", gc() before each" : ""}:`);
for (const name of names) {
  const list = rows.get(name)!;
  const m = (key: "step" | "flush" | "gap" | "cpu" | "faults"): string =>
    median(list.map((r) => r[key]))
      .toFixed(1)
      .padStart(7);
  console.log(`  ${name.padEnd(8)} step ${m("step")}  in flush ${m("flush")}  rest ${m("gap")}  cpu ${m("cpu")}  page faults ${m("faults")}`);
}
