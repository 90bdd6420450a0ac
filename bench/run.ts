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
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { withTrash } from "./retire.js";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { distributedTargets, measureDistributed, type DistributedResult } from "./distributed-run.js";
import { pgFlushSettings } from "./peer-db.js";
import { IMPORT_TIME_LIMIT, measureImportTime, type ImportTime } from "./import-time.js";
import { runChild } from "./child.js";
import { BUDGETED, CONCURRENCY, parseOptions, plan } from "./plan.js";
import { specLabel } from "./protocol.js";
import { fmt, render } from "./report.js";
import { flushesOf, toRow, withBaselines, type Row } from "./rows.js";
import { findStrace, runSyscalls } from "./syscalls.js";
import { targets } from "./targets.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const RESULTS_DIR = join(BENCH_DIR, "results");

function gitInfo(): { commit: string; dirty: boolean } | undefined {
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: ROOT, encoding: "utf8" }).trim() !== "";
    return { commit, dirty };
  } catch {
    return undefined;
  }
}

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
              : `median ${fmt(row.medianMs)} ms${(row.raw?.batch ?? 1) > 1 ? ` per run (rounds of ${row.raw?.batch} runs)` : ""}`;
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

// The rounds' folders go to one trash folder, deleted after the last measurement (bench/retire.ts says why).
await withTrash(main);
