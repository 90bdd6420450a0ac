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
python3 - "$out/$few.txt" "$out/$many.txt" "$few" "$many" <<'PY'
import sys
def parse(f):
    d = {}
    for line in open(f):
        p = line.split()
        if len(p) >= 5 and p[0][0].isdigit() and p[-1] != 'total':
            try: d[p[-1]] = int(p[3])
            except ValueError: pass
    return d
a, b = parse(sys.argv[1]), parse(sys.argv[2])
tasks = int(sys.argv[4]) - int(sys.argv[3])
total = 0
for k in sorted(set(a) | set(b), key=lambda k: -(b.get(k, 0) - a.get(k, 0))):
    d = (b.get(k, 0) - a.get(k, 0)) / tasks
    total += d
    if abs(d) >= 0.3: print(f"{k:20s}{d:8.1f}")
print(f"{'total per task':20s}{total:8.1f}")
PY
rm -rf "$out"
