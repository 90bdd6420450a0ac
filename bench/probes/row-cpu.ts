/**
 * CPU A/B of a bench row as the bench child runs it (issue 16, targets 1
 * and 3): a fresh process per (tree, system) does what `bench/scenario.ts
 * --kind time` does (the graph built once, `warmup + rounds` rounds, each on
 * a fresh store after a forced `gc()`), and reports the median wall and CPU
 * (user + system, `process.cpuUsage`) of the counted rounds, and how long
 * the event loop sat idle in them (`performance.eventLoopUtilization`: a
 * run that waits for a write, a timer or the thread pool shows it there;
 * one that only computes shows 0) and how often the process gave up its
 * core (voluntary context switches: a wait inside a system call or for a
 * helper thread, which the loop does not see). Processes
 * alternate between this tree and another checkout; the LowdbStore /
 * MemoryStore ratio is printed per tree, from the medians over processes.
 *
 *   TMPDIR=/dev/shm node --import tsx bench/probes/row-cpu.ts <other checkout> <shape> <n> [processes] [rounds] [warmup]
 *
 * On a shared machine wall time is noise; CPU time is what to compare.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "../stats.js";

const [first] = process.argv.slice(2);
if (first === "--child") {
  const [, root, system, shape, n, rounds, warmup] = process.argv.slice(2);
  const { prepareFor } = (await import(resolve(root!, "bench/systems/taskloom.ts"))) as typeof import("../systems/taskloom.js");
  const prepared = await prepareFor(system as "taskloom-memory")(shape as "chain", Number(n), 8);
  const gc = (globalThis as { gc?: () => void }).gc;
  const wall: number[] = [];
  const cpu: number[] = [];
  const idle: number[] = [];
  const switches: number[] = [];
  for (let i = 0; i < Number(warmup) + Number(rounds); i++) {
    const round = await prepared.round(i);
    gc?.();
    const e = performance.eventLoopUtilization();
    const v = process.resourceUsage().voluntaryContextSwitches;
    const c = process.cpuUsage();
    const t = performance.now();
    await round.run();
    const w = performance.now() - t;
    const u = process.cpuUsage(c);
    const idleUs = performance.eventLoopUtilization(e).idle * 1000;
    const waits = process.resourceUsage().voluntaryContextSwitches - v;
    await round.cleanup();
    if (i >= Number(warmup)) {
      wall.push(w * 1000);
      cpu.push(u.user + u.system);
      idle.push(idleUs);
      switches.push(waits);
    }
  }
  console.log(JSON.stringify({ wall: median(wall), cpu: median(cpu), idle: median(idle), switches: median(switches) }));
} else {
  const [other = "/work/wt/base", shape = "chain", n = "100", procs = "6", rounds = "21", warmup = "3"] = process.argv.slice(2);
  const here = resolve(fileURLToPath(import.meta.url), "../../..");
  const trees = { this: here, other: resolve(other) };
  const out: Record<string, { wall: number[]; cpu: number[]; idle: number[]; switches: number[] }> = {};
  const self = fileURLToPath(import.meta.url);
  for (let p = 0; p < Number(procs); p++) {
    for (const [name, root] of Object.entries(trees)) {
      for (const system of ["taskloom-memory", "taskloom-lowdb"]) {
        const text = execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", self, "--child", root, system, shape, n, rounds, warmup], {
          cwd: root,
          encoding: "utf8",
        });
        const r = JSON.parse(text.trim().split("\n").pop()!) as { wall: number; cpu: number; idle: number; switches: number };
        const key = `${name} ${system}`;
        const row = (out[key] ??= { wall: [], cpu: [], idle: [], switches: [] });
        row.wall.push(r.wall);
        row.cpu.push(r.cpu);
        row.idle.push(r.idle);
        row.switches.push(r.switches);
      }
    }
  }
  for (const name of Object.keys(trees)) {
    const m = out[`${name} taskloom-memory`]!;
    const l = out[`${name} taskloom-lowdb`]!;
    const f = (xs: number[]) => median(xs).toFixed(0);
    console.log(
      `${name} ${shape} ${n}: cpu memory ${f(m.cpu)} lowdb ${f(l.cpu)} µs (${(median(l.cpu) / median(m.cpu)).toFixed(2)}x); ` +
        `wall memory ${f(m.wall)} lowdb ${f(l.wall)} µs (${(median(l.wall) / median(m.wall)).toFixed(2)}x); ` +
        `loop idle memory ${f(m.idle)} lowdb ${f(l.idle)} µs; voluntary context switches memory ${f(m.switches)} lowdb ${f(l.switches)}; lowdb cpu per process ${l.cpu.map((x) => x.toFixed(0)).join(" ")}`,
    );
  }
}
