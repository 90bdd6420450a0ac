/**
 * A 10,000-node fan-out's journal append, its text made two ways, in one
 * process (issue 16, tenth pass): `plain` (one line per record,
 * `journalText` alone, as before batch lines) and `batch` (`batchNodes`
 * first: one batch line of columns, `journal-batch.ts`). Each writes to a
 * file under `$TMPDIR`, on fresh records after a forced `gc()`; prints the
 * median CPU time (user + system) and the text's bytes. Loads `<tree>/dist`.
 * Run with `--single-threaded`, or the GC's helper threads' time is counted.
 *
 *   npm run build
 *   TMPDIR=/dev/shm node --single-threaded --expose-gc bench/probes/append-batch.mjs <tree> [iterations] [plain|batch]
 *
 * Tenth pass, loaded machine: plain 8.5-8.9 ms, 1,725,568 bytes; batch
 * 3.3-3.4 ms, 187,991 bytes (three alternating runs of 40 each).
 *
 * @module
 */
import { mkdtempSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
const [root, iterations = "30", mode = "batch"] = process.argv.slice(2);
const { journalText } = await import(resolve(root, "dist/persistence/journal-file.js"));
let batchNodes = (r) => r;
if (mode === "batch") ({ batchNodes } = await import(resolve(root, "dist/persistence/journal-batch.js")));
const t0 = Date.now();
const records = () =>
  Array.from({ length: 10_000 }, (_, i) => {
    const t = t0 + (i >> 6);
    return { kind: "node", seq: i + 2, node: { id: `n${i}`, nodeId: `n${i}`, status: "succeeded", attempts: 1, output: i, endedAt: t, startedAt: t - 1 } };
  });
const fd = openSync(join(mkdtempSync(join(tmpdir(), "ab-append-")), "journal.ndjson"), "a");
const times = [];
let bytes = 0;
for (let k = 0; k < Number(iterations); k++) {
  const rs = records();
  globalThis.gc?.();
  const c0 = process.cpuUsage();
  const text = journalText(batchNodes(rs));
  bytes = Buffer.byteLength(text);
  writeSync(fd, text);
  const c = process.cpuUsage(c0);
  times.push((c.user + c.system) / 1000);
}
if (process.env.EACH) console.log(times.map((t) => t.toFixed(1)).join(" "));
times.sort((a, b) => a - b);
console.log(mode, "median ms", times[times.length >> 1].toFixed(2), "bytes", bytes);
