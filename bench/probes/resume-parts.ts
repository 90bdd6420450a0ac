/**
 * Probe of the cold resume's per-node passes (issue 16, target 5): the
 * parts of a 10,000-node fan-out resume (9,000 middle nodes stored done,
 * 1,000 failed) that walk every node record once, timed in isolation for
 * two checkouts loaded side by side, rounds alternating, medians:
 * `ReadySet.fromState` of the reset state, `collectOutputs` of the final
 * one, `missingNode` of the loaded one, and a `PersistenceObserver`'s
 * `start` and `finish` against the loaded state (a store that writes
 * nothing). The records are parsed from JSON, as a load makes them (ids
 * are then other strings than the graph's). Not part of `npm run bench`.
 *
 *   node --import tsx bench/probes/resume-parts.ts [rootA] [rootB]
 *     (default: /work/main and this checkout)
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { median } from "../stats.js";

const N = 10_000;
const ROUNDS = 30;
const here = fileURLToPath(new URL(".", import.meta.url));
const roots = [process.argv[2] ?? "/work/main", process.argv[3] ?? join(here, "../..")];

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return -- two checkouts' internal modules, loaded by path */
async function side(root: string): Promise<Record<string, () => unknown>> {
  const imp = (p: string): Promise<any> => import(pathToFileURL(join(root, "src", p)).href);
  const lib = await imp("index.ts");
  const { ReadySet } = await imp("engine/ready-set.ts");
  const { collectOutputs } = await imp("runner/run-ending.ts");
  const { missingNode } = await imp("runner/prepare-run.ts");
  const { PersistenceObserver } = await imp("persistence/persistence-observer.ts");
  const { RunEvents } = await imp("events/run-events.ts");
  const { systemClock } = await imp("core/clock.ts");
  const rs = await imp("state/run-state.ts");
  const ids = Array.from({ length: N }, (_, i) => `n${i}`);
  let b = lib.graph("fanout").node("root", async () => 0);
  for (const id of ids) b = b.node(id, async () => 1, { after: ["root"] });
  const g = b
    .node("join", async () => 0, { after: ids })
    .output(() => null)
    .build();
  const meta = rs.createRunState({ runId: "r", graphName: "g", fingerprint: "f", inputs: {}, nodeIds: [], now: 0 }).meta;
  const order: string[] = g.order;
  const statusAt = (i: number): string => (i === order.length - 1 ? "pending" : i % 10 === 1 ? "failed" : "succeeded");
  const text = JSON.stringify(order.map((id, i) => ({ id, nodeId: id, status: statusAt(i), attempts: 1, output: i })));
  const loaded = rs.stateFromRecords(meta, JSON.parse(text));
  const { state: reset } = rs.resetUnfinished(loaded, 1);
  const done = ids.filter((_, i) => (i + 1) % 10 === 1).map((id) => ({ id, nodeId: id, status: "succeeded", attempts: 1, output: 5 }));
  const final = rs.commitNodes(reset, done);
  const store = { append: async () => undefined, writeSnapshot: async () => undefined };
  return {
    fromState: () => ReadySet.fromState(g, reset),
    collectOutputs: () => collectOutputs(final, g),
    missingNode: () => missingNode(loaded, g.nodeIds()),
    startFinish: async () => {
      let state = reset;
      const o = new PersistenceObserver({
        store,
        runId: "r",
        policy: "group",
        clock: systemClock,
        events: new RunEvents(),
        getState: () => state,
        seq: 1,
        nodeCount: N,
      });
      await o.start(loaded);
      state = final;
      for (const r of done) o.put(r, false);
      await o.finish();
    },
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return */

const sides = await Promise.all(roots.map(side));
const times: Record<string, number[][]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < sides.length; i++) {
    for (const [name, fn] of Object.entries(sides[i]!)) {
      const t = performance.now();
      for (let k = 0; k < 10; k++) await fn();
      (times[name] ??= sides.map(() => []))[i]!.push((performance.now() - t) / 10);
    }
  }
}
for (const [name, per] of Object.entries(times)) {
  console.log(`${name.padEnd(15)} ${per.map((xs, i) => `${roots[i]}: ${median(xs).toFixed(3)} ms`).join("   ")}`);
}
