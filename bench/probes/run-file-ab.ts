/**
 * Issue 16, twenty-fourth pass: how close a store that keeps each run in
 * one file (`run-file-proto.ts`, a prototype of the twenty-third pass's
 * sketch) comes to targets 1, 2 and 4, against `MemoryStore` and
 * today's `LowdbStore`, in one process with the rounds interleaved.
 *
 *   npx esbuild bench/probes/run-file-ab.ts --bundle --platform=node --format=esm \
 *     --packages=external --outfile=/tmp/run-file-ab.mjs
 *   TRASH=/tmp/trash node --expose-gc /tmp/run-file-ab.mjs [rounds] [part]
 *
 * (bundled, so all three stores and the engine run as `dist/` does; `part`
 * is `fixed`, `stages` or `fsync`, all three by default). Each durable
 * round gets a fresh store in a fresh temp folder, as in the bench; with
 * `TRASH` (a folder on the same file system), a used folder is moved
 * there instead of removed (no freed inode slows the next rounds).
 * Prints medians (µs or ms) and each store's ratio to `MemoryStore`.
 *
 * @module
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { graph, runAsync, MemoryStore, LowdbStore, defineWorkflow, StageRunner, type RunStore } from "../../src/index.js";
import { RunFileProto } from "./run-file-proto.js";
import { RunFileStore } from "../../src/persistence/run-file-store.js";

const [roundsArg = "200", part = "all"] = process.argv.slice(2);
const rounds = Number(roundsArg);

type Kind = "memory" | "lowdb" | "file" | "flat" | "runfile" | "folders";
type AnyGraph = Parameters<typeof runAsync>[0];

function buildGraph(shape: "chain" | "fanout", n: number): AnyGraph {
  type Loose = { node(id: string, fn: () => Promise<number>, o?: { after: string[] }): Loose; output(f: () => null): { build(): AnyGraph } };
  let b = graph(shape) as unknown as Loose;
  const ids = Array.from({ length: n }, (_, i) => `n${i}`);
  if (shape === "fanout") {
    b = b.node("root", async () => 0);
    for (const id of ids) b = b.node(id, async () => 1, { after: ["root"] });
    b = b.node("join", async () => 0, { after: ids });
  } else {
    b = b.node(ids[0]!, async () => 1);
    for (let i = 1; i < n; i++) b = b.node(ids[i]!, async () => 1, { after: [ids[i - 1]!] });
  }
  return b.output(() => null).build();
}

let counter = 0;

function freshStore(kind: Kind, fsync: boolean): { store: RunStore; dir?: string } {
  if (kind === "memory") return { store: new MemoryStore() };
  const dir = mkdtempSync(join(tmpdir(), "probe-rf-"));
  if (kind === "runfile") return { store: new RunFileStore({ dir, fsync }), dir };
  if (kind === "folders") return { store: new LowdbStore({ dir, fsync, layout: "folders" }), dir };
  return { store: kind === "lowdb" ? new LowdbStore({ dir, fsync }) : new RunFileProto({ dir, fsync, flat: kind === "flat" }), dir };
}

function dispose(dir: string | undefined): void {
  if (!dir) return;
  const trash = process.env.TRASH;
  if (trash) {
    mkdirSync(trash, { recursive: true });
    renameSync(dir, join(trash, basename(dir)));
  } else rmSync(dir, { recursive: true, force: true });
}

/** Wall time (µs) of one run on a fresh store, closing the store included; every 50th durable one is loaded back and must read succeeded. */
async function timedRun(kind: Kind, g: AnyGraph, fsync = false): Promise<number> {
  const { store, dir } = freshStore(kind, fsync);
  const runId = `rf-${counter++}`;
  const t = performance.now();
  // runAsync throws when the run does not succeed.
  await runAsync(g, undefined, { store, runId, maxConcurrency: 8 });
  await store.close();
  const us = (performance.now() - t) * 1000;
  if (dir && counter % 50 === 0) {
    const again =
      kind === "lowdb" ? new LowdbStore({ dir }) : kind === "runfile" ? new RunFileStore({ dir }) : new RunFileProto({ dir, flat: kind === "flat" });
    const loaded = await again.load(runId);
    if (loaded?.state.meta.status !== "succeeded") throw new Error(`${kind}: run ${runId} loads back ${loaded?.state.meta.status}`);
    await again.close();
  }
  dispose(dir);
  return us;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/**
 * Interleaved rounds of each side, one warm-up round first; prints each side's median and its ratio to the first side's.
 * A side returns its figure for one round (lower is better unless `unit` says per second).
 */
async function compare(label: string, sides: Record<string, () => Promise<number>>, n: number, unit: string, scale = 1): Promise<void> {
  const got: Record<string, number[]> = {};
  for (const once of Object.values(sides)) await once();
  for (let r = 0; r < n; r++) {
    globalThis.gc?.();
    for (const [k, once] of Object.entries(sides)) (got[k] ??= []).push(await once());
  }
  const names = Object.keys(sides);
  const base = median(got[names[0]!]!);
  const parts = names.map((k) => {
    const m = median(got[k]!);
    return `${k} ${(m / scale).toFixed(scale === 1 ? 0 : 2)} ${unit}${k === names[0] ? "" : ` (${(m / base).toFixed(2)}x)`}`;
  });
  console.log(`${label}: ${parts.join("; ")}`);
}

/** Mean wall time (µs) of a batch of `size` runs, each on its own fresh store (as the bench's 1-node row runs many in a row). */
async function batch(kind: Kind, g: AnyGraph, size: number, fsync = false): Promise<number> {
  let total = 0;
  for (let i = 0; i < size; i++) total += await timedRun(kind, g, fsync);
  return total / size;
}

if (part === "all" || part === "fixed") {
  for (const [shape, n, size] of [
    ["chain", 1, 50],
    ["chain", 100, 5],
    ["fanout", 100, 5],
  ] as const) {
    const g = buildGraph(shape, n);
    const side = (k: Kind) => () => batch(k, g, size);
    const sides = { memory: side("memory"), lowdb: side("lowdb"), file: side("file"), flat: side("flat"), runfile: side("runfile") };
    // SIDES=memory,file leaves LowdbStore out (its rounds may leave work behind for the next side's).
    const only = process.env.SIDES?.split(",");
    if (only) for (const k of Object.keys(sides)) if (!only.includes(k)) delete (sides as Record<string, unknown>)[k];
    await compare(`target 1, ${shape} ${n} (mean of ${size} runs a round)`, sides, rounds, "µs");
  }
}

if (part === "all" || part === "fsync") {
  const g = buildGraph("fanout", 1000);
  // Target 4: each store with fsync against the same store without.
  for (const k of ["lowdb", "file", "runfile"] as const) {
    await compare(
      `target 4, 1k fan-out, ${k}: without / with fsync`,
      { none: () => timedRun(k, g, false), fsync: () => timedRun(k, g, true) },
      Math.max(20, rounds / 2),
      "ms",
      1000,
    );
  }
}

if (part === "all" || part === "stages") {
  const tasks = Array.from({ length: 2000 }, (_, i) => ({ id: `t${i}`, data: { i } }));
  const workflow = defineWorkflow({
    name: "bench-stages",
    stages: [
      { id: "first", kind: "agent", pathways: { next: "second" } },
      { id: "second", kind: "agent", pathways: { done: "complete" } },
      { id: "complete", kind: "final" },
    ],
  });
  const once = async (kind: Kind): Promise<number> => {
    const { store, dir } = freshStore(kind, false);
    const runner = new StageRunner(workflow, { store });
    runner.stage("first", async () => "next");
    runner.stage("second", async () => "done");
    const t = performance.now();
    await runner.runAsync({ tasks, runId: `st-${counter++}` });
    await store.close();
    const ms = performance.now() - t;
    dispose(dir);
    return (ms * 1000) / tasks.length;
  };
  await compare(
    "target 2, stage runner, 2,000 tasks (µs a task)",
    { memory: () => once("memory"), lowdb: () => once("lowdb"), file: () => once("file") },
    Math.max(5, rounds / 4),
    "µs",
  );
}

if (part === "one") {
  // One store kind's 1-node runs only, for a CPU profile (`--cpu-prof`): `one <kind>` via KIND.
  const g = buildGraph("chain", 1);
  const kind = (process.env.KIND ?? "file") as Kind;
  const t = performance.now();
  for (let i = 0; i < rounds; i++) await timedRun(kind, g);
  console.log(`${kind}: ${(((performance.now() - t) * 1000) / rounds).toFixed(0)} µs a run, ${rounds} runs`);
}

if (part === "inside") {
  // How much of a 1-node run's time is spent inside the store's methods (each call timed, summed per run).
  const g = buildGraph("chain", 1);
  for (const kind of ["memory", "file", "flat", "runfile", "lowdb"] as Kind[]) {
    const spent: Record<string, number> = {};
    let wall = 0;
    for (let i = 0; i < rounds; i++) {
      const { store, dir } = freshStore(kind, false);
      for (const m of ["acquireLease", "load", "writeSnapshot", "append", "releaseLease", "close"] as const) {
        const f = (store[m] as (...a: unknown[]) => Promise<unknown>).bind(store);
        (store as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
          const t = performance.now();
          const p = f(...a);
          spent[m] = (spent[m] ?? 0) + performance.now() - t;
          return p;
        };
      }
      const t = performance.now();
      await runAsync(g, undefined, { store, runId: `in-${counter++}`, maxConcurrency: 8 });
      await store.close();
      if (i >= rounds / 5) wall += performance.now() - t;
      else for (const k of Object.keys(spent)) spent[k] = 0;
      dispose(dir);
    }
    const n = rounds - Math.ceil(rounds / 5);
    const inside = Object.values(spent).reduce((a, b) => a + b, 0);
    console.log(
      `${kind}: ${((wall * 1000) / n).toFixed(0)} µs a run, ${((inside * 1000) / n).toFixed(0)} inside the store (${Object.entries(spent)
        .map(([k, v]) => `${k} ${((v * 1000) / n).toFixed(1)}`)
        .join(", ")})`,
    );
  }
}

if (part === "fsync-chain") {
  // Target 4's chain, the store's side only: a 1,000-node chain with fsync, run files against folders (µs a step).
  const g = buildGraph("chain", 1000);
  const step = (k: Kind) => async () => (await timedRun(k, g, true)) / 1000;
  await compare("fsync chain 1,000, µs a step: folders / run files", { folders: step("folders"), lowdb: step("lowdb") }, rounds, "µs");
}

if (part === "resume") {
  // Target 5's resume alone is in bench/probes/resume.ts; this is the load of a finished 10,000-node fan-out (ms).
  const g = buildGraph("fanout", 10_000);
  const once = (k: Kind) => async () => {
    const { store, dir } = freshStore(k, false);
    await runAsync(g, undefined, { store, runId: "big", maxConcurrency: 8 });
    await store.close();
    const again = k === "lowdb" ? new LowdbStore({ dir: dir! }) : new LowdbStore({ dir: dir!, layout: "folders" });
    const t = performance.now();
    await again.load("big");
    const ms = performance.now() - t;
    await again.close();
    dispose(dir);
    return ms * 1000;
  };
  await compare("load of a finished 10,000-node fan-out (µs): folders / run files", { folders: once("folders"), lowdb: once("lowdb") }, rounds, "µs");
}
