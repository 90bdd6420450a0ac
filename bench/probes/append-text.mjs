/**
 * A 10,000-node fan-out's journal append, its text made five ways, in one
 * process (issue 16, target 3): `added` (every line added to one text,
 * before the ninth pass), `parts` (lines joined 1,024 at a time, the
 * parts added: `journalText` since), `buffer` (each line written into
 * 256 KiB buffers, one `writev`), `lines` (the lines alone, no text and
 * no write), `batch` (`journalText` of `batchNodes`' records: one batch
 * line of columns, `journal-batch.ts`, the tenth pass's way). Each is written to a file under `$TMPDIR`; the variants
 * take turns, each on fresh records after a forced `gc()`, and the median
 * CPU time (user + system) of each is printed. Loads `<tree>/src`
 * through tsx (`dist/` is a bundle, without this module's own file).
 *
 *   TMPDIR=/dev/shm node --expose-gc --import tsx bench/probes/append-text.mjs <tree> [iterations]
 *
 * For instructions, run it under callgrind with one variant and two
 * iteration counts (the difference over their difference is one append):
 *
 *   TMPDIR=/dev/shm valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --expose-gc --import tsx bench/probes/append-text.mjs <tree> 12 parts 2>&1 | grep Collected
 *
 * Ninth pass, under load: CPU medians added 10.8-14.5 ms, parts
 * 11.8-16.9, buffer 10.0-13.2, lines 4.8-5.9 (the text and write are about
 * half an append's CPU); callgrind per append added 78-142 M (run to
 * run), parts 66 M, buffer 71 M, lines 30 M. At the row level (`row-instr.mjs`,
 * a 10k fan-out round on LowdbStore) parts gave 583 and 547 M against
 * added's 688 and 519 M in two sittings, and a 1M fan-out's peak RSS
 * rose about 80 MB, so `journalText` still adds its lines.
 *
 * Tenth pass, loaded machine, `--single-threaded` (or the GC's helper
 * threads' time is counted), `batch` against `added` alone: batch 3.3-3.4
 * ms for 187,991 bytes, added 8.5-8.9 ms for 1,725,568 bytes (three
 * alternating runs of 40 each).
 *
 * @module
 */
import { closeSync, mkdtempSync, openSync, writeSync, writevSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [root = ".", iterations = "40", only] = process.argv.slice(2);
const { journalLine } = await import(resolve(root, "src/persistence/journal-line.ts"));
const { journalText } = await import(resolve(root, "src/persistence/journal-file.ts"));
const { batchNodes } = await import(resolve(root, "src/persistence/journal-batch.ts"));
const t0 = Date.now();
/** A fan-out's records as its append holds them: succeeded, an output, two times (64 nodes share a millisecond). */
const records = () =>
  Array.from({ length: 10_000 }, (_, i) => {
    const t = t0 + (i >> 6);
    return { kind: "node", seq: i + 2, node: { id: `n${i}`, nodeId: `n${i}`, status: "succeeded", attempts: 1, output: i, endedAt: t, startedAt: t - 1 } };
  });
const fd = openSync(join(mkdtempSync(join(tmpdir(), "append-text-")), "journal.ndjson"), "a");

function added(rs) {
  let text = "";
  for (const r of rs) text += journalLine(r);
  Buffer.byteLength(text);
  writeSync(fd, text);
}
function parts(rs) {
  let text = "";
  for (let start = 0; start < rs.length; start += 1024) {
    const part = [];
    for (let i = start; i < Math.min(rs.length, start + 1024); i++) part.push(journalLine(rs[i]));
    text += part.join("");
  }
  Buffer.byteLength(text);
  writeSync(fd, text);
}
const CHUNK = 256 * 1024;
function buffer(rs) {
  const chunks = [];
  let chunk = Buffer.allocUnsafe(CHUNK);
  let at = 0;
  for (const r of rs) {
    const line = journalLine(r);
    if (CHUNK - at < line.length * 3) {
      chunks.push(chunk.subarray(0, at));
      chunk = Buffer.allocUnsafe(Math.max(CHUNK, line.length * 3));
      at = 0;
    }
    at += chunk.utf8Write(line, at);
  }
  chunks.push(chunk.subarray(0, at));
  writevSync(fd, chunks);
}
function lines(rs) {
  for (const r of rs) journalLine(r);
}
function batch(rs) {
  const text = journalText(batchNodes(rs));
  Buffer.byteLength(text);
  writeSync(fd, text);
}

const all = { added, parts, buffer, lines, batch };
const variants = only ? { [only]: all[only] } : all;
const names = Object.keys(variants);
const cpu = Object.fromEntries(names.map((n) => [n, []]));
for (let i = 0; i < Number(iterations); i++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(i + k) % names.length];
    const rs = records();
    globalThis.gc?.();
    const c = process.cpuUsage();
    variants[name](rs);
    const u = process.cpuUsage(c);
    cpu[name].push((u.user + u.system) / 1000);
  }
}
closeSync(fd);
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
console.log(names.map((n) => `${n} ${median(cpu[n]).toFixed(2)} ms`).join(", "), "(CPU medians per append)");
