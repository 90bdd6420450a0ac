/**
 * Instructions of a new run's first snapshot on `LowdbStore` (issue 16,
 * target 1): `writeSnapshot` of the state a run starts with (every node
 * pending, status running), `rounds` times, each on a fresh store in a
 * fresh folder, as a bench round's start makes it, from `<tree>/src`
 * through tsx (`dist/` is a bundle, without these modules' own files).
 * The row probes (row-instr.mjs) vary by more than this call's share
 * between identical trees (GC and compile timing); this one isolates it.
 * The difference of two counts is the cost of `r2 - r1` snapshots, the
 * code as cold as in the bench's rounds 5 to 24 when r1 = 4, r2 = 24:
 *
 *   TMPDIR=/dev/shm valgrind --tool=callgrind --callgrind-out-file=/dev/null node --import tsx bench/probes/first-snapshot-instr.mjs <tree> 100 4 2>&1 | grep Collected
 *   ... and the same with 24; (second - first) / 20 per snapshot
 *
 * @module
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [root = ".", nArg = "100", roundsArg = "24"] = process.argv.slice(2);
const { createRunState, setRunStatus } = await import(resolve(root, "src/state/run-state.ts"));
const { LowdbStore } = await import(resolve(root, "src/persistence/lowdb-store.ts"));
// The bench's fan-out: root, n middle nodes, join; a graph's order is frozen.
const nodeIds = Object.freeze(["root", ...Array.from({ length: Number(nArg) }, (_, i) => `n${i}`), "join"]);
for (let r = 0; r < Number(roundsArg); r++) {
  const now = Date.now();
  const state = setRunStatus(
    createRunState({ runId: `bench-${r}`, graphName: "fanout", fingerprint: "x".repeat(64), inputs: undefined, nodeIds, now }),
    "running",
    now,
  );
  const store = new LowdbStore({ dir: mkdtempSync(join(tmpdir(), "first-snapshot-")) });
  await store.writeSnapshot(state, 0);
  await store.close();
}
