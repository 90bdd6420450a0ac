/**
 * A/B probe of a durable run's per-step cost (issue 16, target 3): this
 * tree's `LowdbStore` against another checkout's, with this tree's
 * `MemoryStore` as the yardstick, on the bench's own graphs and rounds
 * (`bench/systems/taskloom.ts`: a fresh store and temp folder per round, a
 * forced garbage collection before each), in one process, rounds
 * interleaved, medians of wall and CPU time (CPU time is the steadier one
 * on a loaded machine).
 *
 *   TMPDIR=/dev/shm node --expose-gc --import tsx bench/probes/step-ab.ts <other checkout> [rounds] [shapes] [n]
 *
 * e.g. `… step-ab.ts /work/wt/base 15 chain,fanout 10000`. Both sides get
 * the same garbage-collection policy, so a deopt it causes hits both.
 *
 * @module
 */
import { resolve } from "node:path";
import * as here from "../systems/taskloom.js";
import type { Shape } from "../protocol.js";
import { median } from "../stats.js";
import { interleavedRounds } from "./ab-rounds.js";

const [otherRoot = "/work/main", roundsArg = "9", shapesArg = "chain,fanout", nArg = "10000"] = process.argv.slice(2);
const other = (await import(resolve(otherRoot, "bench/systems/taskloom.ts"))) as typeof here;
const n = Number(nArg);

for (const shape of shapesArg.split(",") as Shape[]) {
  const sides = [
    ["memory", await here.prepareFor("taskloom-memory")(shape, n, 8)],
    ["this", await here.prepareFor("taskloom-lowdb")(shape, n, 8)],
    ["other", await other.prepareFor("taskloom-lowdb")(shape, n, 8)],
  ] as const;
  // Round 0 warms up and is not counted.
  const { wall, cpu } = await interleavedRounds(sides, Number(roundsArg), false);
  const line = (xs: Record<string, number[]>): string => {
    const [m, t, o] = [median(xs.memory!), median(xs.this!), median(xs.other!)];
    return `memory ${m.toFixed(1)} ms; this ${t.toFixed(1)} (${(t / m).toFixed(2)}x); other ${o.toFixed(1)} (${(o / m).toFixed(2)}x)`;
  };
  console.log(`${shape} ${n} wall: ${line(wall)}`);
  console.log(`${shape} ${n} cpu:  ${line(cpu)}`);
}
