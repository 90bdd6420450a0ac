/**
 * The timed rounds of the in-process A/B probes (`step-ab.ts`,
 * `engine-ab.ts`): each side's prepared scenario (`bench/systems`) run
 * round by round, the sides interleaved, a forced garbage collection
 * before each round (run with `--expose-gc`), the first round a warm-up
 * that is not counted. Returns each side's wall and CPU (user + system)
 * times in ms, by side name.
 *
 * @module
 */
import type { Prepared } from "../systems/types.js";

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
  const gc = (globalThis as { gc?: () => void }).gc;
  const wall: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  for (let i = 0; i <= rounds; i++) {
    for (let k = 0; k < sides.length; k++) {
      const [name, prepared] = sides[rotate ? (i + k) % sides.length : k]!;
      const round = await prepared.round(i);
      gc?.();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await round.run();
      const ms = performance.now() - t0;
      const used = process.cpuUsage(c0);
      await round.cleanup();
      if (i === 0) continue;
      (wall[name] ??= []).push(ms);
      (cpu[name] ??= []).push((used.user + used.system) / 1000);
    }
  }
  return { wall, cpu };
}
