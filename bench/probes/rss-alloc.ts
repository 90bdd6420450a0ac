/**
 * Promoted-allocation probe (issue 16, target 6): which code allocates the
 * objects that survive into old space during a large fan-out. Samples
 * allocations over the run (`HeapProfiler.startSampling` with
 * `includeObjectsCollectedByMajorGC`, not minor: objects that die young
 * are left out), forces a full GC at the end, and prints the functions
 * whose sampled allocations are largest (self), split into what is still
 * live after the run and what was promoted and then collected.
 *
 * `node --expose-gc --max-old-space-size=8192 --import tsx bench/probes/rss-alloc.ts --n 200000`
 *
 * @module
 */
import { Session } from "node:inspector/promises";
import { parseArgs } from "node:util";
import { prepareFor } from "../systems/taskloom.js";

const { values } = parseArgs({ options: { n: { type: "string", default: "200000" }, top: { type: "string", default: "30" } } });
const n = Number(values.n);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("rss-alloc probe: run with --expose-gc");

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  id: number;
  children: ProfileNode[];
}
interface Sample {
  size: number;
  nodeId: number;
}

async function profile(includeCollected: boolean): Promise<Map<string, number>> {
  const prepared = await prepareFor("taskloom-lowdb")("fanout", n, 8);
  const round = await prepared.round(0);
  gc!();
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: includeCollected,
    includeObjectsCollectedByMinorGC: false,
  } as never);
  await round.run();
  gc!();
  const { profile: p } = (await session.post("HeapProfiler.stopSampling")) as unknown as { profile: { head: ProfileNode; samples: Sample[] } };
  session.disconnect();
  await round.cleanup();
  const where = new Map<number, string>();
  const walk = (node: ProfileNode, parent: string): void => {
    const file = node.callFrame.url.replace(/^.*\/(src|node_modules|bench)\//, "$1/");
    const name = `${node.callFrame.functionName || "(anon)"} ${file}:${node.callFrame.lineNumber + 1}`;
    where.set(node.id, `${name}  <  ${parent}`);
    for (const c of node.children) walk(c, name);
  };
  walk(p.head, "");
  const bytes = new Map<string, number>();
  for (const s of p.samples) {
    const k = where.get(s.nodeId) ?? "?";
    bytes.set(k, (bytes.get(k) ?? 0) + s.size);
  }
  return bytes;
}

const live = await profile(false);
const all = await profile(true);
const keys = new Set([...live.keys(), ...all.keys()]);
const rows = [...keys].map((k) => ({ k, live: live.get(k) ?? 0, all: all.get(k) ?? 0 }));
rows.sort((a, b) => b.all - a.all);
const MB = 2 ** 20;
const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
console.log(`n=${n}: sampled live after run ${(sum(live) / MB).toFixed(1)} MB; live + promoted-then-collected ${(sum(all) / MB).toFixed(1)} MB`);
console.log("   all MB  live MB  B/node  function  <  caller");
for (const r of rows.slice(0, Number(values.top))) {
  console.log(
    `${(r.all / MB).toFixed(1).padStart(8)} ${(r.live / MB).toFixed(1).padStart(8)} ${((r.all / n) | 0).toString().padStart(7)}  ${r.k.slice(0, 170)}`,
  );
}
