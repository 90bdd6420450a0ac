/**
 * `npm run bench:spread [-- --repeats K] [-- --only TEXT]`
 *
 * How far one reading of a target ratio can be trusted. `npm run bench`
 * runs each row once, in its own child, and divides two medians measured
 * minutes apart; on the machines here three full runs within an hour read
 * the same tree's 100-node chain at 2.08x, 2.34x and 2.79x (issue 16,
 * eleventh pass). This runs the rows of the ratio targets of issue 16
 * (1, 3, 4's fan-out half, 5: `MEDIAN_RATIOS` in `bench/targets.ts`, the
 * same names and limits `npm run bench` judges) K times (default 5), the rows of one ratio
 * next to each other and in alternating order (A B, then B A), each in
 * its own child exactly as the bench runs it (the same `plan`, rounds
 * and warm-ups: `bench/plan.ts`, `bench/child.ts`), and reports for each
 * ratio the median of its K readings, their spread (lowest, highest), and
 * in how many of the K it is within its limit. The paired fsync chain
 * (target 4's chain half) pairs its rounds in one child already; 2, 6, 7
 * and 8 are not ratios of two such rows.
 *
 * Writes `bench/results/spread-<ISO timestamp>.json`.
 *
 * @module
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runChild } from "./child.js";
import { parseOptions as benchDefaults, plan } from "./plan.js";
import { specLabel, type ScenarioSpec } from "./protocol.js";
import { withTrash } from "./retire.js";
import { median } from "./stats.js";
import { MEDIAN_RATIOS, type MedianRatio, type RowKey } from "./targets.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const HELP = `usage: npm run bench:spread -- [options]

  --repeats K      readings of each ratio (default 5)
  --only TEXT      only the ratios whose name contains TEXT (e.g. "3.", "resume")
  --help           this text
`;

interface Options {
  readonly repeats: number;
  readonly only: string | undefined;
}

function parseOptions(argv: readonly string[]): Options {
  let values: { repeats?: string; only?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { repeats: { type: "string" }, only: { type: "string" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (err) {
    throw new Error(`bench:spread: ${(err as Error).message}\n\n${HELP}`, { cause: err });
  }
  if (values.help === true) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const repeats = Number(values.repeats ?? 5);
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`bench:spread: --repeats must be a whole number of 1 or more (got ${values.repeats})`);
  return { repeats, only: values.only };
}

/** The spec `npm run bench` runs for `key` (same rounds, warm-ups and budget). */
function specOf(key: RowKey, planned: readonly ScenarioSpec[]): ScenarioSpec {
  const spec = planned.find((s) => s.kind === key.kind && s.system === key.system && s.shape === key.shape && s.n === key.n);
  if (spec === undefined) throw new Error(`bench:spread: the bench's plan has no row ${key.kind} ${key.system} ${key.shape} ${key.n}`);
  return spec;
}

/** One reading of a ratio: both rows' medians (ms) and their ratio, or why there is none. */
interface Reading {
  readonly topMs?: number;
  readonly bottomMs?: number;
  readonly ratio?: number;
  readonly problem?: string;
}

async function readOnce(ratio: MedianRatio, planned: readonly ScenarioSpec[], env: NodeJS.ProcessEnv, bottomFirst: boolean): Promise<Reading> {
  const specs = [specOf(ratio.top, planned), specOf(ratio.bottom, planned)] as const;
  const medians: (number | undefined)[] = [undefined, undefined];
  const problems: string[] = [];
  for (const which of bottomFirst ? [1, 0] : [0, 1]) {
    const spec = specs[which]!;
    const r = await runChild(spec, env);
    const why = r.error ?? r.skipped ?? (r.roundsMs.length === 0 ? "no counted round" : undefined);
    if (why !== undefined) problems.push(`${specLabel(spec)}: ${why}`);
    else medians[which] = median(r.roundsMs);
  }
  const [topMs, bottomMs] = medians;
  if (topMs === undefined || bottomMs === undefined) return { problem: problems.join("; ") };
  return { topMs, bottomMs, ratio: topMs / bottomMs };
}

/** What the JSON and the table say of one ratio over its K readings. */
interface Summary {
  readonly name: string;
  readonly limit: number;
  readonly readings: readonly Reading[];
  readonly median?: number;
  readonly lowest?: number;
  readonly highest?: number;
  readonly within: number;
}

function summarize(ratio: MedianRatio, readings: readonly Reading[]): Summary {
  const ratios = readings.flatMap((r) => (r.ratio === undefined ? [] : [r.ratio]));
  const base = { name: ratio.name, limit: ratio.limit, readings, within: ratios.filter((x) => x <= ratio.limit).length };
  if (ratios.length === 0) return base;
  return { ...base, median: median(ratios), lowest: Math.min(...ratios), highest: Math.max(...ratios) };
}

function render(summaries: readonly Summary[], repeats: number): string {
  const lines = [`ratio targets, ${repeats} readings each (rows of one ratio run next to each other, order alternating)`, ""];
  for (const s of summaries) {
    if (s.median === undefined) {
      lines.push(`SKIP  ${s.name}: ${s.readings.map((r) => r.problem).join(" | ")}`);
      continue;
    }
    const verdict = s.median <= s.limit ? "PASS" : "MISS";
    const each = s.readings.map((r) => (r.ratio === undefined ? "-" : r.ratio.toFixed(2))).join(" ");
    lines.push(
      `${verdict}  ${s.name}: median ${s.median.toFixed(2)}x, spread ${s.lowest!.toFixed(2)}x to ${s.highest!.toFixed(2)}x, ` +
        `within the limit in ${s.within} of ${s.readings.length} (readings: ${each})`,
    );
  }
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const chosen = MEDIAN_RATIOS.filter((r) => options.only === undefined || r.name.includes(options.only));
  if (chosen.length === 0) throw new Error(`bench:spread: no ratio target's name contains "${options.only}"`);
  // The full run's plan with its default options: each row as `npm run bench` runs it.
  const planned = plan(benchDefaults([])).map((p) => p.spec);
  const startedAt = new Date();
  const loadAtStart = loadavg();
  const scratch = await mkdtemp(join(tmpdir(), "taskloom-bench-home-"));
  const env = { ...process.env, TASKLOOM_DIR: scratch };
  const readings = new Map<string, Reading[]>(chosen.map((r) => [r.name, []]));
  try {
    for (let k = 0; k < options.repeats; k++) {
      for (const ratio of chosen) {
        const reading = await readOnce(ratio, planned, env, k % 2 === 1);
        readings.get(ratio.name)!.push(reading);
        const said = reading.ratio === undefined ? `no reading (${reading.problem})` : `${reading.ratio.toFixed(2)}x`;
        process.stderr.write(`[${k + 1}/${options.repeats}] ${ratio.name}: ${said}\n`);
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const summaries = chosen.map((r) => summarize(r, readings.get(r.name)!));
  process.stdout.write(render(summaries, options.repeats));
  const results = join(BENCH_DIR, "results");
  await mkdir(results, { recursive: true });
  const file = join(results, `spread-${startedAt.toISOString().replace(/:/g, "-")}.json`);
  const machine = { cpuModel: cpus()[0]?.model.trim(), cpus: cpus().length, node: process.version, loadAvgAtStart: loadAtStart, loadAvgAtEnd: loadavg() };
  await writeFile(file, `${JSON.stringify({ startedAt, finishedAt: new Date(), repeats: options.repeats, machine, summaries }, null, 2)}\n`);
  process.stdout.write(`\nload average at start ${loadAtStart.map((x) => x.toFixed(2)).join(" ")}; results: ${relative(ROOT, file)}\n`);
}

// The rounds' folders go to one trash folder, deleted after the last measurement (bench/retire.ts says why).
await withTrash(main);
