/**
 * A/B of run folders (`layout: "folders"`): a 2,000-node and a 100-node chain,
 * this tree's built dist/ against another checkout's, rounds alternated,
 * a fresh store folder per run; medians and their ratio.
 *
 *   npm run build && node bench/probes/folders-ab.mjs <this root> <other root> [rounds=15]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const [a, b, roundsArg = "15"] = process.argv.slice(2);
const libs = { a: await import(join(a, "dist/index.js")), b: await import(join(b, "dist/index.js")) };
function chain(lib, n) {
  let g = lib.graph("chain");
  let prev;
  for (let i = 0; i < n; i++) {
    const id = `n${i}`;
    g = prev === undefined ? g.node(id, async () => i) : g.node(id, async () => i, { after: [prev] });
    prev = id;
  }
  return g.build();
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
for (const n of [2000, 100]) {
  const graphs = { a: chain(libs.a, n), b: chain(libs.b, n) };
  const times = { a: [], b: [] };
  for (let r = 0; r < Number(roundsArg) + 2; r++) {
    for (const k of r % 2 ? ["a", "b"] : ["b", "a"]) {
      const dir = mkdtempSync(join(tmpdir(), "fab-"));
      const store = new libs[k].LowdbStore({ dir, layout: "folders" });
      const t0 = performance.now();
      await libs[k].runAsync(graphs[k], undefined, { store });
      await store.close();
      const t = performance.now() - t0;
      if (r >= 2) times[k].push(t);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`chain ${n}: a ${median(times.a).toFixed(2)} ms, b ${median(times.b).toFixed(2)} ms, a/b ${(median(times.a) / median(times.b)).toFixed(3)}`);
}
