/**
 * The floor of target 1 (issue 16) for three on-disk layouts of a run, twenty-third pass: the bare file calls
 * of a durable 1-node run without fsync, no taskloom code, against MemoryStore's and LowdbStore's real 1-node
 * runs measured in the same process. Batches of 64 runs back to back, the five kinds in turn, each batch in a
 * fresh folder moved to a trash folder after (a removal slows later file creations on ext4, bench/README.md).
 *
 *   npm run build && node --expose-gc bench/probes/run-file-floor.mjs [batches=20]
 *
 * - `folder`: the calls LowdbStore makes now (a folder per run: lease, journal, snapshot, summary; the same
 *   sequence as `spare-folders.mjs`' A);
 * - `file`: one append-only file per run, made with O_EXCL (the claim of the run id), one write at the start
 *   (start record and lease) and one at the end (the node's record, the end and the lease given back), closed;
 * - `log`: a store-wide log opened once, the same two writes, no file made per run (what a run costs when
 *   nothing per run reaches the directory; who may start which run would have to be decided in the log);
 * - `memory` / `lowdb`: `runAsync` of a 1-node graph on MemoryStore / LowdbStore (a store per batch).
 *
 * Prints the median µs per run of each kind, and (memory + floor) / memory for each layout: the ratio
 * target 1 would read if the layout's calls were the only cost a durable run added.
 */
import * as fs from "node:fs";
import { mkdtempSync, renameSync } from "node:fs";
import { join } from "node:path";

const lib = await import(new URL("../../dist/index.js", import.meta.url).href);
const C = fs.constants;
const X = C.O_CREAT | C.O_EXCL | C.O_WRONLY | C.O_NOFOLLOW;
const trash = mkdtempSync("/tmp/floor-trash-");
const snap = "x".repeat(600);
const lease = "l".repeat(200);
const summ = "s".repeat(180);
const rec = "r".repeat(150);
const start = "b".repeat(800); // the start record with the lease: meta, inputs, lease
const end = "e".repeat(400); // the node's record, the run's end, the lease given back

function folder(runs, id) {
  const d = join(runs, id);
  fs.mkdirSync(d, { mode: 0o700 });
  const lf = fs.openSync(join(d, "lease.json"), X, 0o600);
  fs.writeSync(lf, lease);
  fs.fstatSync(lf);
  fs.lstatSync(join(d, "lease.lock"), { throwIfNoEntry: false });
  fs.lstatSync(join(d, "lease.json"));
  fs.lstatSync(join(d, "snapshot.json"), { throwIfNoEntry: false });
  const jf = fs.openSync(join(d, "journal.ndjson"), C.O_CREAT | C.O_EXCL | C.O_RDWR | C.O_APPEND | C.O_NOFOLLOW, 0o600);
  const t = join(d, `snapshot.json.${process.pid}.tmp`);
  const sf = fs.openSync(t, X, 0o600);
  fs.writeSync(sf, snap);
  fs.closeSync(sf);
  renameSync(t, join(d, "snapshot.json"));
  const mf = fs.openSync(join(d, "summary.json"), X, 0o600);
  fs.writeSync(mf, summ);
  fs.writeSync(jf, rec);
  fs.writeSync(mf, summ, 0);
  fs.closeSync(mf);
  fs.closeSync(jf);
  fs.lstatSync(d);
  fs.linkSync(join(d, "lease.json"), join(d, "lease.lock"));
  fs.lstatSync(join(d, "lease.json"));
  fs.writeSync(lf, lease, 0);
  fs.unlinkSync(join(d, "lease.lock"));
  fs.closeSync(lf);
}

function file(runs, id) {
  const fd = fs.openSync(join(runs, `${id}.run`), C.O_CREAT | C.O_EXCL | C.O_WRONLY | C.O_APPEND | C.O_NOFOLLOW, 0o600);
  fs.writeSync(fd, start);
  fs.writeSync(fd, end);
  fs.closeSync(fd);
}

function log(fd) {
  fs.writeSync(fd, start);
  fs.writeSync(fd, end);
}

const g = lib
  .graph("one")
  .node("a", async () => 1)
  .build();

async function batch(kind, n) {
  const root = mkdtempSync("/tmp/floor-probe-");
  const runs = join(root, "runs");
  fs.mkdirSync(runs);
  const store = kind === "memory" ? new lib.MemoryStore() : kind === "lowdb" ? new lib.LowdbStore({ dir: root }) : undefined;
  const fd = kind === "log" ? fs.openSync(join(root, "store.log"), C.O_CREAT | C.O_WRONLY | C.O_APPEND, 0o600) : -1;
  const id = `${kind}${Math.random().toString(36).slice(2, 8)}`;
  globalThis.gc?.();
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    if (kind === "folder") folder(runs, `${id}-${i}`);
    else if (kind === "file") file(runs, `${id}-${i}`);
    else if (kind === "log") log(fd);
    else await lib.runAsync(g, undefined, { store, runId: `${id}-${i}`, maxConcurrency: 8 });
  }
  const us = ((performance.now() - t) * 1000) / n;
  if (fd >= 0) fs.closeSync(fd);
  await store?.close();
  renameSync(root, join(trash, root.split("/").pop()));
  return us;
}

const kinds = ["memory", "lowdb", "folder", "file", "log"];
const batches = Number(process.argv[2] ?? 20);
const got = Object.fromEntries(kinds.map((k) => [k, []]));
for (const k of kinds) await batch(k, 64); // warm-up
for (let b = 0; b < batches; b++) for (const k of kinds) got[k].push(await batch(k, 64));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const m = Object.fromEntries(kinds.map((k) => [k, median(got[k])]));
for (const k of kinds) console.log(`${k.padEnd(7)} ${m[k].toFixed(1).padStart(7)} µs per run`);
console.log(`lowdb / memory (what target 1 reads): ${(m.lowdb / m.memory).toFixed(2)}x`);
for (const k of ["folder", "file", "log"]) console.log(`(memory + ${k}) / memory: ${((m.memory + m[k]) / m.memory).toFixed(2)}x`);
console.log(`trash: ${trash}`);
