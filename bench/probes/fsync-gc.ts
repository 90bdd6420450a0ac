/**
 * GC probe (issue 16, target 4): why a chain round that follows a forced
 * full GC (as every bench round does: `bench/scenario.ts`) costs more than
 * one that does not. As the bench does, one process runs one side round
 * after round, with `gc()` before each round or (`--no-gc`) never. Run the
 * variants in turn, several times, and compare what they print: the median
 * wall and CPU time per step, and the CPU time of the main thread and of
 * the other threads (V8's compiler and GC helpers, libuv's pool) during the
 * timed runs. `TMPDIR=/dev/shm` leaves the disk out (CPU alone).
 *
 * ```sh
 * for i in 1 2 3; do for g in --gc --no-gc; do
 *   TMPDIR=/dev/shm node --expose-gc --trace-deopt --import tsx bench/probes/fsync-gc.ts --side chain $g > out.txt 2>&1
 *   grep -E '^(side|threads)' out.txt; grep -c 'reason: weak objects' out.txt
 * done; done
 * ```
 *
 * With `--trace-deopt`, V8 prints "marking dependent code ... for
 * deoptimization, reason: weak objects" for each optimized function thrown
 * away because an object its code was specialized on (a map: the shape of
 * a class's instances) died in the GC: after a round, every instance of a
 * per-run class is garbage, so the forced GC drops those shapes and the
 * code built for them, and the next round runs unoptimized until V8
 * optimizes it again. `--keep-stats` keeps the last `lstatSync` result
 * alive (through a wrapper): the deopts of the functions that handle
 * `BigIntStats` (the lease check's) then stop, which shows the mechanism.
 * `--ab-stats` does so in every other round only and drops the kept
 * object before the other rounds' GC: both sides in one process.
 * `--system taskloom-lowdb` or `taskloom-memory` runs that store instead,
 * `--shape fanout` an n-node fan-out instead of the chain (`--side
 * chain`, taskloom's side, only).
 *
 @module
 */
import fs, { readdirSync, readFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { parseArgs } from "node:util";
import { prepare as prepareFloor } from "../systems/fdatasync.js";
import { prepareFor } from "../systems/taskloom.js";
import { median } from "../stats.js";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "1000" },
    rounds: { type: "string", default: "15" },
    side: { type: "string", default: "chain" },
    shape: { type: "string", default: "chain" },
    gc: { type: "boolean", default: true },
    "no-gc": { type: "boolean", default: false },
    system: { type: "string", default: "taskloom-lowdb-fsync" },
    "keep-stats": { type: "boolean", default: false },
    "ab-stats": { type: "boolean", default: false },
  },
});
const n = Number(values.n);
const rounds = Number(values.rounds);
const forced = values.gc && !values["no-gc"];
const gc = (globalThis as { gc?: () => void }).gc;
if (forced && !gc) throw new Error("run with --expose-gc");

// `--keep-stats`: the last result of `lstatSync` is kept alive through the forced GC (see the module comment).
let keptStats: unknown;
if (values["keep-stats"] || values["ab-stats"]) {
  const real = fs.lstatSync;
  (fs as { lstatSync: typeof real }).lstatSync = ((...args: Parameters<typeof real>) => (keptStats = real(...args))) as typeof real;
  syncBuiltinESMExports();
}
const prepared =
  values.side === "floor"
    ? await prepareFloor("chain", n, 8)
    : await prepareFor(values.system as "taskloom-lowdb-fsync")(values.shape as "chain" | "fanout", n, 8);
/** CPU ticks (user + system, 1/100 s) of each of this process's threads, the main thread apart from the others (by name). */
function threadTicks(): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const name = Number(tid) === process.pid ? "main" : `other ${readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim()}`;
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ");
      byName.set(name, (byName.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return byName;
}
/** CPU ms by thread group during the timed runs, summed over rounds. */
const spent = new Map<string, number>();
const us: number[] = [];
const cpu: number[] = [];
/** With `--ab-stats`, odd rounds drop the kept stats before the forced GC: their wall and CPU per step. */
const dropped: { us: number; cpu: number }[] = [];
for (let i = 0; i < rounds + 1; i++) {
  const round = await prepared.round(i);
  const drop = values["ab-stats"] && i % 2 === 1;
  if (drop) keptStats = undefined;
  if (forced) gc!();
  const ticks0 = threadTicks();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await round.run();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  if (i > 0) for (const [name, t] of threadTicks()) spent.set(name, (spent.get(name) ?? 0) + (t - (ticks0.get(name) ?? 0)) * 10);
  await round.cleanup();
  if (i === 0) continue;
  if (drop) {
    dropped.push({ us: (ms * 1000) / n, cpu: (c.user + c.system) / n });
    continue;
  }
  us.push((ms * 1000) / n);
  cpu.push((c.user + c.system) / n);
}
if (values["ab-stats"]) {
  const wall = median(dropped.map((d) => d.us));
  const time = median(dropped.map((d) => d.cpu));
  console.log(
    `stats kept: ${median(us).toFixed(1)} us/step, cpu ${median(cpu).toFixed(1)}; dropped: ${wall.toFixed(1)} us/step, cpu ${time.toFixed(1)}; ` +
      `dropped / kept: wall ${(wall / median(us)).toFixed(2)}x, cpu ${(time / median(cpu)).toFixed(2)}x`,
  );
}
if (values["keep-stats"] && keptStats === undefined) console.log("(lstatSync was never called)");
console.log(`threads' CPU in the timed runs (ms, all rounds): ${[...spent].map(([name, t]) => `${name} ${t}`).join(", ")}`);
const sorted = [...us].sort((a, b) => a - b);
const quartiles = `${sorted[Math.floor(us.length / 4)]!.toFixed(1)}-${sorted[Math.floor((3 * us.length) / 4)]!.toFixed(1)}`;
const label = `${(values.side === "chain" ? values.shape : values.side).padEnd(6)} ${forced ? "gc()   " : "no gc()"}`;
console.log(`side ${label} ${median(us).toFixed(1).padStart(7)} us/step  cpu ${median(cpu).toFixed(1).padStart(6)} us/step  (wall p25-p75 ${quartiles})`);
