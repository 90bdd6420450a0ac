/**
 * A scenario's result as a row of the bench's table: its medians, per-node
 * cost, RSS, syscall and flush figures, and the ratios to the rows it is
 * measured against (`withBaselines`).
 *
 * @module
 */
import { specLabel, type Kind, type ScenarioResult, type ScenarioSpec, type Shape, type SystemName } from "./protocol.js";
import { median } from "./stats.js";

/** The figures of a syscall scenario: per run, from the difference of two traced children. */
export interface SyscallFigures {
  readonly runs: readonly [number, number];
  /** Syscalls per run, by name (`total` included). */
  readonly perRun: Record<string, number>;
  /** PostgreSQL WAL flushes per run (DBOS only; server-wide counter, so other databases' work adds noise). */
  readonly pgWalSyncsPerRun?: number;
}

/** Flushing calls (to the disk) among the syscalls. */
export const FLUSH_CALLS = ["fsync", "fdatasync", "sync_file_range", "msync", "syncfs"] as const;

export function flushesOf(perRun: Record<string, number>): number {
  return FLUSH_CALLS.reduce((sum, name) => sum + (perRun[name] ?? 0), 0);
}

/** Nodes in a graph of this shape and N (fan-out adds the root and the join). */
export function nodeCount(shape: Shape, n: number): number {
  return shape === "fanout" ? n + 2 : n;
}

/** The figures of a `pair` scenario (per step: the round's ms * 1000 / N). */
export interface PairFigures {
  /** Median of the per-pair ratios: each chain round / the mean of the floor rounds just before and just after it. */
  readonly ratio: number;
  readonly minRatio: number;
  readonly maxRatio: number;
  /** Every per-pair ratio, in round order. */
  readonly ratios: readonly number[];
  /** Median µs per step of the chain rounds and of the floor rounds. */
  readonly chainUsPerStep: number;
  readonly floorUsPerStep: number;
  /** Lowest and highest floor round, µs per step: how far the disk drifted during the scenario. */
  readonly floorMinUsPerStep: number;
  readonly floorMaxUsPerStep: number;
}

/** Per-pair ratios of a `pair` child: chain round i against floor rounds i and i + 1 (run just before and just after it). */
export function pairFigures(spec: ScenarioSpec, r: ScenarioResult): PairFigures | undefined {
  const floor = r.floorMs ?? [];
  const ratios = aroundRatios(r.roundsMs, floor);
  if (ratios.length === 0) return undefined;
  const perStep = (ms: number): number => (ms * 1000) / spec.n;
  return {
    ratio: median(ratios),
    minRatio: Math.min(...ratios),
    maxRatio: Math.max(...ratios),
    ratios,
    chainUsPerStep: perStep(median(r.roundsMs)),
    floorUsPerStep: perStep(median(floor)),
    floorMinUsPerStep: perStep(Math.min(...floor)),
    floorMaxUsPerStep: perStep(Math.max(...floor)),
  };
}

/** The figures of a `resume` scenario: each resume against the full runs of the same graph measured around it. */
export interface ResumeFigures {
  /** Median of the per-pair ratios: each resume / the mean of the full runs just before and just after it. */
  readonly ratio: number;
  readonly minRatio: number;
  readonly maxRatio: number;
  /** Every per-pair ratio, in round order. */
  readonly ratios: readonly number[];
  /** Median ms of the counted full runs. */
  readonly fullRunMs: number;
}

/** Per-pair ratios of a `resume` child: resume i against full runs i and i + 1 (run just before and just after it). */
export function resumeFigures(r: ScenarioResult): ResumeFigures | undefined {
  const full = r.fullRunMs ?? [];
  const ratios = aroundRatios(r.roundsMs, full);
  if (ratios.length === 0) return undefined;
  return { ratio: median(ratios), minRatio: Math.min(...ratios), maxRatio: Math.max(...ratios), ratios, fullRunMs: median(full) };
}

/** Each of `tops` over the mean of the `bottoms` just before and just after it (`bottoms[i]`, `bottoms[i + 1]`). */
function aroundRatios(tops: readonly number[], bottoms: readonly number[]): number[] {
  return tops.flatMap((top, i) => {
    const before = bottoms[i];
    const after = bottoms[i + 1];
    return before === undefined || after === undefined ? [] : [top / ((before + after) / 2)];
  });
}

/**
 * The median of a `time` row's single runs, each after a forced
 * collection: its `singleMs` where its rounds were batches of more than one
 * run, else its counted rounds (the bench's figure before the twentieth
 * pass of issue 16; `plan.ts`, `batchedRow`). Undefined when it has none.
 */
export function singleRunMedian(r: ScenarioResult): number | undefined {
  const single = r.singleMs !== undefined && r.singleMs.length > 0 ? r.singleMs : r.roundsMs;
  return single.length === 0 ? undefined : median(single);
}

/** One row of the results, with everything derived from the child's raw numbers. */
export interface Row {
  readonly label: string;
  readonly spec: ScenarioSpec;
  readonly status: "ok" | "skipped" | "error";
  readonly reason?: string;
  readonly medianMs?: number;
  readonly minMs?: number;
  readonly maxMs?: number;
  readonly usPerNode?: number;
  readonly baseline?: string;
  readonly ratio?: number;
  readonly maxRssMB?: number;
  readonly rssBeforeRunMB?: number;
  readonly bytesPerTransition?: number;
  readonly transitions?: number;
  readonly wcharBytes?: number;
  readonly resumedBodies?: number;
  readonly buildMs?: number;
  /** `stages`: tasks per second (N / median seconds). */
  readonly tasksPerSecond?: number;
  /** `syscalls`: per-run counts. */
  readonly syscalls?: SyscallFigures;
  /** `pair`: the chain against the floor rounds measured around it. */
  readonly pair?: PairFigures;
  /** `resume`: each resume against the full runs measured around it. */
  readonly resumePair?: ResumeFigures;
  readonly raw?: ScenarioResult;
}

export function toRow(spec: ScenarioSpec, r: ScenarioResult): Row {
  const label = specLabel(spec);
  if (r.error !== undefined) return { label, spec, status: "error", reason: r.error, raw: r };
  if (r.skipped !== undefined) return { label, spec, status: "skipped", reason: r.skipped, raw: r };
  const med = median(r.roundsMs);
  const base: Row = {
    label,
    spec,
    status: "ok",
    medianMs: med,
    minMs: Math.min(...r.roundsMs),
    maxMs: Math.max(...r.roundsMs),
    usPerNode: (med * 1000) / nodeCount(spec.shape, spec.n),
    maxRssMB: r.maxRssKB / 1024,
    rssBeforeRunMB: r.rssBeforeRunKB / 1024,
    buildMs: r.buildMs,
    raw: r,
  };
  if (spec.kind === "bytes" && r.wcharBytes && r.transitions) {
    const perRound = r.wcharBytes.map((b, i) => b / (r.transitions?.[i] ?? NaN));
    return {
      ...base,
      bytesPerTransition: median(perRound),
      wcharBytes: median(r.wcharBytes),
      transitions: median(r.transitions),
    };
  }
  if (spec.kind === "resume") {
    const resumePair = resumeFigures(r);
    if (resumePair === undefined) return { label, spec, status: "error", reason: "no resume with a full run on both sides", raw: r };
    return { ...base, resumedBodies: median(r.resumedBodies ?? []), resumePair };
  }
  if (spec.kind === "stages") return { ...base, tasksPerSecond: spec.n / (med / 1000) };
  if (spec.kind === "pair") {
    const pair = pairFigures(spec, r);
    return pair === undefined ? { label, spec, status: "error", reason: "no chain round with a floor round on both sides", raw: r } : { ...base, pair };
  }
  return base;
}

/** Adds the ratio to the baseline measured in this run. */
export function withBaselines(rows: Row[]): Row[] {
  const find = (kind: Kind, system: SystemName, shape: Shape, n: number): Row | undefined =>
    rows.find((r) => r.status === "ok" && r.spec.kind === kind && r.spec.system === system && r.spec.shape === shape && r.spec.n === n);
  return rows.map((row) => {
    if (row.status !== "ok" || row.medianMs === undefined) return row;
    const { kind, shape, n } = row.spec;
    let base: Row | undefined;
    let name: string | undefined;
    if (kind === "time") {
      base = find("time", "pqueue", shape, n);
      name = "p-queue";
    } else if (kind === "resume") {
      base = find("time", "taskloom-lowdb", "fanout", n);
      name = `lowdb full run`;
    }
    if (base?.medianMs === undefined || name === undefined) return row;
    return { ...row, baseline: name, ratio: row.medianMs / base.medianMs };
  });
}
