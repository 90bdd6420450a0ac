/**
 * What each benchmarked system provides to the child runner: a graph built
 * once per process (not timed), then one untimed setup per round that
 * returns the timed `run` and an untimed `cleanup`.
 *
 * @module
 */
import type { Shape } from "../protocol.js";

/** One round: `run` is timed; `cleanup` is not. */
export interface Round {
  run(): Promise<void>;
  cleanup(): Promise<void>;
}

/** A system with its graph ready. */
export interface Prepared {
  /** Time spent building/compiling the graph (ms). */
  readonly buildMs: number;
  /** Sets up round `index` (fresh store, fresh temp dir, fresh checkpointer). */
  round(index: number): Promise<Round>;
  /** Releases what `prepare` opened (a database connection), after the last round. */
  close?(): Promise<void>;
}

/** Builds a system's graph for a shape and size. */
export type Prepare = (shape: Shape, n: number, concurrency: number) => Promise<Prepared>;

/** The ids of the N middle nodes: `n0 … n{N-1}`. */
export function nodeIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `n${i}`);
}
