/**
 * Journal flush probe (issue 16, target 4): the per-step cost of a chain on
 * `LowdbStore({ fsync: true })` against the bare `fdatasync` floor
 * (`bench/systems/fdatasync.ts`), and a fan-out with fsync against the same
 * without, all measured in this one process and interleaved round by round,
 * so that load on the machine hits every side alike. Prints medians and
 * ratios.
 *
 * `node --expose-gc --import tsx bench/probes/fsync-journal.ts [--n 1000] [--fanout 1000] [--rounds 9] [--baseline DIR] [--steps 2000] [--parts 5]`
 *
 * First, the flush alone, step by step (`--steps` of them, `0` to skip):
 * each step does, in turn, the floor's write at offset 0 and flush, an
 * append of one chain-step-sized record and its flush to a preallocated
 * `JournalFile` (what `fsync: true` does now), and the same to an
 * appending one (what it did before: each flush commits a new size).
 * Medians and means of the three, each step's three side by side.
 *
 * Then, unless `--parts 0`, where a chain step's time goes (`--parts`
 * rounds of a `--n`-step chain, each after a floor loop of as many steps):
 * `node:fs`'s `fdatasyncSync` and `writeSync` are wrapped for it, so the
 * run's time splits into its journal's flushes (those after a growth of
 * the preallocated journal apart, a growth being a write of zeros), the
 * gaps between them (the engine's work for a step, its lease check and
 * write), the head (the run's start up to its first journal flush: folders,
 * lease, snapshot, summary) and the tail (after its last journal flush: the
 * end, summary, lease release). Medians over rounds, per step of the chain.
 *
 * With `--baseline DIR` (a copy of another commit's `src/` inside the
 * repository, so that it finds `node_modules`: for instance made by
 * `mkdir -p .ab/old && git archive <commit> src | tar -x -C .ab/old`),
 * that copy's `LowdbStore` with fsync runs the same chain and fan-out in
 * the same rounds, as more sides.
 * `--n 0` skips the chain, `--fanout 0` the fan-out.
 *
 * @module
 */
import fs, { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { JournalFile, journalText } from "../../src/persistence/journal-file.js";
import { prepare as prepareFloor } from "../systems/fdatasync.js";
import { prepareFor } from "../systems/taskloom.js";
import type { Prepared, Round } from "../systems/types.js";
import { median } from "../stats.js";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "1000" },
    fanout: { type: "string", default: "1000" },
    rounds: { type: "string", default: "9" },
    baseline: { type: "string" },
    steps: { type: "string", default: "2000" },
    parts: { type: "string", default: "5" },
  },
});
const steps = Number(values.steps);
const n = Number(values.n);
const fanout = Number(values.fanout);
const rounds = Number(values.rounds);
const gc = (globalThis as { gc?: () => void }).gc;

/** The chain or fan-out on another copy of `src/` (its own `LowdbStore` and `runAsync`). */
async function prepareBaseline(dir: string, shape: "chain" | "fanout", size: number): Promise<Prepared> {
  const mod = (await import(pathToFileURL(join(resolve(dir), "src/index.ts")).href)) as typeof import("../../src/index.js");
  // The graph must be built by that copy's builder: the engine checks what it was given.
  const ids = Array.from({ length: size }, (_, i) => `n${i}`);
  type Loose = { node(id: string, fn: () => Promise<number>, o?: { after: string[] }): Loose; output(fn: () => null): { build(): unknown } };
  let b = mod.graph(shape) as unknown as Loose;
  if (shape === "fanout") {
    b = b.node("root", async () => 0);
    for (let i = 0; i < size; i++) b = b.node(ids[i]!, async () => i, { after: ["root"] });
    b = b.node("join", async () => 0, { after: ids });
  } else {
    b = b.node(ids[0]!, async () => 0);
    for (let i = 1; i < size; i++) b = b.node(ids[i]!, async () => i, { after: [ids[i - 1]!] });
  }
  const g = b.output(() => null).build() as Parameters<typeof mod.runAsync>[0];
  return {
    buildMs: 0,
    async round(index: number): Promise<Round> {
      const dir = await mkdtemp(join(tmpdir(), "taskloom-bench-"));
      const store = new mod.LowdbStore({ dir, fsync: true });
      return {
        run: async () => {
          await mod.runAsync(g, undefined, { store, runId: `bench-${index}`, maxConcurrency: 8 });
          await store.close();
        },
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The flush alone: floor, preallocated journal, appending journal, interleaved step by step. */
function flushSteps(): void {
  const dir = mkdtempSync(join(tmpdir(), "taskloom-bench-fsync-"));
  // A chain step's record, as the store writes it.
  const record = Buffer.from(
    journalText([
      {
        kind: "node",
        seq: 1234,
        node: { id: "n123", nodeId: "n123", status: "succeeded", attempts: 1, startedAt: Date.now(), endedAt: Date.now(), output: 123 },
      },
    ]),
  );
  const line = record.toString("utf8");
  const floorFd = openSync(join(dir, "floor.log"), "w");
  const pre = JournalFile.open(join(dir, "preallocated.ndjson"), true).journal;
  const app = JournalFile.open(join(dir, "appended.ndjson"), false).journal;
  const sides: [string, () => void][] = [
    ["floor (pwrite at 0 + fdatasync)", () => (writeSync(floorFd, record, 0, record.length, 0), fdatasyncSync(floorFd))],
    ["preallocated journal", () => (pre.appendText(line), pre.flushSync())],
    ["appending journal (before)", () => (app.appendText(line), app.flushSync())],
  ];
  const t = sides.map((): number[] => []);
  for (let i = 0; i < steps; i++) {
    sides.forEach(([, step], k) => {
      const t0 = performance.now();
      step();
      t[k]!.push((performance.now() - t0) * 1000);
    });
  }
  closeSync(floorFd);
  pre.close();
  app.close();
  rmSync(dir, { recursive: true, force: true });
  const [m0, a0] = [median(t[0]!), mean(t[0]!)];
  console.log(`flush alone, ${steps} steps of ${record.length} bytes:`);
  sides.forEach(([name], k) => {
    const [m, a] = [median(t[k]!), mean(t[k]!)];
    console.log(
      `  ${name.padEnd(32)} median ${m.toFixed(1).padStart(7)} us (${(m / m0).toFixed(2)}x)  mean ${a.toFixed(1).padStart(7)} us (${(a / a0).toFixed(2)}x)`,
    );
  });
}

/** One flush the wrapped `fdatasyncSync` saw: when, on which descriptor, and whether zeros (a growth) were written to it since its last flush. */
interface Flush {
  readonly fd: number;
  readonly t0: number;
  readonly t1: number;
  readonly grew: boolean;
}

/** Where a step of the fsync chain goes: flushes, growths, gaps, head and tail (see the module comment). */
async function chainParts(rounds: number): Promise<void> {
  const { fdatasyncSync: realFlush, writeSync: realWrite } = fs;
  let flushes: Flush[] = [];
  const grown = new Set<number>();
  fs.fdatasyncSync = (fd: number) => {
    const t0 = performance.now();
    realFlush(fd);
    flushes.push({ fd, t0, t1: performance.now(), grew: grown.delete(fd) });
  };
  fs.writeSync = (fd: number, buffer: unknown, ...rest: unknown[]) => {
    if (Buffer.isBuffer(buffer) && buffer.length > 1 && buffer[0] === 0) grown.add(fd);
    return (realWrite as (...args: unknown[]) => number)(fd, buffer, ...rest);
  };
  syncBuiltinESMExports();
  const floor = await prepareFloor("chain", n, 8);
  const chain = await prepareFor("taskloom-lowdb-fsync")("chain", n, 8);
  const rows: Record<string, number>[] = [];
  try {
    for (let i = 0; i < rounds + 1; i++) {
      const f = await floor.round(i);
      flushes = [];
      await f.run();
      await f.cleanup();
      const floorFlush = flushes.reduce((a, x) => a + x.t1 - x.t0, 0) / flushes.length;
      const c = await chain.round(i);
      gc?.();
      flushes = [];
      const t0 = performance.now();
      await c.run();
      const t1 = performance.now();
      await c.cleanup();
      if (i === 0) continue;
      // The journal is the descriptor flushed most.
      const count = new Map<number, number>();
      for (const x of flushes) count.set(x.fd, (count.get(x.fd) ?? 0) + 1);
      const journalFd = [...count].sort((a, b) => b[1] - a[1])[0]![0];
      const j = flushes.filter((x) => x.fd === journalFd);
      const ms = (xs: readonly Flush[]): number => xs.reduce((a, x) => a + x.t1 - x.t0, 0);
      const growths = j.filter((x) => x.grew);
      const plain = j.filter((x) => !x.grew);
      let gaps = 0;
      for (let k = 1; k < j.length; k++) gaps += j[k]!.t0 - j[k - 1]!.t1;
      const perStep = (x: number): number => (x * 1000) / n;
      rows.push({
        "chain us/step": perStep(t1 - t0),
        "floor flush us": floorFlush * 1000,
        "journal flushes us/step": perStep(ms(j)),
        "plain flush us": (ms(plain) * 1000) / plain.length,
        growths: growths.length,
        "growth flush us": growths.length === 0 ? 0 : (ms(growths) * 1000) / growths.length,
        "gaps us/step": perStep(gaps),
        "head us/step": perStep(j[0]!.t0 - t0),
        "tail us/step": perStep(t1 - j[j.length - 1]!.t1),
        "other flushes": flushes.length - j.length,
      });
    }
  } finally {
    fs.fdatasyncSync = realFlush;
    fs.writeSync = realWrite;
    syncBuiltinESMExports();
  }
  console.log(`where a step of the fsync chain goes (${n} steps, medians of ${rounds} rounds, each after a floor loop):`);
  for (const key of Object.keys(rows[0] ?? {}))
    console.log(
      `  ${key.padEnd(26)} ${median(rows.map((r) => r[key]!))
        .toFixed(1)
        .padStart(9)}`,
    );
}

if (steps > 0) flushSteps();
if (n > 0 && Number(values.parts) > 0) await chainParts(Number(values.parts));
const sides: [string, Prepared, number][] = [];
if (n > 0) {
  sides.push(["fdatasync floor, chain", await prepareFloor("chain", n, 8), n]);
  sides.push(["lowdb-fsync, chain", await prepareFor("taskloom-lowdb-fsync")("chain", n, 8), n]);
  // Without fsync: what a step costs besides its flush.
  sides.push(["lowdb, chain", await prepareFor("taskloom-lowdb")("chain", n, 8), n]);
  if (values.baseline !== undefined) sides.push(["baseline lowdb-fsync, chain", await prepareBaseline(values.baseline, "chain", n), n]);
}
if (fanout > 0) {
  sides.push(["lowdb, fan-out", await prepareFor("taskloom-lowdb")("fanout", fanout, 8), fanout + 2]);
  sides.push(["lowdb-fsync, fan-out", await prepareFor("taskloom-lowdb-fsync")("fanout", fanout, 8), fanout + 2]);
  if (values.baseline !== undefined) sides.push(["baseline lowdb-fsync, fan-out", await prepareBaseline(values.baseline, "fanout", fanout), fanout + 2]);
}
const times = new Map<string, number[]>();
for (let i = 0; i < rounds + 1; i++) {
  // Each round starts with another side, so that no side always follows the same one.
  for (let k = 0; k < sides.length; k++) {
    const [name, prepared] = sides[(i + k) % sides.length]!;
    const round = await prepared.round(i);
    gc?.();
    const t0 = performance.now();
    await round.run();
    const ms = performance.now() - t0;
    await round.cleanup();
    if (i === 0) continue;
    times.set(name, [...(times.get(name) ?? []), ms]);
  }
}
const perStep = new Map<string, number>();
for (const [name, , steps] of sides) {
  const ms = median(times.get(name) ?? []);
  perStep.set(name, (ms * 1000) / steps);
  console.log(`${name.padEnd(30)} ${ms.toFixed(1).padStart(9)} ms  ${((ms * 1000) / steps).toFixed(1).padStart(7)} us/step`);
}
const floor = perStep.get("fdatasync floor, chain")!;
if (n > 0) {
  const fsync = perStep.get("lowdb-fsync, chain")!;
  const plain = perStep.get("lowdb, chain")!;
  console.log(
    `chain per step / floor: ${(fsync / floor).toFixed(2)}x; fsync chain - chain without fsync: ${(fsync - plain).toFixed(1)} us/step (floor ${floor.toFixed(1)})`,
  );
}
if (n > 0 && values.baseline !== undefined)
  console.log(`baseline chain per step / floor: ${(perStep.get("baseline lowdb-fsync, chain")! / floor).toFixed(2)}x`);
if (fanout > 0) console.log(`fan-out fsync / no fsync: ${(perStep.get("lowdb-fsync, fan-out")! / perStep.get("lowdb, fan-out")!).toFixed(2)}x`);
if (fanout > 0 && values.baseline !== undefined) {
  console.log(`baseline fan-out fsync / no fsync: ${(perStep.get("baseline lowdb-fsync, fan-out")! / perStep.get("lowdb, fan-out")!).toFixed(2)}x`);
}

/** The median over rounds of `a`'s time over `b`'s in the same round (the two ran seconds apart). */
function paired(a: string, b: string): string {
  const xs = times.get(a) ?? [];
  const ys = times.get(b) ?? [];
  return median(xs.map((x, i) => x / ys[i]!)).toFixed(2);
}
if (n > 0) {
  console.log(`paired, round by round: lowdb-fsync / floor ${paired("lowdb-fsync, chain", "fdatasync floor, chain")}x`);
  if (values.baseline !== undefined) {
    console.log(`paired, round by round: baseline lowdb-fsync / floor ${paired("baseline lowdb-fsync, chain", "fdatasync floor, chain")}x`);
    console.log(`paired, round by round: lowdb-fsync / baseline lowdb-fsync ${paired("lowdb-fsync, chain", "baseline lowdb-fsync, chain")}x`);
  }
}
if (fanout > 0) {
  console.log(`paired, round by round: fan-out fsync / no fsync ${paired("lowdb-fsync, fan-out", "lowdb, fan-out")}x`);
  if (values.baseline !== undefined)
    console.log(`paired, round by round: baseline fan-out fsync / no fsync ${paired("baseline lowdb-fsync, fan-out", "lowdb, fan-out")}x`);
}
