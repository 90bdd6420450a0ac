/**
 * A/B probe of a run's end on `LowdbStore({ fsync: true })` (issue 16,
 * target 4: the tail of the paired chain), this tree against another
 * checkout, in one process, rounds alternating the two trees, on the real
 * disk (`os.tmpdir()`, as the bench). Per run of a chain of N: the time
 * from the last node's `node:success` to the `snapshot` event of the end
 * (the end's journal line flushed and its summary written), from there to
 * the run's promise (the lease given back), and the whole run; medians.
 *
 *   node --import tsx bench/probes/fsync-end-ab.ts /path/to/other/checkout [rounds=40] [n=20]
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { taskloom as here } from "../taskloom-lib.js";
import { buildGraph } from "../systems/taskloom.js";
import { median } from "../stats.js";

const [otherRoot = "/work/main", roundsArg = "40", nArg = "20"] = process.argv.slice(2);
// Each tree as the bench runs it: its built dist/ (run "npm run build" in both).
const other = (await import(resolve(otherRoot, "dist/index.js"))) as typeof here;
const { buildGraph: otherBuild } = (await import(resolve(otherRoot, "bench/systems/taskloom.ts"))) as { buildGraph: typeof buildGraph };
const rounds = Number(roundsArg);
const n = Number(nArg);
let counter = 0;

interface End {
  /** Last `node:success` to the end's `snapshot` event, ms. */
  readonly save: number;
  /** That event to the run's promise (the lease given back), ms. */
  readonly after: number;
  /** The whole run, ms. */
  readonly run: number;
}

async function once(lib: typeof here, g: unknown): Promise<End> {
  const dir = mkdtempSync(join(tmpdir(), "probe-fsync-end-"));
  const store = new lib.LowdbStore({ dir, fsync: true });
  const t0 = performance.now();
  const handle = lib.run(g as Parameters<typeof lib.run>[0], undefined, { store, runId: `e-${counter++}`, maxConcurrency: 8 });
  let last = 0;
  let saved = 0;
  handle.events.on("node:success", () => void (last = performance.now()));
  handle.events.on("snapshot", (e) => void (e.status === "succeeded" && (saved = performance.now())));
  await handle.result();
  const t1 = performance.now();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return { save: saved - last, after: t1 - saved, run: t1 - t0 };
}

const gHere = buildGraph("chain", n);
const gOther = otherBuild("chain", n);
const acc = { here: [] as End[], other: [] as End[] };
await once(here, gHere);
await once(other, gOther);
for (let i = 0; i < rounds; i++) {
  acc.here.push(await once(here, gHere));
  acc.other.push(await once(other, gOther));
}
const show = (ends: End[]) =>
  `save ${median(ends.map((e) => e.save)).toFixed(3)} ms, after ${median(ends.map((e) => e.after)).toFixed(3)} ms, run ${median(ends.map((e) => e.run)).toFixed(2)} ms`;
console.log(`chain ${n}, ${rounds} rounds each: this tree ${show(acc.here)}; ${otherRoot} ${show(acc.other)}`);
