/**
 * taskloom under benchmark: the same no-op graphs built through the public
 * builder, run with `MemoryStore` or with the default durable store
 * (`LowdbStore` in a fresh temp dir per round, `fsync: true` for
 * `taskloom-lowdb-fsync`), `maxConcurrency` as given.
 *
 * Besides timed runs this file holds the two taskloom-only measurements:
 * - bytes per node status transition (`/proc/self/io` wchar delta around a
 *   run, divided by the node transitions counted through `handle.events`);
 * - cold resume: a stored 10,000-node fan-out whose 1,000 failing nodes
 *   (every tenth middle node) failed on the first run; only the second
 *   `runAsync` on the same run id, with a new store instance, is timed.
 *
 * The graph is built with a loop over a loosely typed view of the builder:
 * the typed builder's accumulated node-map type cannot follow 100,000 dynamic ids.
 * Timed region of a round: `runAsync` plus `store.close()`, so that a store
 * that defers writes to `close` is not flattered.
 *
 * @module
 */
import { mkdtemp } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunStore, TaskGraph } from "../../src/index.js";
import type { Shape, SystemName } from "../protocol.js";
import { retire } from "../retire.js";
import { noOpStageRunner } from "../stage-workflow.js";
import { taskloom } from "../taskloom-lib.js";
import { nodeIds, type Prepare, type Prepared, type Round } from "./types.js";

const { graph, LowdbStore, MemoryStore, NonRetryableError, run, runAsync } = taskloom;

type AnyGraph = TaskGraph<undefined, null>;
type Body = (index: number) => () => Promise<number>;

const noopBody: Body = (i) => async () => i;

/** The builder as the loop below uses it, with node ids as plain strings. */
interface LooseBuilder {
  node(id: string, fn: () => Promise<number>, options?: { after: readonly string[] }): LooseBuilder;
  output(fn: () => null): { build(): unknown };
}

/** Builds the bench graph through the public builder; `body(i)` makes middle node i's body. */
export function buildGraph(shape: Shape, n: number, body: Body = noopBody): AnyGraph {
  const ids = nodeIds(n);
  // The typed builder's node-map type explodes at thousands of dynamic ids.
  let b = graph(shape) as unknown as LooseBuilder;
  if (shape === "fanout") {
    b = b.node("root", async () => 0);
    for (let i = 0; i < n; i++) b = b.node(ids[i]!, body(i), { after: ["root"] });
    b = b.node("join", async () => 0, { after: ids });
  } else {
    b = b.node(ids[0]!, body(0));
    for (let i = 1; i < n; i++) b = b.node(ids[i]!, body(i), { after: [ids[i - 1]!] });
  }
  return b.output(() => null).build() as AnyGraph;
}

/** A fresh store for one round, and how to dispose of it. */
interface StoreLease {
  readonly store: RunStore;
  readonly dir: string | undefined;
  dispose(): Promise<void>;
}

async function freshStore(system: SystemName): Promise<StoreLease> {
  if (system === "taskloom-memory") {
    return { store: new MemoryStore(), dir: undefined, dispose: async () => {} };
  }
  const dir = await mkdtemp(join(tmpdir(), "taskloom-bench-"));
  return {
    store: new LowdbStore(system === "taskloom-lowdb-fsync" ? { dir, fsync: true } : { dir }),
    dir,
    dispose: () => retire(dir),
  };
}

/** Timed rounds (`time` and `memory` kinds). */
export function prepareFor(system: SystemName): Prepare {
  return async (shape: Shape, n: number, concurrency: number): Promise<Prepared> => {
    const t0 = performance.now();
    const g = buildGraph(shape, n);
    const buildMs = performance.now() - t0;
    return {
      buildMs,
      async round(index: number): Promise<Round> {
        const lease = await freshStore(system);
        return {
          run: async () => {
            await runAsync(g, undefined, { store: lease.store, runId: `bench-${index}`, maxConcurrency: concurrency });
            await lease.store.close();
          },
          cleanup: () => lease.dispose(),
        };
      },
    };
  };
}

/** Bytes this process has passed to write(2) and friends so far (`/proc/self/io` wchar). */
export function wchar(): number {
  const io = readFileSync("/proc/self/io", "utf8");
  const m = /^wchar:\s*(\d+)$/m.exec(io);
  if (!m?.[1]) throw new Error("bench: /proc/self/io has no wchar line (Linux only)");
  return Number(m[1]);
}

/** Node status transitions, as counted through events. */
const TRANSITION_EVENTS = ["node:start", "node:retry", "node:success", "node:error", "node:skip", "node:wait"] as const;

/** One durable run: the wchar delta around it, and the node transitions it made. */
export async function measureBytesOnce(g: AnyGraph, index: number, concurrency: number): Promise<{ bytes: number; transitions: number }> {
  const lease = await freshStore("taskloom-lowdb");
  try {
    let transitions = 0;
    const before = wchar();
    const handle = run(g, undefined, { store: lease.store, runId: `bench-${index}`, maxConcurrency: concurrency });
    for (const name of TRANSITION_EVENTS) handle.events.on(name, () => void transitions++);
    await handle.result();
    await lease.store.close();
    const bytes = wchar() - before;
    return { bytes, transitions };
  } finally {
    await lease.dispose();
  }
}

// ---- cold resume -----------------------------------------------------------

/** While true, every tenth middle node throws `NonRetryableError` (the "first run"). */
let failing = true;
/** Middle-node bodies run since the last reset. */
let bodiesRun = 0;

const resumeBody: Body = (i) => async () => {
  bodiesRun++;
  if (failing && i % 10 === 0) throw new NonRetryableError(`bench: planned failure of n${i}`);
  return i;
};

/** The resume graph: a fan-out whose every tenth middle node fails while `failing` is set. */
export function buildResumeGraph(n: number): AnyGraph {
  return buildGraph("fanout", n, resumeBody);
}

/**
 * One cold resume. Untimed: a first run with `continueOnError` and one
 * attempt per node, which stores the run with n - n/10 middle nodes done
 * and n/10 failed. Timed: the second `runAsync` with the same run id
 * through a new `LowdbStore` on the same dir.
 */
export async function measureResumeOnce(g: AnyGraph, index: number, concurrency: number): Promise<{ ms: number; resumedBodies: number }> {
  const dir = await mkdtemp(join(tmpdir(), "taskloom-bench-resume-"));
  const runId = `bench-resume-${index}`;
  try {
    failing = true;
    const first = new LowdbStore({ dir });
    const firstRun = runAsync(g, undefined, {
      store: first,
      runId,
      maxConcurrency: concurrency,
      continueOnError: true,
      retry: { maxAttempts: 1 },
    });
    const failed = await firstRun.then(
      () => false,
      () => true,
    );
    await first.close();
    if (!failed) throw new Error("bench: the first run of the resume scenario was expected to fail");

    failing = false;
    bodiesRun = 0;
    const t0 = performance.now();
    const second = new LowdbStore({ dir });
    await runAsync(g, undefined, { store: second, runId, maxConcurrency: concurrency, retry: { maxAttempts: 1 } });
    await second.close();
    const ms = performance.now() - t0;
    return { ms, resumedBodies: bodiesRun };
  } finally {
    await retire(dir);
  }
}

// ---- stage runner -----------------------------------------------------------

/**
 * `stages`: each round, a new `StageRunner` on a fresh store runs N tasks
 * (given as an array) through the two agent stages in one `runAsync`
 * (default batch size and concurrency); timed: `runAsync` plus
 * `store.close()`. The round checks that every task completed.
 */
export function prepareStages(system: SystemName): Prepare {
  return async (_shape: Shape, n: number): Promise<Prepared> => {
    const tasks = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, data: { i } }));
    return {
      buildMs: 0,
      async round(index: number): Promise<Round> {
        const lease = await freshStore(system);
        const runner = noOpStageRunner(lease.store);
        return {
          run: async () => {
            const report = await runner.runAsync({ tasks, runId: `bench-stages-${index}` });
            await lease.store.close();
            if (report.completed !== n) {
              throw new Error(`bench: the stage runner completed ${report.completed} of ${n} tasks (failed: ${report.failed.length})`);
            }
          },
          cleanup: () => lease.dispose(),
        };
      },
    };
  };
}
