/**
 * `npm run bench:import`: what `import "taskloom"` costs, against importing
 * p-queue alone (issue 15 asks for at most 2.5x). Each sample is a fresh
 * `node` process timing one `await import(...)` of the built package
 * (dist/, so run `npm run build` first); the cases are interleaved so that
 * the load of a shared machine falls on them alike, and the median of
 * `--runs N` (default 10) samples is printed.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const at = process.argv.indexOf("--runs");
const RUNS = at > 0 ? Number(process.argv[at + 1]) : 10;
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error("--runs must be a whole number of at least 1");
if (!existsSync(join(ROOT, "dist", "index.js"))) throw new Error("dist/index.js is missing: run `npm run build` first");

const CASES = [
  ["p-queue alone", "p-queue"],
  ['import "taskloom"', "taskloom"],
  ["chrono-node alone", "chrono-node"],
  ["croner alone", "croner"],
  ["commander alone", "commander"],
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

const samples = new Map(CASES.map(([label]) => [label, []]));
for (let i = 0; i < RUNS; i++) {
  for (const [label, spec] of CASES) {
    const code = `const t = performance.now(); await import(${JSON.stringify(spec)}); process.stdout.write(String(performance.now() - t));`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8" });
    if (child.status !== 0) throw new Error(`importing ${spec} failed:\n${child.stderr}`);
    samples.get(label).push(Number(child.stdout));
  }
}

const base = median(samples.get("p-queue alone"));
console.log(`median of ${RUNS} fresh processes (node ${process.version}):`);
for (const [label, xs] of samples) {
  console.log(`  ${label.padEnd(20)} ${median(xs).toFixed(1).padStart(7)} ms   ${(median(xs) / base).toFixed(1).padStart(5)}x p-queue`);
}
