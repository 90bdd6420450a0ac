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
python3 "$(dirname "$0")/strace-count-diff.py" "$out/$few.txt" "$out/$many.txt" "$few" "$many" run 0.5
rm -rf "$out"
