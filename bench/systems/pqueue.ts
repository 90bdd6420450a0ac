/**
 * The floor: the same graphs run directly through p-queue, with the same
 * concurrency and the same dependency semantics and nothing else (no state,
 * no events, no persistence).
 *
 * - fan-out: run the root, then the N nodes through one PQueue, then the join;
 * - chain: N tasks, each added to the queue and awaited before the next.
 *
 * @module
 */
import PQueue from "p-queue";
import type { Shape } from "../protocol.js";
import type { Prepare, Prepared, Round } from "./types.js";

const noop = async (i: number): Promise<number> => i;

async function fanout(n: number, concurrency: number): Promise<void> {
  const queue = new PQueue({ concurrency });
  const root = await queue.add(() => noop(-1));
  const tasks = new Array<Promise<number>>(n);
  for (let i = 0; i < n; i++) tasks[i] = queue.add(() => noop(i + root + 1));
  const values = await Promise.all(tasks);
  await queue.add(() => noop(values.length));
}

async function chain(n: number, concurrency: number): Promise<void> {
  const queue = new PQueue({ concurrency });
  let previous = 0;
  for (let i = 0; i < n; i++) {
    const p = previous;
    previous = await queue.add(() => noop(p + 1));
  }
}

export const prepare: Prepare = async (shape: Shape, n: number, concurrency: number): Promise<Prepared> => {
  const body = shape === "fanout" ? fanout : chain;
  return {
    buildMs: 0,
    async round(): Promise<Round> {
      return { run: () => body(n, concurrency), cleanup: async () => {} };
    },
  };
};
