/**
 * The cold resume as the bench's `resume` row runs it (issue 16, target 5):
 * one process, `rounds` rounds (the row's warm-up and counted rounds: 6),
 * each a first run of the 10,000-node fan-out with every tenth middle node
 * failing, then the resume of it through a new `LowdbStore`. The resume's
 * code runs a handful of times per process, mostly before it is optimized,
 * which a probe that resumes a hundred times in one process
 * (`resume.ts profile`) does not show. Loads `<tree>/dist`, for callgrind:
 * one resume's instructions are the difference of the `resume` and `first`
 * counts over `rounds`; the full run's, of `full` and `setup`.
 * `--single-threaded --predictable` keep the compiler and collector on the
 * main thread and their heuristics off the clock: without them a count
 * moved by several percent with the machine's load.
 *
 *   npm run build   # in each tree
 *   TMPDIR=/dev/shm valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --single-threaded --predictable bench/probes/resume-instr.mjs <tree> <resume|first|full|setup> [rounds] 2>&1 | grep refs
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [root = ".", mode = "resume", roundsArg = "6"] = process.argv.slice(2);
const rounds = Number(roundsArg);
const lib = await import(resolve(root, "dist/index.js"));
const N = 10_000;
let failing = true;
const ids = Array.from({ length: N }, (_, i) => `n${i}`);
let b = lib.graph("fanout").node("root", async () => 0);
for (let i = 0; i < N; i++) {
  b = b.node(
    ids[i],
    async () => {
      if (failing && i % 10 === 0) throw new lib.NonRetryableError(`planned failure of n${i}`);
      return i;
    },
    { after: ["root"] },
  );
}
const g = b
  .node("join", async () => 0, { after: ids })
  .output(() => null)
  .build();
for (let r = 0; r < rounds && mode !== "setup"; r++) {
  const dir = mkdtempSync(join(tmpdir(), "probe-resume-instr-"));
  if (mode === "resume" || mode === "first") {
    failing = true;
    const first = new lib.LowdbStore({ dir });
    const options = { store: first, runId: "r", maxConcurrency: 8, continueOnError: true, retry: { maxAttempts: 1 } };
    await lib.runAsync(g, undefined, options).catch(() => undefined);
    await first.close();
  }
  if (mode !== "first") {
    failing = false;
    const store = new lib.LowdbStore({ dir });
    await lib.runAsync(g, undefined, { store, runId: "r", maxConcurrency: 8, retry: { maxAttempts: 1 } });
    await store.close();
  }
  rmSync(dir, { recursive: true, force: true });
}
