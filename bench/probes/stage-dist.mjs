/**
 * The bench's stage workload (issue 16, target 2: N tasks through two
 * no-op agent stages, one `runAsync`, default window and batch) on
 * `<tree>/dist`, in this process: tasks per second of each round, the
 * first a warm-up. For an A/B of two builds, run it for each tree in turn
 * (separate processes: two builds in one process are not on an equal
 * footing, see `engine-ab.ts`).
 *
 *   npm run build   # in each tree
 *   TMPDIR=/dev/shm node --expose-gc bench/probes/stage-dist.mjs <tree> [tasks=10000] [rounds=4] [memory|lowdb]
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { benchTasks, noOpStageRunner } from "./bench-stages.mjs";

const [root = ".", nArg = "10000", roundsArg = "4", kind = "memory"] = process.argv.slice(2);
if (kind !== "memory" && kind !== "lowdb") throw new Error(`stage-dist: the store is memory or lowdb, not ${kind}`);
const n = Number(nArg);
const rounds = Number(roundsArg);
if (!(Number.isInteger(n) && n > 0 && Number.isInteger(rounds) && rounds > 0)) throw new Error("stage-dist: tasks and rounds are positive integers");
const lib = await import(pathToFileURL(resolve(root, "dist/index.js")).href);
const perSecond = [];
for (let r = 0; r < rounds; r++) {
  const dir = mkdtempSync(join(tmpdir(), "stage-dist-"));
  const store = kind === "lowdb" ? new lib.LowdbStore({ dir }) : new lib.MemoryStore();
  const runner = noOpStageRunner(lib, store);
  const tasks = benchTasks(n);
  globalThis.gc?.();
  const started = performance.now();
  const report = await runner.runAsync({ tasks, runId: `stage-dist-${r}` });
  await store.close();
  const ms = performance.now() - started;
  if (report.completed !== n) throw new Error(`stage-dist: ${report.completed} of ${n} tasks completed`);
  perSecond.push(Math.round((n / ms) * 1000));
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${root} ${kind} ${n} tasks, tasks/s by round (the first a warm-up): ${perSecond.join(" ")}`);
