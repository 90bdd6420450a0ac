/**
 * `npm run bench [-- --quick] [-- --only TEXT] [-- --rounds N] [-- --budget-s S]`
 *
 * The orchestrator. It lists the scenarios, runs each one in its own child
 * process (`node --import tsx bench/scenario.ts …`, one JSON line back),
 * one after another so that they never compete for the machine's cores,
 * then computes medians and ratios to the baseline measured in the same
 * run (raw p-queue on the same graph), prints a table with a PASS / MISS /
 * SKIP line per target, and writes everything to
 * `bench/results/<ISO timestamp>.json` and `bench/results/latest.json`.
 *
 * Last, unless `--only` leaves it out (it runs with `--only import`), the
 * import time: `import "taskloom"` (the built package, in a fresh `node`
 * process) against importing p-queue alone, median of 10 (see
 * `bench/import-time.ts`), with its own target line.
 *
 * LangGraph scenarios have a per-round time budget: a scenario whose round
 * (or graph compile) exceeds it is stopped and reported as skipped, and so
 * are the larger N of the same shape; N = 100,000 is never attempted.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { makeTrash, TRASH_ENV } from "./retire.js";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { distributedTargets, measureDistributed, type DistributedResult } from "./distributed-run.js";
import { pgFlushSettings, pgWalSyncs } from "./peer-db.js";
import { IMPORT_TIME_LIMIT, measureImportTime, renderImportTime, type ImportTime } from "./import-time.js";
import { runChild } from "./child.js";
import { BUDGETED, CONCURRENCY, MILLION, parseOptions, PEER_SIZES, PEERS, plan, STAGE_TASKS } from "./plan.js";
import { specLabel, type Kind, type ScenarioResult, type ScenarioSpec, type Shape, type SystemName } from "./protocol.js";
import { median } from "./stats.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const RESULTS_DIR = join(BENCH_DIR, "results");

// ---- system calls ------------------------------------------------------------

/** Where strace is, or undefined (the syscall rows then say SKIP). */
function findStrace(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const candidate = join(dir, "strace");
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The two round counts a syscall scenario is traced with: the difference divided by their difference is per run. */
function syscallRounds(spec: ScenarioSpec): readonly [number, number] {
  return spec.n <= 1 ? [5, 45] : [2, 12];
}

/** Syscall counts by name from `strace -c -U calls,name` output (the `total` line included). */
function parseStrace(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\s+([a-z_0-9]+)\s*$/.exec(line);
    if (m?.[1] && m[2]) counts[m[2]] = (counts[m[2]] ?? 0) + Number(m[1]);
  }
  return counts;
}

/** The figures of a syscall scenario: per run, from the difference of two traced children. */
interface SyscallFigures {
  readonly runs: readonly [number, number];
  /** Syscalls per run, by name (`total` included). */
  readonly perRun: Record<string, number>;
  /** PostgreSQL WAL flushes per run (DBOS only; server-wide counter, so other databases' work adds noise). */
  readonly pgWalSyncsPerRun?: number;
}

/**
 * Runs a syscall scenario twice under `strace -f -c` (threads included),
 * with two round counts, and divides the difference of the counts by the
 * difference of the rounds: what one more run costs, start-up excluded.
 */
async function runSyscalls(spec: ScenarioSpec, env: NodeJS.ProcessEnv, strace: string | undefined): Promise<Row> {
  const label = specLabel(spec);
  if (strace === undefined) return { label, spec, status: "skipped", reason: "strace is not installed (apt-get install strace)" };
  const [a, b] = syscallRounds(spec);
  const dir = await mkdtemp(join(tmpdir(), "taskloom-bench-strace-"));
  try {
    const counts: Record<string, number>[] = [];
    const wal: (number | undefined)[] = [];
    let last: ScenarioResult | undefined;
    for (const rounds of [a, b]) {
      const file = join(dir, `${rounds}.txt`);
      const before = spec.system === "dbos" ? await pgWalSyncs() : undefined;
      const r = await runChild({ ...spec, rounds }, env, [strace, "-f", "-c", "-U", "calls,name", "-o", file]);
      if (r.error !== undefined || r.skipped !== undefined) return toRow(spec, r);
      if (spec.system === "dbos") {
        await new Promise((resolve) => setTimeout(resolve, 1_500)); // backends report their statistics when they end
        const after = await pgWalSyncs();
        wal.push(before === undefined || after === undefined ? undefined : after - before);
      }
      counts.push(parseStrace(await readFile(file, "utf8")));
      last = r;
    }
    const [ca, cb] = counts as [Record<string, number>, Record<string, number>];
    const perRun: Record<string, number> = {};
    for (const name of new Set([...Object.keys(ca), ...Object.keys(cb)])) {
      const d = ((cb[name] ?? 0) - (ca[name] ?? 0)) / (b - a);
      if (d > 0 || name === "total") perRun[name] = d;
    }
    const [wa, wb] = wal;
    const syscalls: SyscallFigures = {
      runs: [a, b],
      perRun,
      ...(wa !== undefined && wb !== undefined && { pgWalSyncsPerRun: Math.max(0, (wb - wa) / (b - a)) }),
    };
    return { label, spec, status: "ok", syscalls, ...(last !== undefined && { raw: last }) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Flushing calls (to the disk) among the syscalls. */
const FLUSH_CALLS = ["fsync", "fdatasync", "sync_file_range", "msync", "syncfs"] as const;

function flushesOf(perRun: Record<string, number>): number {
  return FLUSH_CALLS.reduce((sum, name) => sum + (perRun[name] ?? 0), 0);
}

// ---- statistics -------------------------------------------------------------------

/** Nodes in a graph of this shape and N (fan-out adds the root and the join). */
function nodeCount(shape: Shape, n: number): number {
  return shape === "fanout" ? n + 2 : n;
}

/** The figures of a `pair` scenario (per step: the round's ms * 1000 / N). */
interface PairFigures {
  /** Median of the per-pair ratios: each chain round / the mean of the floor rounds just before and just after it. */
  readonly ratio: number;
  readonly minRatio: number;
  readonly maxRatio: number;
  /** Every per-pair ratio, in round order. */
  readonly ratios: readonly number[];
  /** Median µs per step of the chain rounds and of the floor rounds. */
  readonly chainUsPerStep: number;
  readonly floorUsPerStep: number;
  /** Lowest and highest floor round, µs per step: how far the disk drifted during the scenario. */
  readonly floorMinUsPerStep: number;
  readonly floorMaxUsPerStep: number;
}

/** Per-pair ratios of a `pair` child: chain round i against floor rounds i and i + 1 (run just before and just after it). */
function pairFigures(spec: ScenarioSpec, r: ScenarioResult): PairFigures | undefined {
  const floor = r.floorMs ?? [];
  const ratios = r.roundsMs.flatMap((chainMs, i) => {
    const before = floor[i];
    const after = floor[i + 1];
    return before === undefined || after === undefined ? [] : [chainMs / ((before + after) / 2)];
  });
  if (ratios.length === 0) return undefined;
  const perStep = (ms: number): number => (ms * 1000) / spec.n;
  return {
    ratio: median(ratios),
    minRatio: Math.min(...ratios),
    maxRatio: Math.max(...ratios),
    ratios,
    chainUsPerStep: perStep(median(r.roundsMs)),
    floorUsPerStep: perStep(median(floor)),
    floorMinUsPerStep: perStep(Math.min(...floor)),
    floorMaxUsPerStep: perStep(Math.max(...floor)),
  };
}

/** One row of the results, with everything derived from the child's raw numbers. */
interface Row {
  readonly label: string;
  readonly spec: ScenarioSpec;
  readonly status: "ok" | "skipped" | "error";
  readonly reason?: string;
  readonly medianMs?: number;
  readonly minMs?: number;
  readonly maxMs?: number;
  readonly usPerNode?: number;
  readonly baseline?: string;
  readonly ratio?: number;
  readonly maxRssMB?: number;
  readonly rssBeforeRunMB?: number;
  readonly bytesPerTransition?: number;
  readonly transitions?: number;
  readonly wcharBytes?: number;
  readonly resumedBodies?: number;
  readonly buildMs?: number;
  /** `stages`: tasks per second (N / median seconds). */
  readonly tasksPerSecond?: number;
  /** `syscalls`: per-run counts. */
  readonly syscalls?: SyscallFigures;
  /** `pair`: the chain against the floor rounds measured around it. */
  readonly pair?: PairFigures;
  readonly raw?: ScenarioResult;
}

function toRow(spec: ScenarioSpec, r: ScenarioResult): Row {
  const label = specLabel(spec);
  if (r.error !== undefined) return { label, spec, status: "error", reason: r.error, raw: r };
  if (r.skipped !== undefined) return { label, spec, status: "skipped", reason: r.skipped, raw: r };
  const med = median(r.roundsMs);
  const base: Row = {
    label,
    spec,
    status: "ok",
    medianMs: med,
    minMs: Math.min(...r.roundsMs),
    maxMs: Math.max(...r.roundsMs),
    usPerNode: (med * 1000) / nodeCount(spec.shape, spec.n),
    maxRssMB: r.maxRssKB / 1024,
    rssBeforeRunMB: r.rssBeforeRunKB / 1024,
    buildMs: r.buildMs,
    raw: r,
  };
  if (spec.kind === "bytes" && r.wcharBytes && r.transitions) {
    const perRound = r.wcharBytes.map((b, i) => b / (r.transitions?.[i] ?? NaN));
    return {
      ...base,
      bytesPerTransition: median(perRound),
      wcharBytes: median(r.wcharBytes),
      transitions: median(r.transitions),
    };
  }
  if (spec.kind === "resume" && r.resumedBodies) return { ...base, resumedBodies: median(r.resumedBodies) };
  if (spec.kind === "stages") return { ...base, tasksPerSecond: spec.n / (med / 1000) };
  if (spec.kind === "pair") {
    const pair = pairFigures(spec, r);
    return pair === undefined ? { label, spec, status: "error", reason: "no chain round with a floor round on both sides", raw: r } : { ...base, pair };
  }
  return base;
}

/** Adds the ratio to the baseline measured in this run. */
function withBaselines(rows: Row[]): Row[] {
  const find = (kind: Kind, system: SystemName, shape: Shape, n: number): Row | undefined =>
    rows.find((r) => r.status === "ok" && r.spec.kind === kind && r.spec.system === system && r.spec.shape === shape && r.spec.n === n);
  return rows.map((row) => {
    if (row.status !== "ok" || row.medianMs === undefined) return row;
    const { kind, shape, n } = row.spec;
    let base: Row | undefined;
    let name: string | undefined;
    if (kind === "time") {
      base = find("time", "pqueue", shape, n);
      name = "p-queue";
    } else if (kind === "resume") {
      base = find("time", "taskloom-lowdb", "fanout", n);
      name = `lowdb full run`;
    }
    if (base?.medianMs === undefined || name === undefined) return row;
    return { ...row, baseline: name, ratio: row.medianMs / base.medianMs };
  });
}

// ---- targets ------------------------------------------------------------------

interface Target {
  readonly name: string;
  /** INFO: a figure the issue asks to report, with no limit. */
  readonly verdict: "PASS" | "MISS" | "SKIP" | "INFO";
  readonly detail: string;
}

/** Peak RSS limit of the 1,000,000-node fan-out (MB). */
const MILLION_RSS_LIMIT_MB = 1536;

function targets(rows: readonly Row[]): Target[] {
  /** The row of a scenario, or a stand-in saying it was not run (filtered out with --only). */
  const get = (kind: Kind, system: SystemName, shape: Shape, n: number): Row => {
    const row = rows.find((r) => r.spec.kind === kind && r.spec.system === system && r.spec.shape === shape && r.spec.n === n);
    if (row) return row;
    const spec: ScenarioSpec = { kind, system, shape, n, rounds: 0, warmup: 0, budgetMs: 0, concurrency: CONCURRENCY };
    return { label: specLabel(spec), spec, status: "skipped", reason: "not run in this invocation" };
  };
  /** Why rows have no figures; rows sharing a reason are named once with it. */
  const why = (...rs: Row[]): string => {
    const byReason = new Map<string, string[]>();
    for (const r of rs.filter((x) => x.status !== "ok")) {
      const reason = `${r.status} (${r.reason ?? ""})`;
      byReason.set(reason, [...(byReason.get(reason) ?? []), r.label]);
    }
    return [...byReason].map(([reason, labels]) => `${labels.join(", ")}: ${reason}`).join("; ");
  };
  const out: Target[] = [];
  /** a / b must be at most `limit`. */
  const atMost = (name: string, a: Row, b: Row, limit: number, value: (r: Row) => number | undefined, unit: string): void => {
    const va = a.status === "ok" ? value(a) : undefined;
    const vb = b.status === "ok" ? value(b) : undefined;
    if (va === undefined || vb === undefined) {
      out.push({ name, verdict: "SKIP", detail: why(a, b) || "no data" });
      return;
    }
    const ratio = va / vb;
    out.push({ name, verdict: ratio <= limit ? "PASS" : "MISS", detail: `${ratio.toFixed(2)}x (${fmt(va)} vs ${fmt(vb)} ${unit}; limit ${limit}x)` });
  };
  /** A figure against an absolute floor or ceiling. */
  const absolute = (name: string, r: Row, value: number | undefined, ok: (v: number) => boolean, detail: (v: number) => string): void => {
    if (r.status !== "ok" || value === undefined) out.push({ name, verdict: "SKIP", detail: why(r) || "no data" });
    else out.push({ name, verdict: ok(value) ? "PASS" : "MISS", detail: detail(value) });
  };
  const ms = (r: Row): number | undefined => r.medianMs;
  const perNode = (r: Row): number | undefined => r.usPerNode;
  const rss = (r: Row): number | undefined => r.maxRssMB;
  const mem = (shape: Shape, n: number): Row => get("time", "taskloom-memory", shape, n);
  const low = (shape: Shape, n: number): Row => get("time", "taskloom-lowdb", shape, n);

  // 1. The fixed cost of a durable run.
  atMost("1. 1-node run: LowdbStore <= 3x MemoryStore", low("chain", 1), mem("chain", 1), 3, ms, "ms");
  for (const shape of ["chain", "fanout"] as const) {
    atMost(`1. 100-node ${shape}: LowdbStore <= 2x MemoryStore`, low(shape, 100), mem(shape, 100), 2, ms, "ms");
  }
  {
    const r = get("syscalls", "taskloom-lowdb", "chain", 1);
    const m = get("syscalls", "taskloom-memory", "chain", 1);
    const name = "1. system calls per durable 1-node run (reported; strace -f -c, difference of two run counts)";
    if (r.status !== "ok" || r.syscalls === undefined) out.push({ name, verdict: "SKIP", detail: why(r) || "no data" });
    else {
      const c = r.syscalls.perRun;
      const top = ["openat", "mkdir", "rename", "fchmod", "rmdir", "unlink", "fsync", "fdatasync", "read", "write", "pwrite64", "futex", "statx"]
        .filter((k) => (c[k] ?? 0) > 0)
        .map((k) => `${k} ${fmt(c[k], 0)}`)
        .join(", ");
      const memTotal = m.status === "ok" ? m.syscalls?.perRun.total : undefined;
      out.push({
        name,
        verdict: "INFO",
        detail: `${fmt(c.total, 0)} per run (${top})${memTotal === undefined ? "" : `; MemoryStore ${fmt(memTotal, 0)}`}`,
      });
    }
  }
  // 2. The stage runner.
  for (const [system, floor] of [
    ["taskloom-memory", 5_000],
    ["taskloom-lowdb", 2_000],
  ] as const) {
    const r = rows.find((x) => x.spec.kind === "stages" && x.spec.system === system) ?? get("stages", system, "chain", STAGE_TASKS);
    const store = system === "taskloom-memory" ? "MemoryStore" : "LowdbStore";
    absolute(
      `2. stage runner, ${r.spec.n.toLocaleString("en-US")} tasks x 2 agent stages, ${store} >= ${floor.toLocaleString("en-US")} tasks/s`,
      r,
      r.tasksPerSecond,
      (v) => v >= floor,
      (v) => `${fmt(v, 0)} tasks/s (${fmt(r.medianMs)} ms)`,
    );
  }
  // 3. Engine overhead.
  for (const shape of ["fanout", "chain"] as const) {
    atMost(`3. MemoryStore <= 2x raw p-queue, 10k ${shape}`, mem(shape, 10_000), get("time", "pqueue", shape, 10_000), 2, ms, "ms");
  }
  for (const shape of ["fanout", "chain"] as const) {
    atMost(`3. LowdbStore <= 1.5x MemoryStore, 10k ${shape}`, low(shape, 10_000), mem(shape, 10_000), 1.5, ms, "ms");
  }
  {
    // What the chain's LowdbStore row must spend on system calls alone: a write per step (bench/systems/write.ts).
    const name = "3. 10k chain: LowdbStore's cost over MemoryStore against a bare loop of one write per step";
    const floor = get("time", "write", "chain", 10_000);
    const [l, m] = [low("chain", 10_000), mem("chain", 10_000)];
    if (floor.medianMs === undefined || l.medianMs === undefined || m.medianMs === undefined || floor.status !== "ok") {
      out.push({ name, verdict: "SKIP", detail: why(floor, l, m) || "no data" });
    } else {
      const detail =
        `LowdbStore - MemoryStore ${fmt(l.medianMs - m.medianMs)} ms; 10,000 writes ${fmt(floor.medianMs)} ms ` +
        `(${fmt(floor.medianMs / m.medianMs)}x MemoryStore's run: the ratio's floor is ${fmt(1 + floor.medianMs / m.medianMs)}x)`;
      out.push({ name, verdict: "INFO", detail });
    }
  }
  // 4. At equal durability against a power loss.
  {
    // Paired in one child (the disk's flush latency drifts over minutes, so the separate rows, run minutes apart, do not compare).
    const r = get("pair", "taskloom-lowdb-fsync", "chain", 1_000);
    const p = r.pair;
    absolute(
      "4. fsync chain per step <= 1.3x a bare fdatasync loop (1,000 steps; paired rounds in one process)",
      r,
      p?.ratio,
      (v) => v <= 1.3,
      (v) =>
        p === undefined
          ? ""
          : `${v.toFixed(2)}x, median of ${p.ratios.length} per-pair ratios (${fmt(p.minRatio)} to ${fmt(p.maxRatio)}); ` +
            `medians ${fmt(p.chainUsPerStep)} vs ${fmt(p.floorUsPerStep)} us/step (floor ${fmt(p.floorMinUsPerStep)} to ${fmt(p.floorMaxUsPerStep)}); limit 1.3x`,
    );
  }
  atMost("4. 1,000-node fan-out with fsync <= 2x without", get("time", "taskloom-lowdb-fsync", "fanout", 1_000), low("fanout", 1_000), 2, ms, "ms");
  // 5. Cold resume.
  {
    const r = get("resume", "taskloom-lowdb", "fanout", 10_000);
    absolute(
      "5. cold resume (10k, 9,000 done) <= 0.3x a full durable run",
      r,
      r.ratio,
      (v) => v <= 0.3,
      (v) => `${v.toFixed(2)}x (${fmt(r.medianMs)} ms; limit 0.3x)`,
    );
  }
  // 6. Scale.
  {
    const million = get("memory", "taskloom-lowdb", "fanout", MILLION);
    const millionPerNode: Row =
      million.status === "ok" && million.medianMs !== undefined ? { ...million, usPerNode: (million.medianMs * 1000) / (MILLION + 2) } : million;
    atMost("6. 1M fan-out per-node cost <= 1.3x that of 100k (LowdbStore)", millionPerNode, low("fanout", 100_000), 1.3, perNode, "us/node");
    absolute(
      "6. 1M fan-out peak RSS <= 1.5 GB (LowdbStore)",
      million,
      million.maxRssMB,
      (v) => v <= MILLION_RSS_LIMIT_MB,
      (v) => `${fmt(v, 0)} MB (limit ${MILLION_RSS_LIMIT_MB} MB)`,
    );
    const pq = get("memory", "pqueue", "fanout", 100_000);
    atMost("6. 100k fan-out peak RSS <= 1.5x raw p-queue (MemoryStore)", get("memory", "taskloom-memory", "fanout", 100_000), pq, 1.5, rss, "MB");
    atMost("6. 100k fan-out peak RSS <= 1.5x raw p-queue (LowdbStore)", get("memory", "taskloom-lowdb", "fanout", 100_000), pq, 1.5, rss, "MB");
  }
  // Peers: taskloom ahead at every N (default store against every peer; with fsync against the durable peers).
  for (const shape of ["fanout", "chain"] as const) {
    for (const n of PEER_SIZES) {
      const name = `peers: taskloom ahead at ${shape} ${n.toLocaleString("en-US")} (default store vs every peer; fsync vs the durable peers)`;
      const pairs: [SystemName, SystemName][] = [
        ["taskloom-lowdb", "langgraph"],
        ["taskloom-lowdb", "langgraph-sqlite"],
        ["taskloom-lowdb", "dbos"],
        ["taskloom-lowdb-fsync", "langgraph-sqlite"],
        ["taskloom-lowdb-fsync", "dbos"],
      ];
      const compared: string[] = [];
      const behind: string[] = [];
      const missing: Row[] = [];
      for (const [mine, peer] of pairs) {
        const t = get("time", mine, shape, n);
        const p = get("time", peer, shape, n);
        if (t.status !== "ok" || p.status !== "ok" || t.medianMs === undefined || p.medianMs === undefined) {
          missing.push(t, p);
          continue;
        }
        const speedup = p.medianMs / t.medianMs;
        const text = `${mine === "taskloom-lowdb" ? "default" : "fsync"} vs ${peer} ${speedup.toFixed(1)}x`;
        compared.push(text);
        if (speedup < 1) behind.push(text);
      }
      const unique = [...new Set(missing)];
      if (compared.length === 0) out.push({ name, verdict: "SKIP", detail: why(...unique) || "no data" });
      else
        out.push({
          name,
          verdict: behind.length > 0 ? "MISS" : "PASS",
          detail: `${compared.join(", ")}${behind.length > 0 ? `; BEHIND: ${behind.join(", ")}` : ""}${unique.length > 0 ? `; not compared: ${why(...unique)}` : ""}`,
        });
    }
  }
  // First-round targets still checked.
  for (const [shape, n] of [
    ["chain", 1_000],
    ["fanout", 2_000],
  ] as const) {
    const t = mem(shape, n);
    const l = get("time", "langgraph", shape, n);
    const name = `(round 1) >= 20x faster than LangGraph, ${n.toLocaleString("en-US")}-node ${shape} (MemoryStore vs MemorySaver)`;
    if (t.status !== "ok" || l.status !== "ok" || t.medianMs === undefined || l.medianMs === undefined) {
      out.push({ name, verdict: "SKIP", detail: why(t, l) || "no data" });
    } else {
      const speedup = l.medianMs / t.medianMs;
      out.push({ name, verdict: speedup >= 20 ? "PASS" : "MISS", detail: `${speedup.toFixed(1)}x (${fmt(l.medianMs)} vs ${fmt(t.medianMs)} ms; need 20x)` });
    }
  }
  const bpt = (r: Row): number | undefined => r.bytesPerTransition;
  for (const shape of ["fanout", "chain"] as const) {
    atMost(
      `(round 1) bytes/transition at 10k within 1.5x of 1k (${shape})`,
      get("bytes", "taskloom-lowdb", shape, 10_000),
      get("bytes", "taskloom-lowdb", shape, 1_000),
      1.5,
      bpt,
      "B",
    );
  }
  atMost("(round 1) 100k fan-out durable cost per node <= 2x that of 10k", low("fanout", 100_000), low("fanout", 10_000), 2, perNode, "us/node");
  return out;
}

// ---- output ------------------------------------------------------------------

function fmt(x: number | undefined, digits?: number): string {
  if (x === undefined || !Number.isFinite(x)) return "-";
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}

function table(headers: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** The note column: why a row has no numbers (cut short; the JSON has it whole). */
function note(r: Row): string {
  if (r.status === "ok") return "";
  const text = `${r.status} (${r.reason ?? ""})`;
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}

function render(
  rows: readonly Row[],
  ts: readonly Target[],
  importTime: ImportTime | undefined,
  distributed: DistributedResult | undefined,
  pgSettings: string | undefined,
): string {
  const of = (kind: Kind): Row[] => rows.filter((r) => r.spec.kind === kind);
  const n = (r: Row): string => r.spec.n.toLocaleString("en-US");
  const parts: string[] = [];
  const time = of("time");
  if (time.length > 0) {
    parts.push(
      "Run time (median of counted rounds; ratio to raw p-queue on the same graph)\n" +
        table(
          ["shape", "system", "N", "rounds", "median ms", "min ms", "max ms", "us/node", "x p-queue", "note"],
          time.map((r) => [
            r.spec.shape,
            r.spec.system,
            n(r),
            String(r.raw?.roundsMs.length ?? r.spec.rounds),
            fmt(r.medianMs),
            fmt(r.minMs),
            fmt(r.maxMs),
            fmt(r.usPerNode),
            r.ratio === undefined ? "-" : `${fmt(r.ratio)}x`,
            note(r),
          ]),
        ),
    );
  }
  const pair = of("pair");
  if (pair.length > 0) {
    parts.push(
      "Paired fsync chain / fdatasync floor (one child; rounds alternate floor, chain, floor, ...; ratio = chain round / mean of the floor rounds before and after it)\n" +
        table(
          ["shape", "system", "N", "pairs", "chain us/step", "floor us/step", "floor min", "floor max", "ratio median", "ratio min", "ratio max", "note"],
          pair.map((r) => [
            r.spec.shape,
            r.spec.system,
            n(r),
            String(r.pair?.ratios.length ?? r.spec.rounds),
            fmt(r.pair?.chainUsPerStep),
            fmt(r.pair?.floorUsPerStep),
            fmt(r.pair?.floorMinUsPerStep),
            fmt(r.pair?.floorMaxUsPerStep),
            r.pair === undefined ? "-" : `${fmt(r.pair.ratio)}x`,
            r.pair === undefined ? "-" : `${fmt(r.pair.minRatio)}x`,
            r.pair === undefined ? "-" : `${fmt(r.pair.maxRatio)}x`,
            note(r),
          ]),
        ),
    );
  }
  const resume = of("resume");
  if (resume.length > 0) {
    parts.push(
      "Cold resume (10,000-node fan-out, 9,000 middle nodes stored done, 1,000 failed; second runAsync only; LowdbStore)\n" +
        table(
          ["shape", "system", "N", "rounds", "median ms", "min ms", "max ms", "bodies run", "x lowdb full run", "note"],
          resume.map((r) => [
            r.spec.shape,
            r.spec.system,
            n(r),
            String(r.raw?.roundsMs.length ?? r.spec.rounds),
            fmt(r.medianMs),
            fmt(r.minMs),
            fmt(r.maxMs),
            fmt(r.resumedBodies, 0),
            r.ratio === undefined ? "-" : `${fmt(r.ratio)}x`,
            note(r),
          ]),
        ),
    );
  }
  const memory = of("memory");
  if (memory.length > 0) {
    parts.push(
      "Peak memory (maxRSS of a child that builds the graph and runs it once)\n" +
        table(
          ["shape", "system", "N", "peak RSS MB", "RSS before run MB", "run ms", "us/node", "build ms", "note"],
          memory.map((r) => [
            r.spec.shape,
            r.spec.system,
            n(r),
            fmt(r.maxRssMB, 0),
            fmt(r.rssBeforeRunMB, 0),
            fmt(r.medianMs),
            fmt(r.usPerNode),
            fmt(r.buildMs),
            note(r),
          ]),
        ),
    );
  }
  const bytes = of("bytes");
  if (bytes.length > 0) {
    parts.push(
      "Bytes written per node status transition (LowdbStore; /proc/self/io wchar delta / transitions counted by events)\n" +
        table(
          ["shape", "system", "N", "rounds", "bytes written", "transitions", "bytes/transition", "note"],
          bytes.map((r) => [
            r.spec.shape,
            r.spec.system,
            n(r),
            String(r.raw?.roundsMs.length ?? r.spec.rounds),
            fmt(r.wcharBytes, 0),
            fmt(r.transitions, 0),
            fmt(r.bytesPerTransition, 1),
            note(r),
          ]),
        ),
    );
  }
  const stages = of("stages");
  if (stages.length > 0) {
    parts.push(
      "Stage runner (N tasks through two no-op agent stages, one runAsync, a fresh store per round)\n" +
        table(
          ["kind", "system", "N", "rounds", "median ms", "min ms", "max ms", "tasks/s", "note"],
          stages.map((r) => [
            r.spec.kind,
            r.spec.system,
            n(r),
            String(r.raw?.roundsMs.length ?? r.spec.rounds),
            fmt(r.medianMs),
            fmt(r.minMs),
            fmt(r.maxMs),
            fmt(r.tasksPerSecond, 0),
            note(r),
          ]),
        ),
    );
  }
  const sys = of("syscalls");
  if (sys.length > 0) {
    parts.push(
      "System calls per run (strace -f -c; difference of two children with different round counts, divided by the extra rounds)\n" +
        table(
          ["shape", "system", "N", "syscalls/run", "per node", "flushes/run", "flushes/node", "PG WAL flushes/run", "most frequent", "note"],
          sys.map((r) => {
            const c = r.syscalls?.perRun ?? {};
            const nodes = nodeCount(r.spec.shape, r.spec.n);
            const frequent = Object.entries(c)
              .filter(([k]) => k !== "total")
              .sort((x, y) => y[1] - x[1])
              .slice(0, 5)
              .map(([k, v]) => `${k} ${fmt(v, 0)}`)
              .join(", ");
            const flushes = r.syscalls ? flushesOf(c) : undefined;
            return [
              r.spec.shape,
              r.spec.system,
              n(r),
              fmt(c.total, 0),
              fmt(c.total === undefined ? undefined : c.total / nodes, 1),
              fmt(flushes, 1),
              fmt(flushes === undefined ? undefined : flushes / nodes, 2),
              fmt(r.syscalls?.pgWalSyncsPerRun, 1),
              frequent,
              note(r),
            ];
          }),
        ) +
        (pgSettings === undefined ? "" : `\nDBOS flushes in its database server, not in its process: ${pgSettings}`),
    );
  }
  const peerRows = PEER_SIZES.flatMap((size) => (["fanout", "chain"] as const).map((shape) => ({ shape, size })));
  if (time.some((r) => PEERS.includes(r.spec.system))) {
    const cell = (system: SystemName, shape: Shape, size: number): Row | undefined =>
      time.find((r) => r.spec.system === system && r.spec.shape === shape && r.spec.n === size && r.status === "ok");
    const ratio = (peer: SystemName, mine: SystemName, shape: Shape, size: number): string => {
      const p = cell(peer, shape, size)?.medianMs;
      const t = cell(mine, shape, size)?.medianMs;
      return p === undefined || t === undefined ? "-" : `${fmt(p / t)}x`;
    };
    parts.push(
      "Peers (median ms; ratio = peer time / taskloom time, above 1x means taskloom is ahead)\n" +
        table(
          [
            "shape",
            "N",
            "",
            "lowdb ms",
            "fsync ms",
            "langgraph ms",
            "lg-sqlite ms",
            "dbos ms",
            "lg/lowdb",
            "lg-sqlite/lowdb",
            "dbos/lowdb",
            "lg-sqlite/fsync",
            "dbos/fsync",
          ],
          peerRows
            .filter(({ shape, size }) => [...PEERS, "taskloom-lowdb" as const].some((system) => cell(system, shape, size) !== undefined))
            .map(({ shape, size }) => [
              shape,
              size.toLocaleString("en-US"),
              "",
              fmt(cell("taskloom-lowdb", shape, size)?.medianMs),
              fmt(cell("taskloom-lowdb-fsync", shape, size)?.medianMs),
              fmt(cell("langgraph", shape, size)?.medianMs),
              fmt(cell("langgraph-sqlite", shape, size)?.medianMs),
              fmt(cell("dbos", shape, size)?.medianMs),
              ratio("langgraph", "taskloom-lowdb", shape, size),
              ratio("langgraph-sqlite", "taskloom-lowdb", shape, size),
              ratio("dbos", "taskloom-lowdb", shape, size),
              ratio("langgraph-sqlite", "taskloom-lowdb-fsync", shape, size),
              ratio("dbos", "taskloom-lowdb-fsync", shape, size),
            ]),
        ),
    );
  }
  if (importTime !== undefined) parts.push(renderImportTime(importTime));
  if (distributed !== undefined) parts.push(distributed.table);
  parts.push("Targets\n" + ts.map((t) => `${t.verdict.padEnd(4)}  ${t.name}: ${t.detail}`).join("\n"));
  return parts.join("\n\n");
}

function gitInfo(): { commit: string; dirty: boolean } | undefined {
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: ROOT, encoding: "utf8" }).trim() !== "";
    return { commit, dirty };
  } catch {
    return undefined;
  }
}

// ---- main ------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const planned = plan(options);
  const startedAt = new Date();
  const loadAtStart = loadavg();
  // Keep any store that falls back to its default dir out of the work tree.
  const scratch = await mkdtemp(join(tmpdir(), "taskloom-bench-home-"));
  const env = { ...process.env, TASKLOOM_DIR: scratch };
  const rows: Row[] = [];
  const strace = findStrace();
  /** Budgeted systems (peers, fsync) and shapes whose smaller N ran out of budget or failed: why the larger N are skipped. */
  const overBudget = new Map<string, string>();
  /** The medians so far of each budgeted system and shape, to project the next N. */
  const medians = new Map<string, { n: number; ms: number }[]>();
  try {
    for (const [i, p] of planned.entries()) {
      const label = specLabel(p.spec);
      const prefix = `[${i + 1}/${planned.length}] ${label}`;
      const key = `${p.spec.kind} ${p.spec.system} ${p.spec.shape}`;
      const budgeted = p.spec.kind === "time" && BUDGETED.has(p.spec.system);
      let earlier = budgeted ? overBudget.get(key) : undefined;
      const seen = budgeted ? (medians.get(key) ?? []) : [];
      const last = seen.at(-1);
      if (earlier === undefined && last !== undefined) {
        // Scaled by the growth seen between the two smaller N (at least linear): a chain whose cost grows with N squared is not tried.
        const before = seen.at(-2);
        const exponent = before === undefined ? 1 : Math.max(1, Math.log(last.ms / before.ms) / Math.log(last.n / before.n));
        const projectedMs = last.ms * (p.spec.n / last.n) ** exponent;
        if (projectedMs > options.budgetMs) {
          earlier = `projected at ${fmt(projectedMs / 1000)} s per round from N = ${last.n.toLocaleString("en-US")} (${fmt(last.ms)} ms, cost growing as N^${exponent.toFixed(2)}), over the ${options.budgetMs / 1000} s per-round budget; not attempted`;
        }
      }
      if (p.skip !== undefined || earlier !== undefined) {
        const reason = p.skip ?? earlier ?? "";
        rows.push({ label, spec: p.spec, status: "skipped", reason });
        process.stderr.write(`${prefix}: skipped (${reason})\n`);
        continue;
      }
      const t0 = performance.now();
      const row = p.spec.kind === "syscalls" ? await runSyscalls(p.spec, env, strace) : toRow(p.spec, await runChild(p.spec, env));
      rows.push(row);
      if (budgeted && row.status !== "ok") {
        const n = p.spec.n.toLocaleString("en-US");
        overBudget.set(key, row.status === "skipped" ? `N = ${n} already exceeded the ${options.budgetMs / 1000} s per-round budget` : `N = ${n} failed`);
      }
      if (budgeted && row.status === "ok" && row.medianMs !== undefined) medians.set(key, [...seen, { n: p.spec.n, ms: row.medianMs }]);
      const took = ((performance.now() - t0) / 1000).toFixed(1);
      const summary =
        row.status !== "ok"
          ? `${row.status} (${row.reason ?? ""})`
          : row.syscalls
            ? `${fmt(row.syscalls.perRun.total, 0)} syscalls, ${fmt(flushesOf(row.syscalls.perRun), 1)} flushes per run`
            : row.pair
              ? `median ratio ${fmt(row.pair.ratio)}x (chain ${fmt(row.pair.chainUsPerStep)} vs floor ${fmt(row.pair.floorUsPerStep)} us/step)`
              : `median ${fmt(row.medianMs)} ms`;
      process.stderr.write(`${prefix}: ${summary} [${took} s]\n`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }

  const finalRows = withBaselines(rows);
  const ts = targets(finalRows);
  const pgSettings = finalRows.some((r) => r.spec.system === "dbos") ? await pgFlushSettings() : undefined;
  let importTime: ImportTime | undefined;
  const importTarget = `7. import "taskloom" <= ${IMPORT_TIME_LIMIT}x importing p-queue alone (fresh process)`;
  if (options.only === undefined || "import time".includes(options.only)) {
    process.stderr.write("import time: 10 rounds of fresh processes\n");
    importTime = measureImportTime(10);
    const verdict = importTime.processRatio <= IMPORT_TIME_LIMIT ? "PASS" : "MISS";
    const f = (x: number): string => x.toFixed(1);
    ts.push({
      name: importTarget,
      verdict,
      detail: `${importTime.processRatio.toFixed(2)}x (${f(importTime.taskloomProcessMs)} vs ${f(importTime.pqueueProcessMs)} ms; limit ${IMPORT_TIME_LIMIT}x)`,
    });
  } else {
    ts.push({ name: importTarget, verdict: "SKIP", detail: "not run in this invocation" });
  }
  let distributed: DistributedResult | undefined;
  if (options.only === undefined || "bullmq distributed".includes(options.only)) {
    process.stderr.write("bullmq: the distributed executor against raw BullMQ (bench/distributed.mjs)\n");
    distributed = await measureDistributed(options.quick);
    ts.push(...distributed.targets);
  } else {
    ts.push(...distributedTargets(undefined, "not run in this invocation"));
  }
  process.stdout.write(`\n${render(finalRows, ts, importTime, distributed, pgSettings)}\n`);

  const finishedAt = new Date();
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    options,
    machine: {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      totalMemGB: Math.round(totalmem() / 2 ** 30),
      /** 1/5/15-minute load averages: other work on the machine skews the numbers. */
      loadAvgAtStart: loadAtStart,
      loadAvgAtEnd: loadavg(),
    },
    git: gitInfo(),
    concurrency: CONCURRENCY,
    rows: finalRows,
    importTime,
    distributed,
    postgres: pgSettings,
    targets: ts,
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const stamp = startedAt.toISOString().replace(/:/g, "-");
  const file = join(RESULTS_DIR, `${stamp}${options.quick ? "-quick" : ""}.json`);
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(file, json);
  await writeFile(join(RESULTS_DIR, "latest.json"), json);
  const load = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(" ");
  process.stdout.write(
    `\nmachine: ${report.machine.cpuModel} x${report.machine.cpus}, node ${process.version}; ` +
      `load average at start ${load(loadAtStart)}, at end ${load(report.machine.loadAvgAtEnd)}\n` +
      `results: ${relative(ROOT, file)} (and bench/results/latest.json)\n`,
  );
}

// The rounds' folders go to one trash folder, deleted after the last measurement (bench/retire.ts says why). A
// TASKLOOM_BENCH_TRASH given by the caller is used and kept: several partial runs in a row then delete nothing.
const given = process.env[TRASH_ENV];
const trash = given || (await makeTrash());
process.env[TRASH_ENV] = trash;
try {
  await main();
} finally {
  if (!given) await rm(trash, { recursive: true, force: true });
}
