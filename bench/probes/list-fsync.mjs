/**
 * `list` of a store whose run files were written with `fsync` (grown ahead
 * of their lines with zero bytes): `runs` finished `nodes`-node fan-outs,
 * each in its own run file, then `rounds` calls of `list()` on one store
 * object; the median. With the snapshot policy `group` (the default) a run
 * file ends in its records (`list` reads them back to the summary line);
 * with `end`, in the run's last snapshot, its summary line and the release
 * (`list` reads a few hundred bytes from the end, but must look at every
 * byte before the first zero: `journal-reading.ts`). The same files cut at
 * their first zero byte (as a store without `fsync` leaves them: nothing
 * to look for before reading from the end) are listed beside them, as the
 * floor.
 *
 *   npm run build && node bench/probes/list-fsync.mjs [runs=200] [nodes=1000] [rounds=15] [group|end]
 *
 * With `200 10000 21 end` (310 KiB files): about 15 ms when the scan for
 * the first zero made a buffer per file, as big as the file; about 9 ms
 * through one kept 64 KiB buffer; 3.5 ms for the cut files.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const lib = await import(new URL("../../dist/index.js", import.meta.url).href);
const runs = Number(process.argv[2] ?? 200);
const nodes = Number(process.argv[3] ?? 1000);
const rounds = Number(process.argv[4] ?? 15);
const snapshot = process.argv[5] ?? "group";
const root = mkdtempSync(join(tmpdir(), "taskloom-list-fsync-"));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** The median time of `rounds` listings of `dir` by one store object, and how many runs it lists. */
async function timeList(dir) {
  const store = new lib.LowdbStore({ dir, fsync: true });
  try {
    let listed = 0;
    const times = [];
    for (let r = 0; r < rounds; r++) {
      const t = performance.now();
      listed = (await store.list()).length;
      times.push(performance.now() - t);
    }
    return { ms: median(times), listed };
  } finally {
    await store.close();
  }
}

try {
  let b = lib.graph("fan").node("root", async () => 0);
  for (let i = 0; i < nodes; i++) b = b.node(`n${i}`, async () => i, { after: ["root"] });
  const g = b.build();
  const synced = join(root, "fsync");
  const store = new lib.LowdbStore({ dir: synced, fsync: true });
  for (let i = 0; i < runs; i++) await lib.runAsync(g, undefined, { store, runId: `r${i}`, snapshot });
  await store.close();
  const cut = join(root, "cut");
  mkdirSync(cut);
  let bytes = 0;
  for (const name of readdirSync(synced)) {
    if (!name.endsWith(".run")) continue;
    const content = readFileSync(join(synced, name));
    bytes += statSync(join(synced, name)).size;
    const zero = content.indexOf(0);
    if (zero === -1) copyFileSync(join(synced, name), join(cut, name));
    else writeFileSync(join(cut, name), content.subarray(0, zero), { mode: 0o600 });
  }
  const withZeros = await timeList(synced);
  const floor = await timeList(cut);
  console.log(
    `${runs} runs of ${nodes.toLocaleString("en-US")}-node fan-outs, snapshot ${snapshot} (${(bytes / runs / 1024).toFixed(1)} KiB a run file): ` +
      `list median of ${rounds}: ${withZeros.ms.toFixed(2)} ms (${withZeros.listed} listed); ` +
      `the same files cut at their first zero: ${floor.ms.toFixed(2)} ms (${floor.listed} listed)`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
