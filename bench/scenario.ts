/**
 * One benchmark scenario in its own process:
 * `node --import tsx bench/scenario.ts --kind time --system pqueue --shape fanout --n 1000 …`
 * (see `protocol.ts` for the arguments). It builds the graph once, runs the
 * warm-up and counted rounds, and prints exactly one JSON line
 * (`ScenarioResult`) on stdout; diagnostics go to stderr.
 *
 * Systems are imported lazily, so a p-queue child never loads taskloom or
 * LangGraph and its RSS is its own. Between rounds the heap is collected
 * when the parent passes `--expose-gc`; a `time` row below N = 10,000
 * counts batches of runs, each round one collection and as many runs as
 * last 20 ms (`plan.ts`, `batchedRow`). A round that outlives
 * `budgetMs` ends the child at once with `skipped` set (and, should its
 * timer be starved, the parent kills it: see `PHASE_PREFIX`).
 *
 * @module
 */
import { BATCH_MS, batchedRow, MAX_BATCH, warmupTime } from "./plan.js";
import { argsToSpec, PHASE_PREFIX, type ScenarioResult, type ScenarioSpec } from "./protocol.js";
import type { Prepare, Round } from "./systems/types.js";

const gc = (globalThis as { gc?: () => void }).gc;

function rssKB(): number {
  return Math.round(process.memoryUsage().rss / 1024);
}

function emit(result: ScenarioResult): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function base(spec: ScenarioSpec): ScenarioResult {
  return { spec, roundsMs: [], warmupMs: [], buildMs: 0, maxRssKB: 0, rssBeforeRunKB: 0 };
}

async function loadPrepare(spec: ScenarioSpec): Promise<Prepare> {
  if (spec.kind === "stages") {
    if (spec.system !== "taskloom-memory" && spec.system !== "taskloom-lowdb" && spec.system !== "taskloom-lowdb-fsync") {
      throw new Error(`bench/scenario: the stages scenario runs only taskloom systems, not ${spec.system}`);
    }
    return (await import("./systems/taskloom.js")).prepareStages(spec.system);
  }
  switch (spec.system) {
    case "pqueue":
      return (await import("./systems/pqueue.js")).prepare;
    case "fdatasync":
      return (await import("./systems/fdatasync.js")).prepare;
    case "write":
      return (await import("./systems/write.js")).prepare;
    case "taskloom-memory-write":
      return (await import("./systems/memory-write.js")).prepare;
    case "langgraph":
      return (await import("./systems/langgraph.js")).prepare;
    case "langgraph-sqlite":
      return (await import("./systems/langgraph.js")).prepareSqlite;
    case "dbos":
      return (await import("./systems/dbos.js")).prepare;
    case "taskloom-memory":
    case "taskloom-lowdb":
    case "taskloom-lowdb-fsync":
      return (await import("./systems/taskloom.js")).prepareFor(spec.system);
  }
}

/**
 * Runs `fn` unless it outlives the budget, in which case the child reports
 * `skipped` and exits. The phase line on stderr lets the parent enforce the
 * same budget when this timer cannot fire: a run that only ever chains
 * promises (no I/O) never yields to timers until it ends.
 */
async function withinBudget<T>(spec: ScenarioSpec, partial: () => ScenarioResult, what: string, fn: () => Promise<T>): Promise<T> {
  process.stderr.write(`${PHASE_PREFIX}${what}\n`);
  const timer = setTimeout(() => {
    emit({
      ...partial(),
      maxRssKB: process.resourceUsage().maxRSS,
      skipped: `${what} took over the ${Math.round(spec.budgetMs / 1000)} s budget`,
    });
    process.exit(0);
  }, spec.budgetMs);
  const t0 = performance.now();
  let value: T;
  try {
    value = await fn();
  } finally {
    clearTimeout(timer);
  }
  // The timer may have been starved: judge the phase by its wall time too.
  const ms = performance.now() - t0;
  if (ms > spec.budgetMs) {
    emit({
      ...partial(),
      maxRssKB: process.resourceUsage().maxRSS,
      skipped: `${what} took ${(ms / 1000).toFixed(1)} s, over the ${Math.round(spec.budgetMs / 1000)} s budget`,
    });
    process.exit(0);
  }
  return value;
}

/**
 * A scenario stops starting rounds once its rounds (warm-up included) took
 * this long in all, as long as one counted round is done: slow peers and
 * slow stage runs then count fewer rounds instead of stretching the bench.
 */
export const SCENARIO_CAP_MS = 90_000;

/** `time`, `memory`, `syscalls` and `stages`: whole runs, timed. */
async function timed(spec: ScenarioSpec): Promise<ScenarioResult> {
  const prepare = await loadPrepare(spec);
  const warmupMs: number[] = [];
  const roundsMs: number[] = [];
  const warmupBatches: number[] = [];
  const singleMs: number[] = [];
  // A batched row's warm-up also finds its batch: doubling from one run until a round lasts BATCH_MS (plan.ts, batchedRow).
  const batched = batchedRow(spec);
  let batch = 1;
  let buildMs = 0;
  let rssBeforeRunKB = 0;
  const partial = (): ScenarioResult => ({
    ...base(spec),
    warmupMs,
    roundsMs,
    buildMs,
    rssBeforeRunKB,
    ...(batched ? { batch, warmupBatches, singleMs } : {}),
  });
  const prepared = await withinBudget(spec, partial, "building the graph", () => prepare(spec.shape, spec.n, spec.concurrency));
  buildMs = prepared.buildMs;
  gc?.();
  rssBeforeRunKB = rssKB();
  let spentMs = 0;
  /**
   * `count` runs of this process from run `first` on, each set up (its own
   * fresh store) before and cleaned up after all of them, untimed, with
   * one collection before the first; their total wall time (ms).
   */
  const runs = async (first: number, count: number, label: string): Promise<number> => {
    const set: Round[] = [];
    for (let j = 0; j < count; j++) set.push(await prepared.round(first + j));
    gc?.();
    const ms = await withinBudget(spec, partial, `${label} (N=${spec.n}${count > 1 ? `, ${count} runs` : ""})`, async () => {
      const t0 = performance.now();
      for (const round of set) await round.run();
      return performance.now() - t0;
    });
    for (const round of set) await round.cleanup();
    spentMs += ms;
    return ms;
  };
  const { minMs, capMs } = warmupTime(spec);
  let next = 0;
  for (let w = 0; w < spec.warmup || spentMs < minMs; w++) {
    if (w > 0 && spentMs >= capMs) break;
    const ms = await runs(next, batch, `warm-up round ${w + 1}`);
    next += batch;
    warmupMs.push(ms / batch);
    if (batched) {
      warmupBatches.push(batch);
      if (ms < BATCH_MS && batch < MAX_BATCH) batch *= 2;
    }
  }
  for (let k = 0; k < spec.rounds; k++) {
    if (roundsMs.length > 0 && spentMs > SCENARIO_CAP_MS && spec.kind !== "syscalls") break;
    roundsMs.push((await runs(next, batch, `round ${k + 1}`)) / batch);
    next += batch;
  }
  // The same row as single runs, each after a collection (the bench's rounds before the twentieth pass), where batches were larger.
  if (batch > 1) {
    for (let k = 0; k < roundsMs.length; k++, next++) singleMs.push(await runs(next, 1, `single run ${k + 1}`));
  }
  await prepared.close?.();
  return { ...partial(), maxRssKB: process.resourceUsage().maxRSS };
}

/**
 * `pair`: the `fdatasync` floor and the chain of `spec.system` (the fsync
 * chain), both N steps, in this one process with their rounds alternating:
 * warm-up (floor, chain) × `warmup`, then floor, chain, floor, …, chain,
 * floor, `rounds` chain rounds between `rounds + 1` floor rounds. Each round
 * is set up exactly as in its own `time` row (the same `prepare`, a fresh
 * temp dir under the same `tmpdir()`, a fresh store, a garbage collection
 * before it), so only the moment differs: a chain round is compared with the
 * floor rounds measured just before and just after it (the parent divides),
 * on a disk whose flush latency drifts several-fold over minutes.
 */
async function paired(spec: ScenarioSpec): Promise<ScenarioResult> {
  if (spec.shape !== "chain") throw new Error("bench/scenario: the pair scenario runs the chain shape only (the floor is one flush per step)");
  const floorPrepare = (await import("./systems/fdatasync.js")).prepare;
  const chainPrepare = await loadPrepare(spec);
  const warmupMs: number[] = [];
  const roundsMs: number[] = [];
  const floorMs: number[] = [];
  let buildMs = 0;
  let rssBeforeRunKB = 0;
  const partial = (): ScenarioResult => ({ ...base(spec), warmupMs, roundsMs, floorMs, buildMs, rssBeforeRunKB });
  const floor = await floorPrepare(spec.shape, spec.n, spec.concurrency);
  const chain = await withinBudget(spec, partial, "building the graph", () => chainPrepare(spec.shape, spec.n, spec.concurrency));
  buildMs = chain.buildMs;
  gc?.();
  rssBeforeRunKB = rssKB();
  let index = 0;
  /** One round of `which`, set up and cleaned up untimed, with a collection before it; its wall time (ms). */
  const once = async (which: "floor" | "chain", label: string): Promise<number> => {
    const round = await (which === "floor" ? floor : chain).round(index++);
    gc?.();
    const ms = await withinBudget(spec, partial, `${label} (${which}, N=${spec.n})`, async () => {
      const t0 = performance.now();
      await round.run();
      return performance.now() - t0;
    });
    await round.cleanup();
    return ms;
  };
  for (let i = 0; i < spec.warmup; i++) {
    warmupMs.push(await once("floor", `warm-up pair ${i + 1}`));
    warmupMs.push(await once("chain", `warm-up pair ${i + 1}`));
  }
  let spentMs = 0;
  floorMs.push(await once("floor", "pair 1"));
  for (let i = 0; i < spec.rounds; i++) {
    if (roundsMs.length > 0 && spentMs > SCENARIO_CAP_MS) break;
    const chainMs = await once("chain", `pair ${i + 1}`);
    const afterMs = await once("floor", `pair ${i + 1}`);
    roundsMs.push(chainMs);
    floorMs.push(afterMs);
    spentMs += chainMs + afterMs;
  }
  await chain.close?.();
  return { ...partial(), maxRssKB: process.resourceUsage().maxRSS };
}

/** `bytes`: wchar per node transition of durable runs. */
async function bytes(spec: ScenarioSpec): Promise<ScenarioResult> {
  const tl = await import("./systems/taskloom.js");
  const t0 = performance.now();
  const g = tl.buildGraph(spec.shape, spec.n);
  const buildMs = performance.now() - t0;
  const rssBeforeRunKB = rssKB();
  const wcharBytes: number[] = [];
  const transitions: number[] = [];
  const roundsMs: number[] = [];
  const warmupMs: number[] = [];
  for (let i = 0; i < spec.warmup + spec.rounds; i++) {
    gc?.();
    const s = performance.now();
    const m = await tl.measureBytesOnce(g, i, spec.concurrency);
    const ms = performance.now() - s;
    if (i < spec.warmup) {
      warmupMs.push(ms);
      continue;
    }
    roundsMs.push(ms);
    wcharBytes.push(m.bytes);
    transitions.push(m.transitions);
  }
  return { ...base(spec), buildMs, rssBeforeRunKB, roundsMs, warmupMs, wcharBytes, transitions, maxRssKB: process.resourceUsage().maxRSS };
}

/**
 * `resume`: time of the second `runAsync` of a half-failed stored run,
 * with full runs of the same graph in between: warm-up (full run, resume)
 * × `warmup`, then full run, resume, full run, …, resume, full run. Each
 * full run is set up exactly as a round of the `time` row of the same
 * system, shape and N (its own `prepare`, a fresh store and temp dir, a
 * collection before it), so a resume is compared with the full runs
 * measured just before and just after it, not with another child's minutes
 * earlier (the seventeenth pass's full run read 67.8 ms in its own child
 * against 45 to 50 ms in the bench's other children of that run).
 */
async function resume(spec: ScenarioSpec): Promise<ScenarioResult> {
  const tl = await import("./systems/taskloom.js");
  const fullPrepare = await loadPrepare({ ...spec, kind: "time" });
  const t0 = performance.now();
  const g = tl.buildResumeGraph(spec.n);
  const buildMs = performance.now() - t0;
  const roundsMs: number[] = [];
  const warmupMs: number[] = [];
  const resumedBodies: number[] = [];
  const fullRunMs: number[] = [];
  let rssBeforeRunKB = 0;
  const partial = (): ScenarioResult => ({ ...base(spec), buildMs, rssBeforeRunKB, roundsMs, warmupMs, resumedBodies, fullRunMs });
  const full = await withinBudget(spec, partial, "building the full run's graph", () => fullPrepare(spec.shape, spec.n, spec.concurrency));
  gc?.();
  rssBeforeRunKB = rssKB();
  let index = 0;
  /** One full run, set up and cleaned up untimed, with a collection before it; its wall time (ms). */
  const fullRun = async (label: string): Promise<number> => {
    const round = await full.round(index++);
    gc?.();
    const ms = await withinBudget(spec, partial, `${label} (full run, N=${spec.n})`, async () => {
      const t = performance.now();
      await round.run();
      return performance.now() - t;
    });
    await round.cleanup();
    return ms;
  };
  /** One cold resume (its first run untimed, inside), with a collection before it. */
  const resumeOnce = async (i: number, label: string): Promise<{ ms: number; resumedBodies: number }> => {
    gc?.();
    return withinBudget(spec, partial, `${label} (resume, N=${spec.n})`, () => tl.measureResumeOnce(g, i, spec.concurrency));
  };
  for (let i = 0; i < spec.warmup; i++) {
    warmupMs.push(await fullRun(`warm-up pair ${i + 1}`));
    warmupMs.push((await resumeOnce(i, `warm-up pair ${i + 1}`)).ms);
  }
  fullRunMs.push(await fullRun("pair 1"));
  for (let i = 0; i < spec.rounds; i++) {
    const m = await resumeOnce(spec.warmup + i, `pair ${i + 1}`);
    fullRunMs.push(await fullRun(`pair ${i + 1}`));
    roundsMs.push(m.ms);
    resumedBodies.push(m.resumedBodies);
  }
  await full.close?.();
  return { ...partial(), maxRssKB: process.resourceUsage().maxRSS };
}

async function main(): Promise<void> {
  const spec = argsToSpec(process.argv.slice(2));
  try {
    const result =
      spec.kind === "bytes" ? await bytes(spec) : spec.kind === "resume" ? await resume(spec) : spec.kind === "pair" ? await paired(spec) : await timed(spec);
    emit(result);
  } catch (err) {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    console.error(err);
    emit({ ...base(spec), maxRssKB: process.resourceUsage().maxRSS, error: message });
    process.exitCode = 1;
  }
  // A peer may leave handles open (a database pool): the JSON line is out
  // (stdout is a pipe, written synchronously on Linux), so end here.
  process.exit();
}

await main();
