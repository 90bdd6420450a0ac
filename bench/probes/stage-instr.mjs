/**
 * The stage runner's workload (issue 16, target 2: N tasks through the
 * bench's two no-op agent stages, one `runAsync`, the default window and
 * batch) on `<tree>/dist`, for callgrind: on a shared machine whose speed
 * drifts by a third between two runs of one build (thirteenth pass), the
 * instruction count of the process drifts far less (two readings of one
 * tree 2.5 to 4% apart: V8's garbage-collection decisions differ from one
 * process to the next), so an A/B of two trees alternates several
 * readings of each. The difference between two
 * task counts is the cost of the tasks, start-up left out; system calls'
 * kernel time is not counted (count them with `stage-syscalls.sh`).
 *
 *   npm run build   # in each tree
 *   TMPDIR=/dev/shm valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node bench/probes/stage-instr.mjs <tree> <memory|lowdb> [tasks=2000] 2>&1 | grep Collected
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { benchTasks, noOpStageRunner } from "./bench-stages.mjs";

const [root = ".", kind = "memory", nArg = "2000"] = process.argv.slice(2);
if (kind !== "memory" && kind !== "lowdb") throw new Error(`stage-instr: the store is memory or lowdb, not ${kind}`);
const n = Number(nArg);
if (!(Number.isInteger(n) && n > 0)) throw new Error(`stage-instr: the task count is a positive integer, not ${nArg}`);
const lib = await import(pathToFileURL(resolve(root, "dist/index.js")).href);
const dir = kind === "lowdb" ? mkdtempSync(join(tmpdir(), "stage-instr-")) : undefined;
const store = dir === undefined ? new lib.MemoryStore() : new lib.LowdbStore({ dir });
const runner = noOpStageRunner(lib, store);
const tasks = benchTasks(n);
const report = await runner.runAsync({ tasks, runId: "instr" });
await store.close();
if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
if (report.completed !== n) throw new Error(`stage-instr: ${report.completed} of ${n} tasks completed`);
