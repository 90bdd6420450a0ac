/**
 * Upper bound of making run folders ahead (issue 16, twenty-second pass): the bare file calls of a new
 * durable run without fsync, (A) as LowdbStore makes them now, (B) renaming in a folder made ahead through
 * libuv's thread pool with its journal, summary and snapshot temp file already open. No taskloom code runs.
 * Batches of 64 runs back to back, A and B alternating, each batch in a fresh folder moved to a trash folder after.
 *
 *   node bench/probes/spare-folders.mjs [batches=20]
 */
import * as fs from "node:fs";
import { mkdtempSync, renameSync } from "node:fs";
import { join } from "node:path";
const C = fs.constants;
const X = C.O_CREAT | C.O_EXCL | C.O_WRONLY | C.O_NOFOLLOW;
const trash = mkdtempSync("/tmp/spare-trash-");
const snap = "x".repeat(600),
  lease = "l".repeat(200),
  summ = "s".repeat(180),
  rec = "r".repeat(150);
function runA(runs, id) {
  const d = join(runs, id);
  fs.mkdirSync(d, { mode: 0o700 });
  const lf = fs.openSync(join(d, "lease.json"), X, 0o600);
  fs.writeSync(lf, lease);
  fs.fstatSync(lf);
  const jf = fs.openSync(join(d, "journal.ndjson"), C.O_CREAT | C.O_EXCL | C.O_RDWR | C.O_NOFOLLOW, 0o600);
  const t = join(d, `snapshot.json.${process.pid}.tmp`);
  const sf = fs.openSync(t, X, 0o600);
  fs.writeSync(sf, snap);
  fs.closeSync(sf);
  renameSync(t, join(d, "snapshot.json"));
  const mf = fs.openSync(join(d, "summary.json"), X, 0o600);
  fs.writeSync(mf, summ);
  fs.writeSync(jf, rec);
  fs.writeSync(jf, rec);
  fs.writeSync(mf, summ, 0);
  fs.lstatSync(join(d, "lease.json"));
  fs.linkSync(join(d, "lease.json"), join(d, "lease.lock"));
  fs.writeSync(lf, "{}", 0);
  fs.unlinkSync(join(d, "lease.lock"));
  fs.closeSync(jf);
  fs.closeSync(mf);
  fs.closeSync(lf);
}
let spareN = 0;
async function makeSpare(spares) {
  const d = join(spares, `s${spareN++}`);
  await fs.promises.mkdir(d, { mode: 0o700 });
  const [jf, mf, sf] = await Promise.all([
    fs.promises.open(join(d, "journal.ndjson"), C.O_CREAT | C.O_EXCL | C.O_RDWR | C.O_NOFOLLOW, 0o600),
    fs.promises.open(join(d, "summary.json"), X, 0o600),
    fs.promises.open(join(d, `snapshot.json.${process.pid}.tmp`), X, 0o600),
  ]);
  return { d, jf: jf.fd, mf: mf.fd, sf: sf.fd, handles: [jf, mf, sf] };
}
function runB(runs, id, s) {
  const d = join(runs, id);
  renameSync(s.d, d);
  const lf = fs.openSync(join(d, "lease.json"), X, 0o600);
  fs.writeSync(lf, lease);
  fs.fstatSync(lf);
  fs.writeSync(s.sf, snap);
  renameSync(join(d, `snapshot.json.${process.pid}.tmp`), join(d, "snapshot.json"));
  fs.writeSync(s.mf, summ);
  fs.writeSync(s.jf, rec);
  fs.writeSync(s.jf, rec);
  fs.writeSync(s.mf, summ, 0);
  fs.lstatSync(join(d, "lease.json"));
  fs.linkSync(join(d, "lease.json"), join(d, "lease.lock"));
  fs.writeSync(lf, "{}", 0);
  fs.unlinkSync(join(d, "lease.lock"));
  fs.closeSync(lf);
  return Promise.all(s.handles.map((h) => h.close()));
}
const tick = () => new Promise((r) => setImmediate(r));
async function batch(kind, n) {
  const root = mkdtempSync("/tmp/spare-probe-");
  const runs = join(root, "runs"),
    spares = join(root, "spare");
  fs.mkdirSync(runs);
  fs.mkdirSync(spares);
  let ready = kind === "B" ? [await makeSpare(spares), await makeSpare(spares)] : [];
  let refills = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if (kind === "A") runA(runs, "r" + i);
    else {
      let s = ready.shift();
      if (!s) {
        await Promise.all(refills);
        refills = [];
        s = ready.shift() ?? (await makeSpare(spares));
      }
      void runB(runs, "r" + i, s);
      refills.push(makeSpare(spares).then((x) => ready.push(x)));
    }
    await tick(); // a run's own turns of the event loop, as the engine takes some
  }
  await Promise.all(refills);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  for (const s of ready) for (const h of s.handles) await h.close();
  renameSync(root, join(trash, root.split("/").pop()));
  return us;
}
const rounds = Number(process.argv[2] ?? 20),
  n = 64;
const res = { A: [], B: [] };
for (let r = 0; r < rounds; r++) for (const k of r % 2 ? ["B", "A"] : ["A", "B"]) res[k].push(await batch(k, n));
const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
console.log(
  `per run, median of ${rounds} batches of ${n}: A (now) ${med(res.A).toFixed(1)} us, B (pre-made folder) ${med(res.B).toFixed(1)} us, B/A ${(med(res.B) / med(res.A)).toFixed(2)}x`,
);
