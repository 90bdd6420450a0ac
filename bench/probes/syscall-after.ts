/**
 * What a system call costs a chain step beyond the call itself (issue 16,
 * target 3; the fourteenth pass). One 10,000-node no-op chain per process,
 * `rounds` rounds (a forced GC before each), the median of the rounds after
 * the first three, and the time spent inside the calls:
 *
 *   node --expose-gc --import tsx bench/probes/syscall-after.ts memory none
 *   node --expose-gc --import tsx bench/probes/syscall-after.ts memory devnull   # each body writes a byte to /dev/null
 *   node --expose-gc --import tsx bench/probes/syscall-after.ts memory fstat     # each body makes an fstat
 *   node --expose-gc --import tsx bench/probes/syscall-after.ts lowdb real       # LowdbStore, its journal writes timed
 *   node --expose-gc --import tsx bench/probes/syscall-after.ts lowdb nowrite    # LowdbStore, every string write a no-op
 *
 * On a machine whose kernel isolates its page tables (`pti=on`) and whose
 * CPU has no PCID (no `pcid` in /proc/cpuinfo), each call empties the TLB,
 * and the step's code after it pays for that: the round grows by more than
 * the time inside the calls. `nowrite` replaces `fs.writeSync` for strings
 * (the journal's lines) by one that only measures the string: LowdbStore's
 * own code, without its system call; the run's files are then not valid,
 * which this probe never reads. `[rounds]` is the third argument (10).
 *
 * @module
 */
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [store = "memory", mode = "none", roundsArg = "10"] = process.argv.slice(2);
const rounds = Number(roundsArg);
const N = 10_000;

let inCalls = 0;
let calls = 0;
if (store === "lowdb") {
  // Before the store's modules load: their named imports of node:fs follow the patched export.
  const original = fs.writeSync;
  const timed = (...args: unknown[]): number => {
    const t = performance.now();
    const written = mode === "nowrite" && typeof args[1] === "string" ? Buffer.byteLength(args[1]) : (original as (...a: unknown[]) => number)(...args);
    inCalls += performance.now() - t;
    calls++;
    return written;
  };
  (fs as { writeSync: unknown }).writeSync = timed;
  syncBuiltinESMExports();
}
const { graph, runAsync, LowdbStore, MemoryStore } = await import("../../src/index.js");

const devNull = fs.openSync("/dev/null", "w");
/** The body's own system call, timed. */
function call(): void {
  if (mode !== "devnull" && mode !== "fstat") return;
  const t = performance.now();
  if (mode === "devnull") fs.writeSync(devNull, "x");
  else fs.fstatSync(devNull);
  inCalls += performance.now() - t;
  calls++;
}

interface Loose {
  node(id: string, fn: () => Promise<number>, options?: { after: readonly string[] }): Loose;
  output(fn: () => null): { build(): unknown };
}
let b = graph("chain") as unknown as Loose;
for (let i = 0; i < N; i++) {
  b = b.node(
    `n${i}`,
    async () => {
      if (store === "memory") call();
      return i;
    },
    i > 0 ? { after: [`n${i - 1}`] } : undefined,
  );
}
const g = b.output(() => null).build() as Parameters<typeof runAsync>[0];

const wall: number[] = [];
const inside: number[] = [];
for (let r = 0; r < rounds; r++) {
  const dir = fs.mkdtempSync(join(tmpdir(), "probe-syscall-after-"));
  const s = store === "lowdb" ? new LowdbStore({ dir }) : new MemoryStore();
  (globalThis as { gc?: () => void }).gc?.();
  inCalls = 0;
  calls = 0;
  const t = performance.now();
  await runAsync(g, undefined, { store: s, runId: `c${r}`, maxConcurrency: 8 });
  await s.close();
  wall.push(performance.now() - t);
  inside.push(inCalls);
  fs.rmSync(dir, { recursive: true, force: true });
}
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
const counted = (xs: number[]): number[] => xs.slice(Math.min(3, xs.length - 1));
console.log(
  `${store} ${mode}: round ${median(counted(wall)).toFixed(1)} ms, inside the calls ${median(counted(inside)).toFixed(1)} ms ` +
    `(${calls} calls in the last round), rounds ${wall.map((x) => x.toFixed(0)).join(" ")}`,
);
