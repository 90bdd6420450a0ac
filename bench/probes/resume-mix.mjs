/**
 * Does running full runs between cold resumes, in one process, change the
 * resumes' time (issue 16, target 5's paired rounds)? `only`: resumes of
 * the bench's stored 10,000-node fan-out (9,000 middle nodes done, 1,000
 * failed), each after its untimed first run; `mixed`: the same, each
 * resume preceded by a full durable run of the same fan-out with no
 * failure. Prints the medians. Loads `<tree>/dist` (run `npm run build`).
 *
 *   node --expose-gc bench/probes/resume-mix.mjs <only|mixed> [rounds=20] [tree=.]
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [mode = "only", roundsArg = "20", root = "."] = process.argv.slice(2);
if (mode !== "only" && mode !== "mixed") throw new Error(`resume-mix: the mode is only or mixed, not ${mode}`);
const rounds = Number(roundsArg);
if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error("resume-mix: rounds is a positive integer");
const gc = globalThis.gc;
if (gc === undefined) throw new Error("resume-mix: run node with --expose-gc");
const lib = await import(pathToFileURL(resolve(root, "dist/index.js")).href);
const N = 10_000;
let failing = true;

/** The bench's fan-out: root, N middle nodes, join. */
function fanout(body) {
  const ids = Array.from({ length: N }, (_, i) => `n${i}`);
  let b = lib.graph("fanout").node("root", async () => 0);
  for (let i = 0; i < N; i++) b = b.node(ids[i], body(i), { after: ["root"] });
  return b
    .node("join", async () => 0, { after: ids })
    .output(() => null)
    .build();
}
const resumable = fanout((i) => async () => {
  if (failing && i % 10 === 0) throw new lib.NonRetryableError(`planned failure of n${i}`);
  return i;
});
const full = fanout((i) => async () => i);

async function firstRun(dir) {
  failing = true;
  const store = new lib.LowdbStore({ dir });
  await lib.runAsync(resumable, undefined, { store, runId: "r", maxConcurrency: 8, continueOnError: true, retry: { maxAttempts: 1 } }).catch(() => undefined);
  await store.close();
}
async function resume(dir) {
  failing = false;
  const t = performance.now();
  const store = new lib.LowdbStore({ dir });
  await lib.runAsync(resumable, undefined, { store, runId: "r", maxConcurrency: 8, retry: { maxAttempts: 1 } });
  await store.close();
  return performance.now() - t;
}
async function fullRun() {
  const dir = mkdtempSync(join(tmpdir(), "resume-mix-full-"));
  const t = performance.now();
  const store = new lib.LowdbStore({ dir });
  await lib.runAsync(full, undefined, { store, runId: "f", maxConcurrency: 8 });
  await store.close();
  const ms = performance.now() - t;
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

const resumes = [];
const fulls = [];
// Two warm-up rounds, not counted.
for (let r = -2; r < rounds; r++) {
  if (mode === "mixed") {
    gc();
    const ms = await fullRun();
    if (r >= 0) fulls.push(ms);
  }
  const dir = mkdtempSync(join(tmpdir(), "resume-mix-"));
  await firstRun(dir);
  gc();
  const ms = await resume(dir);
  rmSync(dir, { recursive: true, force: true });
  if (r >= 0) resumes.push(ms);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `${mode}: resume median ${median(resumes).toFixed(1)} ms${fulls.length > 0 ? `, full run median ${median(fulls).toFixed(1)} ms` : ""} (${rounds} rounds)`,
);
