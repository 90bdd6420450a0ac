// The figures of the durable-runs issue, on the compiled package: a 2,000-node chain and a
// 10,000-node fan-out on LowdbStore next to MemoryStore (median of 5), the snapshot size of a
// finished 10,000-node run, and the resume of a 10,000-node run with 9,000 nodes done.
// Run with `npm run bench:durable` (it builds dist first).
import { graph, runAsync, MemoryStore, LowdbStore } from "../dist/index.js";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
async function time(fn, rounds = 5) {
  await fn(0);
  const ts = [];
  for (let r = 1; r <= rounds; r++) {
    const t = performance.now();
    await fn(r);
    ts.push(performance.now() - t);
  }
  return med(ts);
}
let c = graph("chain").node("n0", async () => 0);
for (let i = 1; i < 2000; i++) c = c.node(`n${i}`, async () => i, { after: [`n${i - 1}`] });
const chain = c.output(() => null).build();
let b = graph("fan").node("root", async () => 0);
const ids = [];
for (let i = 0; i < 10000; i++) {
  b = b.node(`n${i}`, async () => i, { after: ["root"] });
  ids.push(`n${i}`);
}
const fan = b
  .node("join", async () => 0, { after: ids })
  .output(() => null)
  .build();
const dir = mkdtempSync(join(tmpdir(), "i3-"));
const mc = await time(() => runAsync(chain, undefined, { store: new MemoryStore() }));
const lc = await time((r) => runAsync(chain, undefined, { store: new LowdbStore({ dir }), runId: `c${r}` }));
const mf = await time(() => runAsync(fan, undefined, { store: new MemoryStore() }));
const lf = await time((r) => runAsync(fan, undefined, { store: new LowdbStore({ dir }), runId: `f${r}` }));
console.log(`chain 2,000: memory ${mc.toFixed(1)} ms, lowdb ${lc.toFixed(1)} ms, ratio ${(lc / mc).toFixed(2)}`);
console.log(`fan-out 10,000: memory ${mf.toFixed(1)} ms, lowdb ${lf.toFixed(1)} ms, ratio ${(lf / mf).toFixed(2)}`);
console.log(
  `snapshot of the finished 10,000-node fan-out: ${statSync(join(dir, "runs", "f1", "snapshot.json")).size} bytes; journal ${statSync(join(dir, "runs", "f1", "journal.ndjson")).size} bytes`,
);
// resume: 9,000 of 10,000 done
let fail = true;
let rb = graph("resume").node("root", async () => 0);
const rids = [];
for (let i = 0; i < 10000; i++) {
  rb = rb.node(
    `n${i}`,
    async () => {
      if (fail && i % 10 === 0) throw new Error("x");
      return i;
    },
    { after: ["root"] },
  );
  rids.push(`n${i}`);
}
const rg = rb
  .node("join", async () => 0, { after: rids })
  .output(() => null)
  .build();
const rts = [];
for (let r = 0; r < 4; r++) {
  fail = true;
  const store = new LowdbStore({ dir });
  await runAsync(rg, undefined, { store, runId: `r${r}`, continueOnError: true, retry: { maxAttempts: 1 } }).catch(() => {});
  await store.close();
  fail = false;
  const fresh = new LowdbStore({ dir });
  const t = performance.now();
  await runAsync(rg, undefined, { store: fresh, runId: `r${r}` });
  rts.push(performance.now() - t);
  await fresh.close();
}
console.log(`resume of a 10,000-node run with 9,000 done (load + run 1,001 nodes): median ${med(rts.slice(1)).toFixed(1)} ms`);
rmSync(dir, { recursive: true, force: true });
