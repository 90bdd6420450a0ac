/**
 * `npm run bench:import [-- --rounds N]` (also part of `npm run bench`)
 *
 * What `import "taskloom"` costs, against importing p-queue alone. Each
 * round starts two fresh `node` processes, in alternating order, one that
 * imports the built package (`dist/index.js`, built first when missing or
 * older than `src/`) and one that imports `p-queue`, and records two
 * figures for each:
 *
 * - process ms: the wall time of the whole process, spawn to exit, as the
 *   parent sees it (node's own start-up included, as a user feels it);
 * - import ms: `performance.now()` around the `await import(...)` inside it.
 *
 * The reported figures are medians over the rounds (10 by default), and the
 * ratios are taskloom / p-queue. The target (`import "taskloom"` at most
 * 2.5x p-queue) is checked on process ms.
 *
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { median } from "./stats.js";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
/** The target: `import "taskloom"` at most this many times importing p-queue alone (process ms). */
export const IMPORT_TIME_LIMIT = 2.5;

/** One fresh process's figures. */
interface Sample {
  readonly processMs: number;
  readonly importMs: number;
}

/** Medians over the rounds (ms), their ratios taskloom / p-queue, and every round's figures. */
export interface ImportTime {
  readonly rounds: number;
  readonly taskloomProcessMs: number;
  readonly pqueueProcessMs: number;
  readonly taskloomImportMs: number;
  readonly pqueueImportMs: number;
  readonly processRatio: number;
  readonly importRatio: number;
  readonly limit: number;
  readonly raw: { readonly taskloom: Sample[]; readonly pqueue: Sample[] };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds `dist/` unless it exists and is newer than every file of `src/`. */
export function ensureBuilt(): void {
  const entry = join(ROOT, "dist", "index.js");
  if (existsSync(entry) && statSync(entry).mtimeMs >= newestMtime(join(ROOT, "src"))) return;
  process.stderr.write("import time: building dist/ first (npm run build)\n");
  execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { cwd: ROOT, stdio: "inherit" });
}

function once(specifier: string): Sample {
  const code = `const t = performance.now(); await import(${JSON.stringify(specifier)}); process.stdout.write(String(performance.now() - t));`;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8" });
  const processMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`import time: importing ${specifier} failed: ${r.stderr}`);
  return { processMs, importMs: Number(r.stdout) };
}

/**
 * Measures both imports `rounds` times and returns the medians and ratios
 * (raw per-round figures included).
 */
export function measureImportTime(rounds = 10): ImportTime {
  ensureBuilt();
  const taskloom = pathToFileURL(join(ROOT, "dist", "index.js")).href;
  const raw = { taskloom: [] as Sample[], pqueue: [] as Sample[] };
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? (["taskloom", "pqueue"] as const) : (["pqueue", "taskloom"] as const);
    for (const which of order) raw[which].push(once(which === "taskloom" ? taskloom : "p-queue"));
  }
  const med = (which: keyof typeof raw, key: keyof Sample): number => median(raw[which].map((r) => r[key]));
  const result = {
    rounds,
    taskloomProcessMs: med("taskloom", "processMs"),
    pqueueProcessMs: med("pqueue", "processMs"),
    taskloomImportMs: med("taskloom", "importMs"),
    pqueueImportMs: med("pqueue", "importMs"),
    raw,
  };
  return {
    ...result,
    processRatio: result.taskloomProcessMs / result.pqueueProcessMs,
    importRatio: result.taskloomImportMs / result.pqueueImportMs,
    limit: IMPORT_TIME_LIMIT,
  };
}

/** The lines `npm run bench` prints for a measurement. */
export function renderImportTime(m: ImportTime): string {
  const f = (x: number): string => x.toFixed(1);
  return [
    `Import time (fresh node process per import, median of ${m.rounds}; dist/index.js vs p-queue alone)`,
    `  whole process: taskloom ${f(m.taskloomProcessMs)} ms, p-queue ${f(m.pqueueProcessMs)} ms, ${m.processRatio.toFixed(2)}x`,
    `  import only:   taskloom ${f(m.taskloomImportMs)} ms, p-queue ${f(m.pqueueImportMs)} ms, ${m.importRatio.toFixed(2)}x`,
  ].join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf("--rounds");
  const rounds = i >= 0 ? Number(process.argv[i + 1]) : 10;
  const m = measureImportTime(Number.isInteger(rounds) && rounds > 0 ? rounds : 10);
  const verdict = m.processRatio <= m.limit ? "PASS" : "MISS";
  process.stdout.write(`${renderImportTime(m)}\n${verdict}  import "taskloom" <= ${m.limit}x p-queue: ${m.processRatio.toFixed(2)}x\n`);
}
