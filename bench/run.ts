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
import { spawn, execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { IMPORT_TIME_LIMIT, measureImportTime, renderImportTime, type ImportTime } from "./import-time.js";
import { PHASE_PREFIX, specLabel, specToArgs, type Kind, type ScenarioResult, type ScenarioSpec, type Shape, type SystemName } from "./protocol.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const RESULTS_DIR = join(BENCH_DIR, "results");
const CONCURRENCY = 8;
const HELP = `usage: npm run bench -- [options]

  --quick          2 rounds, no N = 100,000, LangGraph only up to N = 1,000 (a smoke run)
  --rounds N       counted rounds for every scenario (default 5 for N <= 10,000, 3 for 100,000)
  --budget-s S     LangGraph per-round time budget in seconds (default 120)
  --only TEXT      run only scenarios whose label contains TEXT (e.g. "chain", "langgraph fanout")
  --help           this text
`;

// ---- options ------------------------------------------------------------------

interface Options {
  readonly quick: boolean;
  readonly rounds: number | undefined;
  readonly budgetMs: number;
  readonly only: string | undefined;
}

function parseOptions(argv: readonly string[]): Options {
  let quick = false;
  let rounds: number | undefined;
  let budgetMs = 120_000;
  let only: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: ${arg} needs a value\n\n${HELP}`);
      return v;
    };
    const positive = (v: string): number => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`bench: ${arg} must be a positive number (got ${v})`);
      return n;
    };
    switch (arg) {
      case "--quick":
        quick = true;
        break;
      case "--rounds":
        rounds = Math.round(positive(value()));
        break;
      case "--budget-s":
        budgetMs = positive(value()) * 1000;
        break;
      case "--only":
        only = value();
        break;
      case "--help":
      case "-h":
        process.stdout.write(HELP);
        process.exit(0);
        break;
      default:
        throw new Error(`bench: unknown option ${String(arg)}\n\n${HELP}`);
    }
  }
  return { quick, rounds, budgetMs, only };
}

// ---- the plan -------------------------------------------------------------------

/** A planned scenario: run it, or report it skipped with a reason. */
interface Planned {
  readonly spec: ScenarioSpec;
  readonly skip?: string;
}

const SIZES: Record<Shape, readonly number[]> = { fanout: [1_000, 2_000, 10_000, 100_000], chain: [1_000, 10_000] };
const TIME_SYSTEMS: readonly SystemName[] = ["pqueue", "taskloom-memory", "taskloom-lowdb", "langgraph"];
/** Budget per round for the fast systems: only a guard against hangs. */
const GUARD_BUDGET_MS = 600_000;

function plan(o: Options): Planned[] {
  const rounds = (n: number): number => o.rounds ?? (o.quick ? 2 : n >= 100_000 ? 3 : 5);
  const spec = (kind: Kind, system: SystemName, shape: Shape, n: number, r = rounds(n), warmup = 1): ScenarioSpec => ({
    kind,
    system,
    shape,
    n,
    rounds: r,
    warmup,
    budgetMs: system === "langgraph" ? o.budgetMs : GUARD_BUDGET_MS,
    concurrency: CONCURRENCY,
  });
  const out: Planned[] = [];
  for (const shape of ["fanout", "chain"] as const) {
    for (const n of SIZES[shape]) {
      for (const system of TIME_SYSTEMS) {
        const s = spec("time", system, shape, n);
        if (n >= 100_000 && o.quick) out.push({ spec: s, skip: "--quick skips N = 100,000" });
        else if (system === "langgraph" && n >= 100_000)
          out.push({ spec: s, skip: `N = 100,000 is far beyond the ${o.budgetMs / 1000} s per-round budget; not attempted` });
        else if (system === "langgraph" && o.quick && n > 1_000) out.push({ spec: s, skip: "--quick runs LangGraph only up to N = 1,000" });
        else out.push({ spec: s });
      }
    }
  }
  out.push({ spec: spec("resume", "taskloom-lowdb", "fanout", 10_000) });
  for (const system of ["pqueue", "taskloom-memory", "taskloom-lowdb"] as const) {
    const s = spec("memory", system, "fanout", 100_000, 1, 0);
    out.push(o.quick ? { spec: s, skip: "--quick skips N = 100,000" } : { spec: s });
  }
  for (const shape of ["fanout", "chain"] as const) {
    for (const n of [1_000, 10_000]) out.push({ spec: spec("bytes", "taskloom-lowdb", shape, n, o.quick ? 1 : 3) });
  }
  return o.only === undefined ? out : out.filter((p) => specLabel(p.spec).includes(o.only as string));
}

// ---- children -------------------------------------------------------------------

/** Slack the parent gives a child's phase beyond the budget before killing it (ms). */
const PHASE_GRACE_MS = 15_000;

/**
 * Runs one scenario in a child process and returns its JSON line. Budgets
 * are enforced twice: by the child's own timer (clean report) and here, per
 * phase announced on the child's stderr, by killing the child (for runs
 * that starve the child's timers); plus an overall backstop.
 */
function runChild(spec: ScenarioSpec, env: NodeJS.ProcessEnv): Promise<ScenarioResult> {
  const args = ["--expose-gc", "--max-old-space-size=8192", "--import", "tsx", join(BENCH_DIR, "scenario.ts"), ...specToArgs(spec)];
  const backstopMs = (spec.warmup + spec.rounds + 1) * spec.budgetMs + 60_000;
  const budgetS = Math.round(spec.budgetMs / 1000);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderrTail = "";
    let partialLine = "";
    let killedBecause: string | undefined;
    let phaseTimer: NodeJS.Timeout | undefined;
    const kill = (reason: string): void => {
      killedBecause = reason;
      child.kill("SIGKILL");
    };
    const armPhase = (what: string): void => {
      clearTimeout(phaseTimer);
      phaseTimer = setTimeout(() => kill(`${what} took over the ${budgetS} s budget (the child was stopped)`), spec.budgetMs + PHASE_GRACE_MS);
    };
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      const lines = (partialLine + d).split("\n");
      partialLine = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith(PHASE_PREFIX)) armPhase(line.slice(PHASE_PREFIX.length));
        else stderrTail = `${stderrTail}${line}\n`.slice(-4000);
      }
    });
    const backstop = setTimeout(() => kill(`the child ran past ${Math.round(backstopMs / 1000)} s`), backstopMs);
    child.on("close", (code, signal) => {
      clearTimeout(backstop);
      clearTimeout(phaseTimer);
      const line = stdout
        .trim()
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("{"));
      const empty: ScenarioResult = { spec, roundsMs: [], warmupMs: [], buildMs: 0, maxRssKB: 0, rssBeforeRunKB: 0 };
      if (line !== undefined) {
        try {
          resolve(JSON.parse(line) as ScenarioResult);
          return;
        } catch {
          // fall through: report the child's output as the error
        }
      }
      if (killedBecause !== undefined) resolve({ ...empty, skipped: killedBecause });
      else {
        const tail = stderrTail.trim().split("\n").slice(-5).join(" | ");
        resolve({ ...empty, error: `child exited with ${signal ?? code} and no result: ${tail}` });
      }
    });
  });
}

// ---- statistics -------------------------------------------------------------------

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nodes in a graph of this shape and N (fan-out adds the root and the join). */
function nodeCount(shape: Shape, n: number): number {
  return shape === "fanout" ? n + 2 : n;
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
  readonly verdict: "PASS" | "MISS" | "SKIP";
  readonly detail: string;
}

function targets(rows: readonly Row[]): Target[] {
  /** The row of a scenario, or a stand-in saying it was not run (filtered out with --only). */
  const get = (kind: Kind, system: SystemName, shape: Shape, n: number): Row => {
    const row = rows.find((r) => r.spec.kind === kind && r.spec.system === system && r.spec.shape === shape && r.spec.n === n);
    if (row) return row;
    const spec: ScenarioSpec = { kind, system, shape, n, rounds: 0, warmup: 0, budgetMs: 0, concurrency: CONCURRENCY };
    return { label: specLabel(spec), spec, status: "skipped", reason: "not run in this invocation" };
  };
  const why = (...rs: Row[]): string =>
    rs
      .filter((r) => r.status !== "ok")
      .map((r) => `${r.label}: ${r.status} (${r.reason ?? ""})`)
      .join("; ");
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
  const ms = (r: Row): number | undefined => r.medianMs;
  const perNode = (r: Row): number | undefined => r.usPerNode;
  atMost("MemoryStore <= 5x raw p-queue, 10k fan-out", get("time", "taskloom-memory", "fanout", 10_000), get("time", "pqueue", "fanout", 10_000), 5, ms, "ms");
  atMost("MemoryStore <= 10x raw p-queue, 10k chain", get("time", "taskloom-memory", "chain", 10_000), get("time", "pqueue", "chain", 10_000), 10, ms, "ms");
  atMost(
    "durable <= 3x MemoryStore, 10k fan-out",
    get("time", "taskloom-lowdb", "fanout", 10_000),
    get("time", "taskloom-memory", "fanout", 10_000),
    3,
    ms,
    "ms",
  );
  atMost("durable <= 3x MemoryStore, 10k chain", get("time", "taskloom-lowdb", "chain", 10_000), get("time", "taskloom-memory", "chain", 10_000), 3, ms, "ms");
  // ">= 20x faster than LangGraph" is "taskloom / LangGraph <= 1/20".
  for (const [shape, n] of [
    ["chain", 1_000],
    ["fanout", 2_000],
  ] as const) {
    const t = get("time", "taskloom-memory", shape, n);
    const l = get("time", "langgraph", shape, n);
    const name = `>= 20x faster than LangGraph, ${n.toLocaleString("en-US")}-node ${shape}`;
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
      `bytes/transition at 10k within 1.5x of 1k (${shape})`,
      get("bytes", "taskloom-lowdb", shape, 10_000),
      get("bytes", "taskloom-lowdb", shape, 1_000),
      1.5,
      bpt,
      "B",
    );
  }
  atMost(
    "100k fan-out durable cost per node <= 2x that of 10k",
    get("time", "taskloom-lowdb", "fanout", 100_000),
    get("time", "taskloom-lowdb", "fanout", 10_000),
    2,
    perNode,
    "us/node",
  );
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

function render(rows: readonly Row[], ts: readonly Target[], importTime: ImportTime | undefined): string {
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
            String(r.spec.rounds),
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
            String(r.spec.rounds),
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
          ["shape", "system", "N", "peak RSS MB", "RSS before run MB", "run ms", "build ms", "note"],
          memory.map((r) => [r.spec.shape, r.spec.system, n(r), fmt(r.maxRssMB, 0), fmt(r.rssBeforeRunMB, 0), fmt(r.medianMs), fmt(r.buildMs), note(r)]),
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
            String(r.spec.rounds),
            fmt(r.wcharBytes, 0),
            fmt(r.transitions, 0),
            fmt(r.bytesPerTransition, 1),
            note(r),
          ]),
        ),
    );
  }
  if (importTime !== undefined) parts.push(renderImportTime(importTime));
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
  /** LangGraph shapes whose smaller N already ran out of budget (or failed): why the larger N are skipped. */
  const overBudget = new Map<Shape, string>();
  try {
    for (const [i, p] of planned.entries()) {
      const label = specLabel(p.spec);
      const prefix = `[${i + 1}/${planned.length}] ${label}`;
      const earlier = p.spec.system === "langgraph" ? overBudget.get(p.spec.shape) : undefined;
      if (p.skip !== undefined || earlier !== undefined) {
        const reason = p.skip ?? earlier ?? "";
        rows.push({ label, spec: p.spec, status: "skipped", reason });
        process.stderr.write(`${prefix}: skipped (${reason})\n`);
        continue;
      }
      const t0 = performance.now();
      const result = await runChild(p.spec, env);
      const row = toRow(p.spec, result);
      rows.push(row);
      if (p.spec.system === "langgraph" && row.status !== "ok") {
        const n = p.spec.n.toLocaleString("en-US");
        overBudget.set(
          p.spec.shape,
          row.status === "skipped" ? `N = ${n} already exceeded the ${options.budgetMs / 1000} s per-round budget` : `N = ${n} failed`,
        );
      }
      const took = ((performance.now() - t0) / 1000).toFixed(1);
      const summary = row.status === "ok" ? `median ${fmt(row.medianMs)} ms` : `${row.status} (${row.reason ?? ""})`;
      process.stderr.write(`${prefix}: ${summary} [${took} s]\n`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }

  const finalRows = withBaselines(rows);
  const ts = targets(finalRows);
  let importTime: ImportTime | undefined;
  const importTarget = `import "taskloom" <= ${IMPORT_TIME_LIMIT}x importing p-queue alone (fresh process)`;
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
  process.stdout.write(`\n${render(finalRows, ts, importTime)}\n`);

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

await main();
