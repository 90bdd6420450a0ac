/**
 * A/B probe of a short run on `LowdbStore({ fsync: true })` (issue 16,
 * fifteenth pass: the flushes at a run's start), this tree against another
 * checkout, in one process, rounds alternating the two trees, on the real
 * disk (`os.tmpdir()`, as the bench). A round is `per` 1-node runs, one
 * after the other, on one store in a fresh folder (so the store's own
 * folders are made once, as in a long-lived process); its figure is the
 * median run. Prints each side's rounds, the median of each, and the
 * median of the per-round ratios (this tree / the other).
 *
 *   node --import tsx bench/probes/fsync-start-ab.ts /path/to/other/checkout [rounds=10] [per=40]
 *
 * The fifteenth pass read 0.73x (3.00 against 4.16 ms) with the other
 * checkout at f9fea56, whose runs flushed the lease's and the summary's
 * content at their start.
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as here from "../../src/index.js";
import { median } from "../stats.js";

const [otherRoot = "/work/main", roundsArg = "10", perArg = "40"] = process.argv.slice(2);
const other = (await import(resolve(otherRoot, "src/index.ts"))) as typeof here;
const rounds = Number(roundsArg);
const per = Number(perArg);

/** The median of `per` 1-node runs with fsync, on one new store of `lib`. */
async function round(lib: typeof here): Promise<number> {
  const g = lib
    .graph("one")
    .node("a", async () => 1)
    .build();
  const dir = mkdtempSync(join(tmpdir(), "probe-fsync-start-"));
  const store = new lib.LowdbStore({ dir, fsync: true });
  const times: number[] = [];
  for (let i = 0; i < per; i++) {
    const t = performance.now();
    await lib.runAsync(g, undefined, { store, runId: `r${i}` });
    times.push(performance.now() - t);
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return median(times);
}

const mine: number[] = [];
const theirs: number[] = [];
for (let r = 0; r < rounds; r++) {
  // The order alternates too, so neither side always runs right after the other.
  if (r % 2 === 0) {
    theirs.push(await round(other));
    mine.push(await round(here));
  } else {
    mine.push(await round(here));
    theirs.push(await round(other));
  }
}
const show = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(" ");
console.log(`${otherRoot}: ${show(theirs)} => median ${median(theirs).toFixed(2)} ms`);
console.log(`this tree: ${show(mine)} => median ${median(mine).toFixed(2)} ms`);
console.log(`this / other, per round: ${show(mine.map((x, i) => x / theirs[i]!))}; median ${median(mine.map((x, i) => x / theirs[i]!)).toFixed(2)}x`);
