/**
 * Instructions of the serializations a small durable run makes (issue 16,
 * target 1): its snapshot document, its end's run record, its lease and
 * its summary (with `summaryOf`), from `<tree>/src` through tsx (`dist/`
 * is a bundle, without these modules' own files), in a loop. The row probes (row-instr.mjs) vary by a few hundred thousand instructions
 * per run between identical trees (GC and compile timing), more than a
 * change here saves; this one isolates it. The difference of two counts
 * is the cost of `n2 - n1` iterations:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node [--no-opt] --import tsx bench/probes/serialize-instr.mjs <tree> 100 2>&1 | grep Collected
 *   ... and the same with 2100; (second - first) / 2000 per iteration
 *
 * @module
 */
import { resolve } from "node:path";
const [root = ".", nArg = "1000"] = process.argv.slice(2);
const { serialize } = await import(resolve(root, "src/persistence/serialization.ts"));
const { summaryOf } = await import(resolve(root, "src/state/run-summary.ts"));
const meta = {
  runId: "bench-50",
  graphName: "fanout",
  fingerprint: "3cbea1e46c6be57e7675d343af1f35db9dca829cf8fb751b079817379d900084",
  inputs: undefined,
  status: "running",
  createdAt: 1796062825748,
  updatedAt: 1796062825748,
  starts: 1,
  waits: [],
  startedAt: 1796062825748,
  sessions: [{ startedAt: 1796062825748 }],
};
const doc = {
  version: 2,
  seq: 0,
  meta,
  nodes: [
    {
      id: ["root", "n0", "join"],
      status: "ppp",
      attempts: [0, 0, 0],
      output: { at: [], v: [] },
      endedAt: { at: [], d: [] },
      startedAt: { at: [], d: [] },
      more: { at: [], v: [] },
    },
  ],
};
const lease = {
  runId: "bench-50",
  owner: "2c495edc-9fb4-47ae-8383-4a38c5389645",
  pid: 10389,
  host: "vm",
  expiresAt: 0,
  token: 1,
  identity: { bootId: "befe2440-4016-4d13-a582-89a7754401ba", pidNs: "pid:[4026531836]", startTime: "72062" },
};
const counts = { nodeCount: 3, settledCount: 3, succeededCount: 3, failedCount: 0 };
let x = 0;
for (let i = 0; i < Number(nArg); i++) {
  x += serialize(doc).length + serialize({ kind: "run", seq: 4, run: meta }).length + serialize(lease).length + serialize(summaryOf(meta, counts)).length;
}
if (x === 0) console.log(x);
