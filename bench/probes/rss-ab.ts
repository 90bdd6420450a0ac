/**
 * A/B of the per-node cost of a fan-out on `taskloom-lowdb` between two
 * checkouts, in one process (issue 16, target 6: cutting retained memory
 * must not cost CPU). Loads `bench/systems/taskloom.ts` from each root and
 * alternates their runs, `--rounds` times each, after one warm-up run of
 * each; prints the median run CPU time (user + system) and wall time per
 * node of each and their ratio. Peak RSS cannot be compared in one process:
 * run `bench/probes/scale.ts` in each checkout for that.
 *
 * `node --expose-gc --max-old-space-size=8192 --import tsx bench/probes/rss-ab.ts --a /work/main --b . --n 100000 --rounds 5`
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { Prepare } from "../systems/types.js";
import { timedRound } from "./ab-rounds.js";
import { median } from "../stats.js";

const { values } = parseArgs({
  options: {
    a: { type: "string", default: "/work/main" },
    b: { type: "string", default: "." },
    n: { type: "string", default: "100000" },
    rounds: { type: "string", default: "5" },
  },
});
const n = Number(values.n);
const rounds = Number(values.rounds);

async function load(root: string): Promise<Prepare> {
  const url = pathToFileURL(resolve(root, "bench/systems/taskloom.ts")).href;
  return ((await import(url)) as { prepareFor(system: string): Prepare }).prepareFor("taskloom-lowdb");
}

async function once(prepare: Prepare, index: number): Promise<{ cpu: number; wall: number }> {
  const { wallMs, cpuMs } = await timedRound(await prepare("fanout", n, 8), index);
  return { cpu: cpuMs, wall: wallMs };
}

const sides = [
  { name: `A ${values.a}`, prepare: await load(values.a), cpu: [] as number[], wall: [] as number[] },
  { name: `B ${values.b}`, prepare: await load(values.b), cpu: [] as number[], wall: [] as number[] },
];
for (const side of sides) await once(side.prepare, 0);
for (let r = 0; r < rounds; r++) {
  for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
    const t = await once(side.prepare, r + 1);
    side.cpu.push(t.cpu);
    side.wall.push(t.wall);
  }
}
for (const side of sides) {
  console.log(
    `${side.name}: median run CPU ${((median(side.cpu) * 1000) / n).toFixed(2)} us/node, wall ${((median(side.wall) * 1000) / n).toFixed(2)} us/node ` +
      `(CPU ms ${side.cpu.map((x) => x.toFixed(0)).join(" ")})`,
  );
}
console.log(`B / A: CPU ${(median(sides[1]!.cpu) / median(sides[0]!.cpu)).toFixed(3)}x, wall ${(median(sides[1]!.wall) / median(sides[0]!.wall)).toFixed(3)}x`);
