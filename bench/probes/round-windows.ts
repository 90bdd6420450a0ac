/**
 * Probe of how a short run's time moves with the rounds before it (issue
 * 16, target 1): a bench row's rounds (the graph built once, a fresh store
 * and a forced GC before each round, `runAsync` plus `store.close()`
 * timed), many more of them, and the median wall and CPU time (user +
 * system, all threads) per window of rounds. Rounds 5 to 35 are what the
 * bench's row times (5 warm-up rounds, 30 counted); later windows show the
 * same run with its code warm, and without `--expose-gc` the cost of the
 * forced GC before each round.
 *
 *   TMPDIR=/dev/shm node --expose-gc --import tsx bench/probes/round-windows.ts <checkout> <lowdb|memory> <chain|fanout> <n> [rounds]
 *
 * With `PROFWIN=<file>` it writes the timed windows (microseconds, the
 * clock of a `--cpu-prof` profile) there, so that a profile of the process
 * can be read for the timed rounds alone.
 *
 * @module
 */
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type * as taskloom from "../../src/index.js";
import type { buildGraph as BuildGraph } from "../systems/taskloom.js";
import { median } from "../stats.js";

const [root = ".", kind = "lowdb", shape = "chain", nArg = "100", roundsArg = "400"] = process.argv.slice(2);
// The tree as the bench runs it: its built dist/ (run "npm run build" there), which its bench/systems uses too.
const lib = (await import(resolve(root, "dist/index.js"))) as typeof taskloom;
const { buildGraph } = (await import(resolve(root, "bench/systems/taskloom.ts"))) as { buildGraph: typeof BuildGraph };
const g = buildGraph(shape === "fanout" ? "fanout" : "chain", Number(nArg));
const gc = (globalThis as { gc?: () => void }).gc;
// Used folders are moved here, not removed: on ext4 a freed inode slows the next rounds' file creations.
const trash = mkdtempSync(join(tmpdir(), "round-windows-trash-"));
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const wall: number[] = [];
const cpu: number[] = [];
const timed: [number, number][] = [];
for (let r = 0; r < Number(roundsArg); r++) {
  const dir = kind === "lowdb" ? mkdtempSync(join(tmpdir(), "round-windows-")) : undefined;
  const store = dir ? new lib.LowdbStore({ dir }) : new lib.MemoryStore();
  gc?.();
  const c = cpuMs();
  const h = process.hrtime.bigint();
  const t = performance.now();
  await lib.runAsync(g, undefined, { store, runId: `bench-${r}`, maxConcurrency: 8 });
  await store.close();
  wall.push(performance.now() - t);
  cpu.push(cpuMs() - c);
  if (r >= 5) timed.push([Number(h / 1000n), Number(process.hrtime.bigint() / 1000n)]);
  if (dir) renameSync(dir, join(trash, String(r)));
}
if (process.env.PROFWIN) writeFileSync(process.env.PROFWIN, JSON.stringify(timed));
const windows = [
  [5, 35],
  [35, 100],
  [100, 200],
  [200, 400],
  [400, 1000],
].filter(([from]) => from! < wall.length);
const line = (xs: number[]): string => windows.map(([from, to]) => `[${from}-${to}) ${median(xs.slice(from, to)).toFixed(3)}`).join("  ");
console.log(`${kind} ${shape} ${nArg} wall ms ${line(wall)}`);
console.log(`${kind} ${shape} ${nArg} cpu ms  ${line(cpu)}`);
console.error(`used folders: ${trash}`);
