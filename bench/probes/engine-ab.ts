/**
 * A/B probe of the engine on both stores (issue 16, targets 3 and 6): this
 * tree's `MemoryStore` and `LowdbStore` runs against another checkout's,
 * on the bench's own graphs and rounds (`bench/systems/taskloom.ts`: a
 * fresh store and temp folder per round, a forced garbage collection
 * before each), in one process, rounds interleaved (the four sides in an
 * order that turns each round), medians of wall and CPU time and each
 * side's ratio to the other tree's same store. For a change to the engine
 * itself, which `step-ab.ts` (this tree's `MemoryStore` as the yardstick)
 * cannot see.
 *
 *   TMPDIR=/dev/shm node --expose-gc --import tsx bench/probes/engine-ab.ts <other checkout> [rounds] [shapes] [n]
 *
 * e.g. `… engine-ab.ts /tmp/base 15 chain,fanout 10000`. The first round
 * warms up and is not counted. Both trees run their built `dist/` (the
 * bench's systems load it: run `npm run build` in each). Two builds in one
 * process are not on an equal footing: against a second build of the very
 * same commit, this tree's side read 1.21x (MemoryStore) and 1.12x
 * (LowdbStore) the other's wall time on the 10,000 fan-out (seventeenth
 * pass). Compare sides of one run with that in mind, or A/B in separate
 * processes (`bench/scenario.ts` children, alternating).
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
    ["memory this", await here.prepareFor("taskloom-memory")(shape, n, 8)],
    ["memory other", await other.prepareFor("taskloom-memory")(shape, n, 8)],
    ["lowdb this", await here.prepareFor("taskloom-lowdb")(shape, n, 8)],
    ["lowdb other", await other.prepareFor("taskloom-lowdb")(shape, n, 8)],
  ] as const;
  // Each round starts one side later, so no side always follows the same one.
  const { wall, cpu } = await interleavedRounds(sides, Number(roundsArg), true);
  for (const [what, xs] of [
    ["wall", wall],
    ["cpu", cpu],
  ] as const) {
    const parts = ["memory", "lowdb"].map((store) => {
      const [t, o] = [median(xs[`${store} this`]!), median(xs[`${store} other`]!)];
      return `${store} this ${t.toFixed(1)} ms, other ${o.toFixed(1)} ms (${(t / o).toFixed(2)}x)`;
    });
    console.log(`${shape} ${n} ${what}: ${parts.join("; ")}`);
  }
}
