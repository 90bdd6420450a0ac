/**
 * Flush share probe (issue 16, target 4's fan-out half): how much of a
 * `LowdbStore({ fsync: true })` run over the same run without fsync is its
 * flush calls. Every `fdatasync`/`fsync` (sync and async) of `node:fs` is
 * replaced by: the real call (`real`); a busy wait of `--spin` µs
 * (`busy`: the thread never leaves the CPU); nothing (`noop`). Each round
 * runs the graph on a fresh store with fsync, then on a fresh store
 * without; prints the medians of the last rounds, their ratio, the flush
 * calls a run and the time spent in the synchronous ones.
 *
 * `TASKLOOM_BENCH_TRASH=/some/dir node --expose-gc --import tsx bench/probes/flush-share.ts [real|busy|noop] [--spin 450] [--n 1000] [--rounds 25]`
 *
 * @module
 */
import fs from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { median } from "../stats.js";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { spin: { type: "string", default: "450" }, n: { type: "string", default: "1000" }, rounds: { type: "string", default: "25" } },
});
const mode = positionals[0] ?? "real";
if (mode !== "real" && mode !== "busy" && mode !== "noop") throw new Error(`flush-share: the mode is real, busy or noop (got ${mode})`);
const spinMs = Number(values.spin) / 1000;
const n = Number(values.n);
const rounds = Number(values.rounds);

const real = { fdatasyncSync: fs.fdatasyncSync, fsyncSync: fs.fsyncSync, fdatasync: fs.fdatasync, fsync: fs.fsync };
let calls = 0;
let syncMs = 0;
const spin = (): void => {
  const t = performance.now();
  while (performance.now() - t < spinMs);
};
const replaceSync =
  (f: (fd: number) => void) =>
  (fd: number): void => {
    calls += 1;
    const t = performance.now();
    if (mode === "real") f(fd);
    else if (mode === "busy") spin();
    syncMs += performance.now() - t;
  };
const replaceAsync =
  (f: (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => void) =>
  (fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void => {
    calls += 1;
    if (mode === "real") f(fd, cb);
    else if (mode === "busy") setTimeout(() => cb(null), spinMs);
    else process.nextTick(cb, null);
  };
Object.assign(fs, {
  fdatasyncSync: replaceSync(real.fdatasyncSync),
  fsyncSync: replaceSync(real.fsyncSync),
  fdatasync: replaceAsync(real.fdatasync),
  fsync: replaceAsync(real.fsync),
});
syncBuiltinESMExports();

// Imported after the replacement, so that the store's named imports of node:fs see it.
const { LowdbStore, runAsync } = (await import("../taskloom-lib.js")).taskloom;
const { buildGraph } = await import("../systems/taskloom.js");
const { retire } = await import("../retire.js");
const g = buildGraph("fanout", n);

async function once(i: number, fsync: boolean): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "taskloom-flush-share-"));
  const store = new LowdbStore({ dir, fsync });
  const t0 = performance.now();
  await runAsync(g, undefined, { store, runId: `r${i}`, maxConcurrency: 8 });
  await store.close();
  const ms = performance.now() - t0;
  await retire(dir);
  return ms;
}

const withFsync: number[] = [];
const without: number[] = [];
const counted = Math.floor(rounds * 0.6);
let countedCalls = 0;
let countedSyncMs = 0;
for (let i = 0; i < rounds; i++) {
  calls = 0;
  syncMs = 0;
  withFsync.push(await once(i, true));
  if (i >= rounds - counted) {
    countedCalls += calls;
    countedSyncMs += syncMs;
  }
  without.push(await once(i, false));
}
const a = median(withFsync.slice(-counted));
const b = median(without.slice(-counted));
process.stdout.write(
  `${mode}: ${n}-node fan-out, fsync ${a.toFixed(2)} ms, no fsync ${b.toFixed(2)} ms, ratio ${(a / b).toFixed(2)}x; ` +
    `flush calls a run ${(countedCalls / counted).toFixed(1)}, in synchronous flushes ${(countedSyncMs / counted).toFixed(2)} ms a run (last ${counted} of ${rounds} rounds)\n`,
);
