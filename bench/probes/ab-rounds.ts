/**
 * The timed rounds of the in-process probes: one round of a prepared
 * scenario (`bench/systems`) as the bench's child times it
 * ({@link timedRound}: set up and cleaned up untimed, a forced garbage
 * collection before it when run with `--expose-gc`), and the A/B probes'
 * interleaving of two sides (`step-ab.ts`, `engine-ab.ts`), the first
 * round a warm-up that is not counted, each side's wall and CPU (user +
 * system) times in ms, by side name. `rss-ab.ts`, `warmup-curve.ts`,
 * `after-pause.ts` and `fsync-gap.ts` time their rounds with
 * {@link timedRound} too.
 *
 * @module
 */
import type { Prepared } from "../systems/types.js";

/** One round's wall and CPU (user + system) time, in ms, and the minor page faults during it. */
export interface RoundTime {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly minorFaults: number;
}

/** How {@link timedRound} leads into the run. */
export interface RoundLead {
  /** A forced collection before the run (with `--expose-gc`; default true). */
  readonly collect?: boolean;
  /** Then a timer of this many ms before the run (default none). */
  readonly pauseMs?: number;
}

/** Round `index` of `prepared`: set up, a forced collection (with `--expose-gc`; see `lead`), the timed run, the cleanup. */
export async function timedRound(prepared: Prepared, index: number, lead: RoundLead = {}): Promise<RoundTime> {
  const round = await prepared.round(index);
  if (lead.collect ?? true) (globalThis as { gc?: () => void }).gc?.();
  if (lead.pauseMs !== undefined && lead.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, lead.pauseMs));
  const faults = process.resourceUsage().minorPageFault;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await round.run();
  const wallMs = performance.now() - t0;
  const used = process.cpuUsage(c0);
  const minorFaults = process.resourceUsage().minorPageFault - faults;
  await round.cleanup();
  return { wallMs, cpuMs: (used.user + used.system) / 1000, minorFaults };
}

/** Wall and CPU times of each side's counted rounds, in ms, by side name. */
export interface SideTimes {
  readonly wall: Record<string, number[]>;
  readonly cpu: Record<string, number[]>;
}

/**
 * Runs `rounds` counted rounds (after one warm-up) of every side. With
 * `rotate`, each round starts one side later, so no side always follows
 * the same one; else the sides run in the order given.
 */
export async function interleavedRounds(sides: readonly (readonly [string, Prepared])[], rounds: number, rotate: boolean): Promise<SideTimes> {
  const wall: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  for (let i = 0; i <= rounds; i++) {
    for (let k = 0; k < sides.length; k++) {
      const [name, prepared] = sides[rotate ? (i + k) % sides.length : k]!;
      const { wallMs, cpuMs } = await timedRound(prepared, i);
      if (i === 0) continue;
      (wall[name] ??= []).push(wallMs);
      (cpu[name] ??= []).push(cpuMs);
    }
  }
  return { wall, cpu };
}
