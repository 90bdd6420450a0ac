/**
 * A/B probe of how a durable run ends (issue 16, targets 1 and 3), this
 * tree against another checkout, in one process (rounds alternate the two
 * trees): the time from the last node's `node:success` to the final
 * `snapshot` event (the run's end saved: an append of its last records, or
 * a full snapshot), wall and CPU, medians, on a fresh `LowdbStore` each run;
 * then what an append-ended run costs later: `load` of the finished run by
 * a new store (snapshot plus journal replay, against a snapshot alone).
 *
 *   node --import tsx bench/probes/runend-ab.ts /path/to/other/checkout [rounds]
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { taskloom as here } from "../taskloom-lib.js";
import { buildGraph } from "../systems/taskloom.js";
import { median } from "../stats.js";

const [otherRoot = "/work/main", roundsArg = "9"] = process.argv.slice(2);
// Each tree as the bench runs it: its built dist/ (run "npm run build" in both).
const other = (await import(resolve(otherRoot, "dist/index.js"))) as typeof here;
const { buildGraph: otherBuild } = (await import(resolve(otherRoot, "bench/systems/taskloom.ts"))) as { buildGraph: typeof buildGraph };
const rounds = Number(roundsArg);
let counter = 0;

/** One run; returns the wall and CPU time (ms) of saving its end, and whether the end was a full snapshot. */
async function once(lib: typeof here, g: unknown): Promise<{ wall: number; cpu: number; full: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), "probe-runend-"));
  const store = new lib.LowdbStore({ dir });
  const handle = lib.run(g as Parameters<typeof lib.run>[0], undefined, { store, runId: `e-${counter++}`, maxConcurrency: 8 });
  let t = 0;
  let c = process.cpuUsage();
  let end = { wall: 0, cpu: 0, full: false };
  handle.events.on("node:success", () => {
    t = performance.now();
    c = process.cpuUsage();
  });
  handle.events.on("snapshot", (e) => {
    if (e.status !== "succeeded") return;
    const used = process.cpuUsage(c);
    end = { wall: performance.now() - t, cpu: (used.user + used.system) / 1000, full: e.full };
  });
  await handle.result();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return end;
}

for (const [shape, n, r] of [
  ["chain", 1, rounds * 10],
  ["chain", 100, rounds * 3],
  ["fanout", 100, rounds * 3],
  ["chain", 10_000, rounds],
  ["fanout", 10_000, rounds],
] as const) {
  const gHere = buildGraph(shape, n);
  const gOther = otherBuild(shape, n);
  const h = { wall: [] as number[], cpu: [] as number[], full: false };
  const o = { wall: [] as number[], cpu: [] as number[], full: false };
  await once(here, gHere);
  await once(other, gOther);
  for (let i = 0; i < r; i++) {
    for (const [lib, g, acc] of [
      [here, gHere, h],
      [other, gOther, o],
    ] as const) {
      const e = await once(lib, g);
      acc.wall.push(e.wall);
      acc.cpu.push(e.cpu);
      acc.full = e.full;
    }
  }
  const kind = (full: boolean) => (full ? "snapshot" : "append");
  console.log(
    `${shape} ${n}: end saved in, this tree (${kind(h.full)}) ${median(h.wall).toFixed(3)} ms wall / ${median(h.cpu).toFixed(3)} ms cpu; ` +
      `${otherRoot} (${kind(o.full)}) ${median(o.wall).toFixed(3)} / ${median(o.cpu).toFixed(3)} ms`,
  );
}

for (const [shape, n] of [
  ["chain", 100],
  ["chain", 10_000],
  ["fanout", 10_000],
] as const) {
  const trees = [
    { lib: here, g: buildGraph(shape, n), dir: mkdtempSync(join(tmpdir(), "probe-runend-load-")), ms: [] as number[] },
    { lib: other, g: otherBuild(shape, n), dir: mkdtempSync(join(tmpdir(), "probe-runend-load-")), ms: [] as number[] },
  ];
  for (const t of trees) {
    const store = new t.lib.LowdbStore({ dir: t.dir });
    await t.lib.runAsync(t.g, undefined, { store, runId: "done", maxConcurrency: 8 });
    await store.close();
  }
  for (let i = 0; i < rounds; i++) {
    for (const t of trees) {
      const store = new t.lib.LowdbStore({ dir: t.dir });
      const t0 = performance.now();
      await store.load("done");
      t.ms.push(performance.now() - t0);
      await store.close();
    }
  }
  for (const t of trees) rmSync(t.dir, { recursive: true, force: true });
  console.log(`${shape} ${n}: load of the finished run, this tree ${median(trees[0]!.ms).toFixed(2)} ms; ${otherRoot} ${median(trees[1]!.ms).toFixed(2)} ms`);
}
