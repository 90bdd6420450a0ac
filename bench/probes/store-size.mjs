/**
 * A resume and a delete in a big store folder (issue 16, twenty-sixth
 * pass): a store folder holding `n` other run files (empty ones: a run
 * file without a whole line reads as no run, and a listing of the folder
 * costs the same per name), one real 1-node run, then `rounds` resumes of
 * it (each a takeover of a run given back, through a new `LowdbStore`)
 * and one delete; the medians. Before the twenty-sixth pass each takeover
 * and delete listed the store folder to find the temp files a crash left.
 *
 *   npm run build && node bench/probes/store-size.mjs [n=100000] [rounds=9]
 *
 * Prints the time of one `readdirSync` of the folder beside them.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const lib = await import(new URL("../../dist/index.js", import.meta.url).href);
const n = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 9);
const dir = mkdtempSync(join(tmpdir(), "taskloom-store-size-"));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
try {
  const g = lib
    .graph("one")
    .node("a", async () => 1)
    .build();
  const first = new lib.LowdbStore({ dir });
  await lib.runAsync(g, undefined, { store: first, runId: "real" });
  await first.close();
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `other-${i}.run`), "");
  let t = performance.now();
  readdirSync(dir);
  const listing = performance.now() - t;
  const resumes = [];
  for (let r = 0; r < rounds; r++) {
    const store = new lib.LowdbStore({ dir });
    t = performance.now();
    await lib.runAsync(g, undefined, { store, runId: "real" });
    resumes.push(performance.now() - t);
    await store.close();
  }
  const store = new lib.LowdbStore({ dir });
  t = performance.now();
  await store.delete("real");
  const deleted = performance.now() - t;
  await store.close();
  console.log(
    `${n.toLocaleString("en-US")} other runs: readdirSync of the store folder ${listing.toFixed(2)} ms; ` +
      `resume (takeover) median ${median(resumes).toFixed(2)} ms of ${rounds}; delete ${deleted.toFixed(2)} ms`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
