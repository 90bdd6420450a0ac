#!/bin/sh
# System calls per stage-runner task (issue 16, target 2): `strace -f -c` of two
# process runs of N tasks through the bench's two no-op agent stages on a
# LowdbStore (a fresh folder, runAsync and store.close, no folder removal in
# the count), differenced and divided by the difference of N. Run from a tree's root.
#   TMPDIR=/dev/shm bench/probes/stage-syscalls.sh [few=500] [many=1500]
set -e
few=${1:-500}; many=${2:-1500}
out=$(mktemp -d)
cat > "$out/run.mts" <<TS
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LowdbStore } from "$(pwd)/src/index.js";
import { noOpStageRunner } from "$(pwd)/bench/stage-workflow.js";
const n = Number(process.argv[2]);
const dir = mkdtempSync(join(tmpdir(), "taskloom-stage-syscalls-"));
const store = new LowdbStore({ dir });
const report = await noOpStageRunner(store).runAsync({ tasks: Array.from({ length: n }, (_, i) => ({ id: "t" + i, data: { i } })), runId: "s" });
await store.close();
if (report.completed !== n) throw new Error("only " + report.completed + " of " + n + " completed");
console.log(dir);
TS
for n in "$few" "$many"; do
  strace -f -c -o "$out/$n.txt" node --import tsx "$out/run.mts" "$n" > "$out/dir-$n.txt"
  xargs rm -rf < "$out/dir-$n.txt"
done
python3 "$(dirname "$0")/strace-count-diff.py" "$out/$few.txt" "$out/$many.txt" "$few" "$many" task 0.3
rm -rf "$out"
