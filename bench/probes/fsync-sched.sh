#!/bin/sh
# Where a fsync chain step's time goes, from the kernel's side (issue 16, target 4): `perf record` of the
# chain's process with the flush, write and scheduler tracepoints (no strace: ptrace would stretch every
# call), then, for the main thread, per step: the flush (`fdatasync` entry to exit), the gap (from a flush's
# return to the next journal `pwrite64`), how much of the gap the thread was off the CPU (switched out while
# runnable: preempted) and whether it changed CPU; and per round the head (round start to the first journal
# flush) and the tail (from the return of the last step's flush, the n-th journal flush on the main thread,
# to the round's end: the run's end, its last append and flush wherever made, the summary, the lease). Needs `perf` with tracepoints (root, or
# kernel.perf_event_paranoid <= -1). Usage, from the repository:
#   bench/probes/fsync-sched.sh [n=1000] [rounds=4] [system=taskloom-lowdb-fsync]
# The first round is a warm-up and left out. Round starts and ends are marked by a `write` of "MARK" to fd 2.
set -e
n=${1:-1000}; rounds=${2:-4}; system=${3:-taskloom-lowdb-fsync}
out=$(mktemp -d)
cat > "$out/chain.mts" <<TS
import { writeSync } from "node:fs";
const { prepareFor } = await import("$(pwd)/bench/systems/taskloom.ts");
const p = await prepareFor("$system")("chain", $n, 8);
for (let i = 0; i < $rounds; i++) {
  const r = await p.round(i);
  (globalThis as { gc?: () => void }).gc?.();
  writeSync(2, "MARK\n");
  await r.run();
  writeSync(2, "MARK\n");
  await r.cleanup();
}
TS
perf record -q -o "$out/perf.data" -e 'syscalls:sys_enter_fdatasync,syscalls:sys_exit_fdatasync,syscalls:sys_enter_pwrite64,syscalls:sys_enter_write,sched:sched_switch' \
  -- node --expose-gc --import tsx "$out/chain.mts" 2> /dev/null > /dev/null
perf script -i "$out/perf.data" -F tid,cpu,time,event,trace 2> /dev/null > "$out/events.txt"
python3 - "$out/events.txt" "$n" <<'PY'
import re, sys, statistics as st
N = int(sys.argv[2])
from collections import Counter
ev = []
for line in open(sys.argv[1]):
    m = re.match(r"\s*(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)", line)
    if m: ev.append((int(m[1]), int(m[2]), float(m[3]) * 1e6, m[4].split(":")[-1], m[5]))
main = Counter(e[0] for e in ev if e[3] == "sys_enter_fdatasync").most_common(1)[0][0]
journal = Counter(re.search(r"fd: (\w+)", e[4])[1] for e in ev if e[0] == main and e[3] == "sys_enter_fdatasync").most_common(1)[0][0]
gaps, off, moved, flushes, heads, tails = [], [], 0, [], [], []
marks, last_exit, exit_cpu, off_from, off_sum, flush_at, first_flush, round_on, last_flush_exit = 0, None, None, None, 0.0, None, None, False, None
for tid, cpu, t, name, trace in ev:
    if name == "sched_switch":
        s = re.search(r"prev_pid=(\d+).*prev_state=(\S+) ==> .*next_pid=(\d+)", trace)
        if s and int(s[1]) == main and s[2].startswith("R") and last_exit is not None: off_from = t
        if s and int(s[3]) == main and off_from is not None: off_sum += t - off_from; off_from = None
        continue
    if tid != main: continue
    if name == "sys_enter_write" and "fd: 0x00000002" in trace:
        marks += 1; round_on = marks % 2 == 1
        if round_on: start, first_flush, count = t, None, 0
        elif marks > 2 and last_flush_exit is not None: heads.append(first_flush - start); tails.append(t - last_flush_exit)
        last_exit = None; last_flush_exit = None; continue
    if not round_on or marks <= 2: continue
    if name == "sys_enter_fdatasync" and f"fd: {journal}" in trace: flush_at = t; first_flush = first_flush or t
    elif name == "sys_exit_fdatasync" and flush_at is not None:
        flushes.append(t - flush_at); flush_at = None; last_exit, exit_cpu, off_sum, off_from = t, cpu, 0.0, None
        count += 1
        if count == N: last_flush_exit = t
    elif name == "sys_enter_pwrite64" and last_exit is not None:
        gaps.append(t - last_exit); off.append(off_sum); moved += cpu != exit_cpu; last_exit = None
def s(a):
    a = sorted(a); return f"median {st.median(a):8.1f}  p10 {a[len(a) // 10]:8.1f}  p90 {a[9 * len(a) // 10]:8.1f}  (n {len(a)})"
print(f"journal flush us        {s(flushes)}")
print(f"gap flush -> pwrite us  {s(gaps)}")
print(f"  of it off the CPU us  {s(off)}; steps that changed CPU in the gap: {moved}")
print(f"head ms per round       {', '.join(f'{h / 1000:.1f}' for h in heads)}")
print(f"tail ms per round       {', '.join(f'{x / 1000:.1f}' for x in tails)}")
PY
rm -rf "$out"
