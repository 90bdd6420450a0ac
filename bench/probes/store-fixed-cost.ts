/**
 * Probe of the durable store's costs (issue 16, targets 1, 3, 4 and 5),
 * as ratios measured in one process so that a loaded machine skews both
 * sides alike. Not part of `npm run bench`; run one mode at a time:
 *
 *   node --import tsx bench/probes/store-fixed-cost.ts ratio [rounds]
 *     1-node, 100-node chain/fan-out, 10,000 chain/fan-out: LowdbStore / MemoryStore
 *   node --import tsx bench/probes/store-fixed-cost.ts small [rounds]
 *     the first three of "ratio" only (a run's fixed cost)
 *   node --import tsx bench/probes/store-fixed-cost.ts fsync [rounds]
 *     chain per step with fsync against a bare fdatasync loop; 1,000 fan-out fsync / no fsync
 *   node --import tsx bench/probes/store-fixed-cost.ts resume [rounds]
 *     cold resume of a 10,000 fan-out with 9,000 done, against a full run
 *   node --import tsx bench/probes/store-fixed-cost.ts runs <lowdb|memory> <count>
 *     `count` 1-node runs, for `strace -f -c` (the difference of two counts is the cost of runs)
 *
 * Each durable round uses a fresh `LowdbStore` in a fresh temp folder, as the bench does.
 *
 * @module
 */
import { mkdtempSync, openSync, closeSync, writeSync, fdatasyncSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunStore } from "../../src/index.js";
import { taskloom } from "../taskloom-lib.js";
import { buildGraph } from "../systems/taskloom.js";
import type { Shape } from "../protocol.js";
import { median } from "../stats.js";

const { LowdbStore, MemoryStore, NonRetryableError, runAsync } = taskloom;

type Kind = "lowdb" | "memory" | "lowdb-fsync";
let counter = 0;
/** Folders left until the end ("runs" mode: removing them is no part of a run). */
const kept: string[] = [];

/** CPU time (user + system, all threads, ms) and voluntary context switches (times the process blocked) of the last {@link once}. */
const last = { cpuMs: 0, blocks: 0 };

async function once(kind: Kind, g: ReturnType<typeof buildGraph>, keep = false): Promise<number> {
  const dir = kind === "memory" ? undefined : mkdtempSync(join(tmpdir(), "probe-store-"));
  if (dir && keep) kept.push(dir);
  const store: RunStore = dir ? new LowdbStore({ dir, fsync: kind === "lowdb-fsync" }) : new MemoryStore();
  const cpu = process.cpuUsage();
  const blocks = process.resourceUsage().voluntaryContextSwitches;
  const t = performance.now();
  await runAsync(g, undefined, { store, runId: `p-${counter++}`, maxConcurrency: 8 });
  await store.close();
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpu);
  last.cpuMs = (used.user + used.system) / 1000;
  last.blocks = process.resourceUsage().voluntaryContextSwitches - blocks;
  if (dir && !keep) rmSync(dir, { recursive: true, force: true });
  return ms;
}

/** Median times of `kinds`, interleaved round by round; `<kind>.cpu` and `<kind>.blocks` are the medians of {@link last}. */
async function compare(shape: Shape, n: number, kinds: Kind[], rounds: number): Promise<Record<string, number>> {
  const g = buildGraph(shape, n);
  for (const k of kinds) await once(k, g); // warm-up
  const times: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const k of kinds) {
      (times[k] ??= []).push(await once(k, g));
      (times[`${k}.cpu`] ??= []).push(last.cpuMs);
      (times[`${k}.blocks`] ??= []).push(last.blocks);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, median(xs)]));
}

const fmt = (m: Record<string, number>, a: Kind, b: Kind): string =>
  `wall ${m[a]!.toFixed(3)} / ${m[b]!.toFixed(3)} ms = ${(m[b]! / m[a]!).toFixed(2)}x; ` +
  `cpu ${m[`${a}.cpu`]!.toFixed(3)} / ${m[`${b}.cpu`]!.toFixed(3)} ms = ${(m[`${b}.cpu`]! / m[`${a}.cpu`]!).toFixed(2)}x; ` +
  `blocked ${m[`${a}.blocks`]} / ${m[`${b}.blocks`]} times`;

function fdatasyncFloor(steps: number): number {
  const dir = mkdtempSync(join(tmpdir(), "probe-floor-"));
  const fd = openSync(join(dir, "f"), "a");
  const line = Buffer.from(`${"x".repeat(150)}\n`);
  const t = performance.now();
  for (let i = 0; i < steps; i++) {
    writeSync(fd, line);
    fdatasyncSync(fd);
  }
  const ms = (performance.now() - t) / steps;
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

const [mode = "ratio", a, b] = process.argv.slice(2);
const rounds = Number(a ?? 7);
if (mode === "ratio" || mode === "small") {
  const shapes = [
    ["chain", 1, rounds * 20],
    ["chain", 100, rounds * 3],
    ["fanout", 100, rounds * 3],
    ["chain", 10_000, rounds],
    ["fanout", 10_000, rounds],
  ] as const;
  for (const [shape, n, r] of mode === "small" ? shapes.slice(0, 3) : shapes) {
    const m = await compare(shape, n, ["memory", "lowdb"], r);
    console.log(`${shape} ${n}, memory / lowdb: ${fmt(m, "memory", "lowdb")}`);
  }
} else if (mode === "fsync") {
  // The floor and the chain alternate round by round, so both see the same disk.
  const steps = 200;
  const g = buildGraph("chain", steps);
  await once("lowdb-fsync", g);
  const floors: number[] = [];
  const chains: number[] = [];
  for (let r = 0; r < rounds; r++) {
    floors.push(fdatasyncFloor(steps));
    chains.push((await once("lowdb-fsync", g)) / steps);
  }
  const [floor, perStep] = [median(floors), median(chains)];
  console.log(`chain ${steps} fsync: ${perStep.toFixed(3)} ms/step; fdatasync floor ${floor.toFixed(3)} ms; ratio ${(perStep / floor).toFixed(2)}`);
  const m = await compare("fanout", 1000, ["lowdb", "lowdb-fsync"], rounds);
  console.log(`fanout 1000, no fsync / fsync: ${fmt(m, "lowdb", "lowdb-fsync")}`);
} else if (mode === "resume") {
  // As the bench's cold resume (bench/systems/taskloom.ts), with CPU time besides wall time:
  // a first run stores 9,000 middle nodes done and 1,000 failed; only the second run is measured.
  const failing = { on: true };
  const g = buildGraph("fanout", 10_000, (i) => async () => {
    if (failing.on && i % 10 === 0) throw new NonRetryableError(`planned failure of n${i}`);
    return i;
  });
  const full = buildGraph("fanout", 10_000);
  const resumeOnce = async (): Promise<{ ms: number; cpuMs: number }> => {
    const dir = mkdtempSync(join(tmpdir(), "probe-resume-"));
    const runId = `resume-${counter++}`;
    failing.on = true;
    const first = new LowdbStore({ dir });
    await runAsync(g, undefined, { store: first, runId, maxConcurrency: 8, continueOnError: true, retry: { maxAttempts: 1 } }).catch(() => undefined);
    await first.close();
    failing.on = false;
    const cpu = process.cpuUsage();
    const t = performance.now();
    const second = new LowdbStore({ dir });
    await runAsync(g, undefined, { store: second, runId, maxConcurrency: 8, retry: { maxAttempts: 1 } });
    await second.close();
    const ms = performance.now() - t;
    const used = process.cpuUsage(cpu);
    rmSync(dir, { recursive: true, force: true });
    return { ms, cpuMs: (used.user + used.system) / 1000 };
  };
  await resumeOnce();
  await once("lowdb", full);
  const rs: number[] = [];
  const rc: number[] = [];
  const fs: number[] = [];
  const fc: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const resumed = await resumeOnce();
    rs.push(resumed.ms);
    rc.push(resumed.cpuMs);
    fs.push(await once("lowdb", full));
    fc.push(last.cpuMs);
  }
  const [a, b, c, d] = [median(rs), median(fs), median(rc), median(fc)];
  console.log(
    `resume / full run: wall ${a.toFixed(1)} / ${b.toFixed(1)} ms = ${(a / b).toFixed(2)}; cpu ${c.toFixed(1)} / ${d.toFixed(1)} ms = ${(c / d).toFixed(2)}`,
  );
} else if (mode === "runs") {
  const kind = (a ?? "lowdb") as Kind;
  const count = Number(b ?? 10);
  const g = buildGraph("chain", 1);
  for (let i = 0; i < count; i++) await once(kind, g, true);
  // The folders are left for the caller to remove: removing them is no part of a run.
  console.log(kept.join("\n"));
} else {
  throw new Error(`unknown mode ${mode}`);
}
