/**
 * A/B probe of the durable store's cost beyond MemoryStore (issue 16,
 * targets 1 and 3), this tree against another checkout, in one process
 * so that a loaded machine skews both alike: rounds alternate
 * memory / lowdb (this tree) / memory / lowdb (the other tree), and the
 * medians give each tree's LowdbStore / MemoryStore ratio.
 *
 *   node --import tsx bench/probes/runfiles-ab.ts /work/main [rounds]
 *
 * @module
 */
import { resolve } from "node:path";
import { taskloom as here } from "../taskloom-lib.js";
import { buildGraph } from "../systems/taskloom.js";
import { median } from "../stats.js";
import { timedRun } from "./ab-run.js";

const [otherRoot = "/work/main", roundsArg = "7"] = process.argv.slice(2);
// Each tree as the bench runs it: its built dist/ (run "npm run build" in both).
const other = (await import(resolve(otherRoot, "dist/index.js"))) as typeof here;
const { buildGraph: otherBuild } = (await import(resolve(otherRoot, "bench/systems/taskloom.ts"))) as { buildGraph: typeof buildGraph };
const rounds = Number(roundsArg);

/** CPU time (user + system, ms) of the last {@link once}. */
let lastCpu = 0;

async function once(lib: typeof here, g: unknown, durable: boolean): Promise<number> {
  const { wallUs, cpuUs } = await timedRun(lib, g, durable);
  lastCpu = cpuUs / 1000;
  return wallUs / 1000;
}

for (const [shape, n, r] of [
  ["chain", 1, rounds * 20],
  ["chain", 100, rounds * 3],
  ["fanout", 100, rounds * 3],
  ["chain", 10_000, rounds],
  ["fanout", 10_000, rounds],
] as const) {
  const gHere = buildGraph(shape, n);
  const gOther = otherBuild(shape, n);
  const t = { hereMem: [] as number[], hereLow: [] as number[], otherMem: [] as number[], otherLow: [] as number[] };
  const c = { hereMem: [] as number[], hereLow: [] as number[], otherMem: [] as number[], otherLow: [] as number[] };
  await once(here, gHere, true);
  await once(other, gOther, true);
  for (let i = 0; i < r; i++) {
    t.hereMem.push(await once(here, gHere, false));
    c.hereMem.push(lastCpu);
    t.hereLow.push(await once(here, gHere, true));
    c.hereLow.push(lastCpu);
    t.otherMem.push(await once(other, gOther, false));
    c.otherMem.push(lastCpu);
    t.otherLow.push(await once(other, gOther, true));
    c.otherLow.push(lastCpu);
  }
  const [hm, hl, om, ol] = [median(t.hereMem), median(t.hereLow), median(t.otherMem), median(t.otherLow)];
  const [chm, chl, com, col] = [median(c.hereMem), median(c.hereLow), median(c.otherMem), median(c.otherLow)];
  console.log(
    `${shape} ${n}: wall, this tree lowdb/memory ${hl.toFixed(2)} / ${hm.toFixed(2)} ms = ${(hl / hm).toFixed(2)}x; ` +
      `${otherRoot} ${ol.toFixed(2)} / ${om.toFixed(2)} ms = ${(ol / om).toFixed(2)}x\n` +
      `${" ".repeat(shape.length + String(n).length + 2)} cpu, this tree ${chl.toFixed(2)} / ${chm.toFixed(2)} ms = ${(chl / chm).toFixed(2)}x; ` +
      `${otherRoot} ${col.toFixed(2)} / ${com.toFixed(2)} ms = ${(col / com).toFixed(2)}x`,
  );
}
