/**
 * A/B probe of a durable run's fixed cost (issue 16, target 1): this tree
 * against another checkout (e.g. main's, unpacked with `git archive`), in
 * one process, rounds interleaved (memory, this tree's LowdbStore, the
 * other's), medians of wall and CPU time for a 1-node run, a 100-node
 * chain and a 100-node fan-out; each tree's LowdbStore / MemoryStore ratio
 * and its extra over MemoryStore (µs).
 *
 *   TMPDIR=/dev/shm node --expose-gc --import tsx bench/probes/fixed-ab.ts <other checkout> [rounds]
 *
 * Each durable run gets a fresh store in a fresh temp folder, as in the
 * bench. With `TRASH=<folder>` (on the same file system), a used folder is
 * moved there instead of removed, so that on ext4 no freed inode slows the
 * next rounds' file creations (the bench does the same).
 *
 * @module
 */
import { resolve } from "node:path";
import { taskloom as here } from "../taskloom-lib.js";
import { buildGraph } from "../systems/taskloom.js";
import { median } from "../stats.js";
import { timedRun } from "./ab-run.js";

const [otherRoot = "/work/main", roundsArg = "200"] = process.argv.slice(2);
// Each tree as the bench runs it: its built dist/ (run "npm run build" in both).
const other = (await import(resolve(otherRoot, "dist/index.js"))) as typeof here;
const { buildGraph: otherBuild } = (await import(resolve(otherRoot, "bench/systems/taskloom.ts"))) as { buildGraph: typeof buildGraph };
const rounds = Number(roundsArg);

async function once(lib: typeof here, g: unknown, durable: boolean): Promise<[number, number]> {
  const { wallUs, cpuUs } = await timedRun(lib, g, durable);
  return [wallUs, cpuUs];
}

for (const [shape, n, factor] of [
  ["chain", 1, 3],
  ["chain", 100, 1],
  ["fanout", 100, 1],
] as const) {
  const gHere = buildGraph(shape, n);
  const gOther = otherBuild(shape, n);
  const sides = {
    memory: () => once(here, gHere, false),
    this: () => once(here, gHere, true),
    other: () => once(other, gOther, true),
  };
  const wall: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  for (const run of Object.values(sides)) await run();
  for (let r = 0; r < rounds * factor; r++) {
    for (const [name, run] of Object.entries(sides)) {
      const [w, c] = await run();
      (wall[name] ??= []).push(w);
      (cpu[name] ??= []).push(c);
    }
  }
  const m = (xs: Record<string, number[]>, k: string) => median(xs[k]!);
  const line = (label: string, xs: Record<string, number[]>) =>
    `${label} memory ${m(xs, "memory").toFixed(0)} µs; this ${m(xs, "this").toFixed(0)} (${(m(xs, "this") / m(xs, "memory")).toFixed(2)}x, +${(m(xs, "this") - m(xs, "memory")).toFixed(0)}); ` +
    `other ${m(xs, "other").toFixed(0)} (${(m(xs, "other") / m(xs, "memory")).toFixed(2)}x, +${(m(xs, "other") - m(xs, "memory")).toFixed(0)})`;
  console.log(`${shape} ${n}: ${line("wall", wall)}`);
  console.log(`${" ".repeat(shape.length + String(n).length + 2)}${line("cpu ", cpu)}`);
}
