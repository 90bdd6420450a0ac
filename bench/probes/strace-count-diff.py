"""System calls per unit from two `strace -c` summaries of process runs that differ only in how many units
they make: the difference of each call's count divided by the difference of units. Shared by
strace-diff.sh (per run) and stage-syscalls.sh (per task).
Usage: python3 strace-count-diff.py FEW.txt MANY.txt FEW MANY UNIT [MIN_SHOWN=0.5]"""
import sys


def parse(f):
    d = {}
    for line in open(f):
        p = line.split()
        if len(p) >= 5 and p[0][0].isdigit() and p[-1] != 'total':
            try:
                d[p[-1]] = int(p[3])
            except ValueError:
                pass
    return d


a, b = parse(sys.argv[1]), parse(sys.argv[2])
units = int(sys.argv[4]) - int(sys.argv[3])
unit = sys.argv[5]
shown = float(sys.argv[6]) if len(sys.argv) > 6 else 0.5
total = 0
for k in sorted(set(a) | set(b), key=lambda k: -(b.get(k, 0) - a.get(k, 0))):
    d = (b.get(k, 0) - a.get(k, 0)) / units
    total += d
    if abs(d) >= shown:
        print(f"{k:20s}{d:8.1f}")
print(f"{'total per ' + unit:20s}{total:8.1f}")
