/**
 * Probe (issue 16, target 2): what the stage runner allocates per task on
 * MemoryStore, by function, counting every allocation (V8's sampling heap
 * profiler with objects collected by minor and major GCs included, so it
 * is allocation, not live memory). The garbage collector was the largest
 * single item of the stage runner's CPU profile, so bytes per task is the
 * number to cut. A warm-up batch runs first; then N tasks (same workflow
 * as bench/probes/stage-runner.ts) are sampled every 1 KiB.
 * SELF is where the bytes were allocated; a native frame (Map, keys, ...)
 * names its caller after `<-`. INCL adds everything below a function.
 *
 *   node --import tsx bench/probes/stage-alloc.ts [N=3000]
 */
import { Session } from "node:inspector/promises";
import { taskloom } from "../taskloom-lib.js";
import { noOpStageRunner } from "../stage-workflow.js";

const { MemoryStore } = taskloom;
const N = Number(process.argv[2] ?? 3000);
async function once(n: number): Promise<void> {
  const store = new MemoryStore();
  const runner = noOpStageRunner(store);
  const tasks = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, data: { i } }));
  await runner.runAsync({ tasks, runId: "probe", batchSize: 300 });
  await store.close();
}
await once(1000);
interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampleNode[];
}
const session = new Session();
session.connect();
// The two include flags are V8's (Node 20 has them); @types/node does not name them yet.
const sampling = { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true };
await session.post("HeapProfiler.startSampling", sampling);
await once(N);
const { profile } = (await session.post("HeapProfiler.stopSampling")) as unknown as { profile: { head: SampleNode } };
const self = new Map<string, number>();
const incl = new Map<string, number>();
let total = 0;
const walk = (n: SampleNode, stack: string[]): void => {
  const name = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").slice(-3).join("/")}`;
  const k = n.callFrame.url === "" && stack.length > 0 ? `${name} <- ${stack[stack.length - 1]}` : name;
  const st = stack.includes(k) ? stack : [...stack, k];
  self.set(k, (self.get(k) ?? 0) + n.selfSize);
  total += n.selfSize;
  if (n.selfSize > 0) for (const x of new Set(st)) incl.set(x, (incl.get(x) ?? 0) + n.selfSize);
  for (const c of n.children) walk(c, st);
};
walk(profile.head, []);
const top = (m: Map<string, number>, count: number): string =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([k, v]) => `${((v / total) * 100).toFixed(1)}% ${(v / N).toFixed(0)} B/task ${k}`)
    .join("\n");
console.log(`total ${(total / N).toFixed(0)} B/task`);
console.log("SELF\n" + top(self, 50));
console.log("INCL\n" + top(new Map([...incl].filter(([k]) => k.includes(".ts"))), 70));
