#!/bin/sh
# System calls per 1-node run: `strace -f -c` of two process runs that differ only in
# how many runs they make, differenced and divided. Usage: bench/probes/strace-diff.sh [lowdb|memory] [few] [many]
set -e
kind=${1:-lowdb}; few=${2:-10}; many=${3:-60}
out=$(mktemp -d)
for n in "$few" "$many"; do
  strace -f -c -o "$out/$n.txt" node --import tsx bench/probes/store-fixed-cost.ts runs "$kind" "$n" > "$out/dirs-$n.txt"
  xargs rm -rf < "$out/dirs-$n.txt"
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
runs = int(sys.argv[4]) - int(sys.argv[3])
total = 0
for k in sorted(set(a) | set(b), key=lambda k: -(b.get(k, 0) - a.get(k, 0))):
    d = (b.get(k, 0) - a.get(k, 0)) / runs
    total += d
    if abs(d) >= 0.5: print(f"{k:20s}{d:8.1f}")
print(f"{'total per run':20s}{total:8.1f}")
PY
rm -rf "$out"
