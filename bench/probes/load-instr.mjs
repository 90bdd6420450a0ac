/**
 * The cold resume's load alone (issue 16, target 5), for callgrind counts:
 * `k` loads, by `<tree>/dist`'s `LowdbStore`, of copies of one stored
 * 10,000-node fan-out with 9,000 middle nodes succeeded and 1,000 failed
 * (made by `resume.ts prepare`). One load's instructions are the
 * difference of the counts of `k` and `0`, over `k`. Each load here is
 * colder than a bench round's (no run warmed the process): about 240 M
 * instructions, some 140 M of them optimizing compiles (on the main thread
 * under `--single-threaded`; on a worker thread in the bench).
 *
 *   node --import tsx bench/probes/resume.ts prepare /dev/shm/stored
 *   TMPDIR=/dev/shm valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --single-threaded --predictable bench/probes/load-instr.mjs <tree> /dev/shm/stored <k> 2>&1 | grep refs
 *
 * @module
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [root = ".", template, k = "6"] = process.argv.slice(2);
if (template === undefined) throw new Error("usage: load-instr.mjs <tree> <stored dir> [k]");
const lib = await import(resolve(root, "dist/index.js"));
for (let r = 0; r < Number(k); r++) {
  const dir = mkdtempSync(join(tmpdir(), "probe-load-instr-"));
  cpSync(template, dir, { recursive: true });
  const store = new lib.LowdbStore({ dir });
  const run = await store.load("probe-resume");
  if (run === undefined) throw new Error(`no run "probe-resume" in ${template}`);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
