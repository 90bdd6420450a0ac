/**
 * The BullMQ part of `npm run bench`: runs `bench/distributed.mjs --json`
 * on the compiled package (built first when stale), and turns its figures
 * into the two targets of issue 16 (item 8):
 *
 * - per-job overhead: the 10,000-node no-op fan-out through
 *   `bullmqExecutor` with one worker process at most 1.3x the same jobs
 *   through BullMQ alone with one worker process (the median of the
 *   ratios of alternating pairs of rounds);
 * - scaling: with I/O-bound bodies (each waits 20 ms), 4 worker processes
 *   give at least 3.5x the throughput of 1.
 *
 * When Redis cannot be reached, or the script fails, both targets are
 * `SKIP` with the reason.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "./import-time.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
/** Per-job overhead limit: bullmqExecutor with one worker / BullMQ alone. */
export const BULLMQ_OVERHEAD_LIMIT = 1.3;
/** Scaling floor: throughput with 4 worker processes / with 1, I/O-bound bodies. */
export const BULLMQ_SCALING_FLOOR = 3.5;

/** What `distributed.mjs --json` prints. */
interface DistributedJson {
  readonly n: number;
  readonly ioN: number;
  readonly ioMs: number;
  readonly ioConcurrency: number;
  readonly rounds: number;
  readonly loadAvgAtStart: readonly number[];
  readonly loadAvgAtEnd: readonly number[];
  readonly noop: {
    readonly embeddedMs: number;
    readonly rawMs: number;
    readonly oneWorkerMs: number;
    /** Per-pair ratios of the alternating rounds (bullmqExecutor / raw), and their median: absent from results before the fifteenth pass. */
    readonly pairRatios?: readonly number[];
    readonly pairRatio?: number;
  };
  readonly io: { readonly oneWorkerMs: number; readonly fourWorkersMs: number };
  readonly rows: readonly { readonly label: string; readonly ms: number; readonly roundsMs: readonly number[] }[];
}

/** A target line, as `bench/run.ts` prints it. */
export interface DistributedTarget {
  readonly name: string;
  readonly verdict: "PASS" | "MISS" | "SKIP";
  readonly detail: string;
}

/** The figures, the table to print and the targets. */
export interface DistributedResult {
  readonly json?: DistributedJson;
  readonly error?: string;
  readonly table: string;
  readonly targets: DistributedTarget[];
}

/** The two target lines; SKIP with `reason` when there are no figures. */
export function distributedTargets(json: DistributedJson | undefined, reason: string): DistributedTarget[] {
  const overhead = `8. bullmqExecutor per-job overhead <= ${BULLMQ_OVERHEAD_LIMIT}x raw BullMQ (no-op fan-out, 1 worker process)`;
  const scaling = `8. I/O-bound bodies: 4 worker processes >= ${BULLMQ_SCALING_FLOOR}x the throughput of 1`;
  if (json === undefined) {
    return [
      { name: overhead, verdict: "SKIP", detail: reason },
      { name: scaling, verdict: "SKIP", detail: reason },
    ];
  }
  // The median of the alternating pairs' ratios (distributed.mjs, `noopPairs`); a result of an earlier pass has the ratio of the medians only.
  const ofMedians = json.noop.oneWorkerMs / json.noop.rawMs;
  const ratio = json.noop.pairRatio ?? ofMedians;
  const pairs = json.noop.pairRatios;
  const speedup = json.io.oneWorkerMs / json.io.fourWorkersMs;
  const n = (x: number): string => x.toLocaleString("en-US");
  return [
    {
      name: overhead,
      verdict: ratio <= BULLMQ_OVERHEAD_LIMIT ? "PASS" : "MISS",
      detail:
        pairs === undefined
          ? `${ratio.toFixed(2)}x (${json.noop.oneWorkerMs.toFixed(0)} vs ${json.noop.rawMs.toFixed(0)} ms for ${n(json.n + 2)} jobs; limit ${BULLMQ_OVERHEAD_LIMIT}x)`
          : `${ratio.toFixed(2)}x, median of ${pairs.length} alternating pairs (${pairs.map((x) => x.toFixed(2)).join(" ")}); medians ${json.noop.oneWorkerMs.toFixed(0)} vs ${json.noop.rawMs.toFixed(0)} ms for ${n(json.n + 2)} jobs (${ofMedians.toFixed(2)}x); limit ${BULLMQ_OVERHEAD_LIMIT}x`,
    },
    {
      name: scaling,
      verdict: speedup >= BULLMQ_SCALING_FLOOR ? "PASS" : "MISS",
      detail: `${speedup.toFixed(2)}x (${json.io.oneWorkerMs.toFixed(0)} vs ${json.io.fourWorkersMs.toFixed(0)} ms for ${n(json.ioN)} bodies of ${json.ioMs} ms, ${json.ioConcurrency} at once per worker; need ${BULLMQ_SCALING_FLOOR}x)`,
    },
  ];
}

function render(json: DistributedJson): string {
  const lines = json.rows.map((r) => {
    const nodes = r.label.startsWith("I/O") ? json.ioN + 2 : json.n + 2;
    return `  ${r.label.padEnd(58)} ${r.ms.toFixed(0).padStart(8)} ms ${Math.round((nodes / r.ms) * 1000)
      .toLocaleString("en-US")
      .padStart(8)} nodes/s`;
  });
  return [
    `BullMQ (bench/distributed.mjs; no-op fan-out of ${json.n.toLocaleString("en-US")}, I/O-bound fan-out of ${json.ioN.toLocaleString("en-US")}; median of ${json.rounds}; load ${json.loadAvgAtStart[0]?.toFixed(2)} -> ${json.loadAvgAtEnd[0]?.toFixed(2)})`,
    ...lines,
  ].join("\n");
}

/** Runs `distributed.mjs --json` and returns its figures and targets (SKIP when it cannot run). */
export async function measureDistributed(quick: boolean): Promise<DistributedResult> {
  try {
    ensureBuilt();
  } catch (error) {
    const reason = `building dist/ failed: ${(error as Error).message}`;
    return { error: reason, table: `BullMQ: ${reason}`, targets: distributedTargets(undefined, reason) };
  }
  const args = [join(BENCH_DIR, "distributed.mjs"), "--json", ...(quick ? ["--quick"] : [])];
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err = `${err}${d}`.slice(-4000);
      process.stderr.write(d);
    });
    child.on("close", (c) => resolve({ code: c, stdout: out, stderr: err }));
  });
  const line = stdout
    .trim()
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("{"));
  if (code !== 0 || line === undefined) {
    const tail = stderr.trim().split("\n").slice(-3).join(" | ");
    const reason = `bench/distributed.mjs exited with ${code} (is Redis running at REDIS_URL?): ${tail}`;
    return { error: reason, table: `BullMQ: ${reason}`, targets: distributedTargets(undefined, reason) };
  }
  const json = JSON.parse(line) as DistributedJson;
  return { json, table: render(json), targets: distributedTargets(json, "") };
}
