/**
 * The contract between the orchestrator (`bench/run.ts`) and one child
 * process (`bench/scenario.ts`): what a scenario is, how it travels on the
 * command line, and the one JSON line a child prints.
 *
 * Design: every scenario runs in its own fresh Node process so that JIT
 * state, heap growth and `maxRSS` of one scenario never leak into another.
 * The child does its own warm-up and rounds and reports raw per-round
 * numbers; all statistics (median, ratios, targets) live in the parent.
 *
 * @module
 */

/**
 * What is being run:
 * - `pqueue`: the floor, the same graph straight through p-queue;
 * - `taskloom-memory` / `taskloom-lowdb` / `taskloom-lowdb-fsync`: taskloom on
 *   `MemoryStore`, on the default `LowdbStore`, and on `LowdbStore({ fsync: true })`;
 * - `langgraph`: LangGraph.js with `MemorySaver` (in memory);
 * - `langgraph-sqlite`: LangGraph.js with `SqliteSaver` (a SQLite file, WAL);
 * - `dbos`: DBOS Transact on the local PostgreSQL, one step per node;
 * - `fdatasync`: the power-loss floor, a bare loop of write + `fdatasync`
 *   on a small file (chain shape only, one flush per step);
 * - `write`: the floor of a chain without fsync, a bare loop of one
 *   `write` per step appending a journal-line-sized record (chain shape only);
 * - `taskloom-memory-write`: `taskloom-memory` whose node bodies each make
 *   that `write` (chain 10,000 only): the floor of a durable chain with the
 *   engine in it (`systems/memory-write.ts`).
 */
export type SystemName =
  | "pqueue"
  | "taskloom-memory"
  | "taskloom-lowdb"
  | "taskloom-lowdb-fsync"
  | "langgraph"
  | "langgraph-sqlite"
  | "dbos"
  | "fdatasync"
  | "write"
  | "taskloom-memory-write";

/** Every system, in table order. */
export const SYSTEMS: readonly SystemName[] = [
  "pqueue",
  "fdatasync",
  "write",
  "taskloom-memory",
  "taskloom-memory-write",
  "taskloom-lowdb",
  "taskloom-lowdb-fsync",
  "langgraph",
  "langgraph-sqlite",
  "dbos",
];

/** The graph shape: 1 root → N parallel → 1 join, or N nodes in a line. */
export type Shape = "fanout" | "chain";

/**
 * What the child measures:
 * - `time`: wall time of whole runs (warm-up + rounds);
 * - `memory`: one run, peak RSS of the process;
 * - `bytes`: bytes written (`/proc/self/io` wchar) per node status transition;
 * - `resume`: wall time of the second `runAsync` of a half-failed stored run;
 * - `syscalls`: whole runs like `time`, under `strace -f -c` (the parent
 *   runs the child twice with two round counts; the difference is per run);
 * - `stages`: N tasks through two no-op agent stages (`StageRunner`);
 * - `pair`: the `fdatasync` floor and `system` (the fsync chain) in ONE
 *   child, their rounds alternating floor, chain, floor, …, floor, so that
 *   each chain round has a floor round measured just before and just after
 *   it. A disk's flush latency drifts several-fold over minutes, so a floor
 *   and a chain measured in two children minutes apart do not compare.
 */
export type Kind = "time" | "memory" | "bytes" | "resume" | "syscalls" | "stages" | "pair";

/** Every kind. */
export const KINDS: readonly Kind[] = ["time", "memory", "bytes", "resume", "syscalls", "stages", "pair"];

/** One scenario, as passed to a child. */
export interface ScenarioSpec {
  readonly kind: Kind;
  readonly system: SystemName;
  readonly shape: Shape;
  readonly n: number;
  /** Counted rounds. */
  readonly rounds: number;
  /** Rounds run first and not counted. */
  readonly warmup: number;
  /** A round longer than this stops the scenario, reported as skipped (ms). */
  readonly budgetMs: number;
  /** Concurrency limit for every system. */
  readonly concurrency: number;
}

/** What one child prints, as a single JSON line. */
export interface ScenarioResult {
  readonly spec: ScenarioSpec;
  /** Wall time of each counted round (ms), per run in a batched row (the batch's mean); for `bytes`, empty. */
  readonly roundsMs: number[];
  /** Wall time of each warm-up round (ms), per run in a batched row. */
  readonly warmupMs: number[];
  /** A batched `time` row (`plan.ts`, `batchedRow`): the runs in each counted round. */
  readonly batch?: number;
  /** A batched `time` row: the runs of each warm-up round (doubling from one until a round lasts `BATCH_MS`). */
  readonly warmupBatches?: number[];
  /** A batched `time` row: wall time of single runs after its counted rounds, each after a forced collection, as the bench counted before the twentieth pass (ms). */
  readonly singleMs?: number[];
  /** Time to build/compile the graph once, not counted (ms). */
  readonly buildMs: number;
  /** `process.resourceUsage().maxRSS` at the end of the child (KB). */
  readonly maxRssKB: number;
  /** RSS just before the first run, after the graph was built (KB). */
  readonly rssBeforeRunKB: number;
  /** `bytes`: wchar delta of each counted round. */
  readonly wcharBytes?: number[];
  /** `bytes`: node status transitions counted through events, each counted round. */
  readonly transitions?: number[];
  /** `resume`: node bodies that ran during the timed resume, each counted round. */
  readonly resumedBodies?: number[];
  /**
   * `resume`: wall time of each counted full run of the same graph (ms),
   * exactly the `time` row's round on `spec.system`, one more than the
   * counted resumes in `roundsMs`: full run i ran just before resume i,
   * full run i + 1 just after it (target 5 divides each resume by the two
   * around it, as `pair` does with its floor).
   */
  readonly fullRunMs?: number[];
  /**
   * `pair`: wall time of each counted floor round (ms), one more than the
   * counted chain rounds in `roundsMs`: floor round i ran just before chain
   * round i, floor round i + 1 just after it.
   */
  readonly floorMs?: number[];
  /** `stages`: tasks the runner reported completed, each counted round. */
  readonly completedTasks?: number[];
  /** Set when the scenario was given up (over budget). */
  readonly skipped?: string;
  /** Set when the scenario failed. */
  readonly error?: string;
}

/**
 * A child writes `PHASE_PREFIX + description` on a line of stderr when it
 * starts a budgeted phase (graph build, each round). The parent restarts
 * its own budget timer on each such line and kills a child whose phase
 * outlives the budget, which catches runs that starve the child's timers.
 */
export const PHASE_PREFIX = "@@bench-phase ";

const KEYS = ["kind", "system", "shape", "n", "rounds", "warmup", "budgetMs", "concurrency"] as const;

/** The child's command-line arguments for a spec. */
export function specToArgs(spec: ScenarioSpec): string[] {
  return KEYS.flatMap((k) => [`--${k}`, String(spec[k])]);
}

/** Parses a child's command-line arguments; throws on anything missing or malformed. */
export function argsToSpec(argv: readonly string[]): ScenarioSpec {
  const raw = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (key === undefined || !key.startsWith("--") || value === undefined) {
      throw new Error(`bench/scenario: expected --key value pairs, got ${JSON.stringify(argv)}`);
    }
    raw.set(key.slice(2), value);
  }
  const str = (k: string): string => {
    const v = raw.get(k);
    if (v === undefined) throw new Error(`bench/scenario: missing --${k}`);
    return v;
  };
  const num = (k: string): number => {
    const v = Number(str(k));
    if (!Number.isFinite(v) || v < 0) throw new Error(`bench/scenario: --${k} must be a non-negative number`);
    return v;
  };
  const oneOf = <T extends string>(k: string, allowed: readonly T[]): T => {
    const v = str(k);
    if (!(allowed as readonly string[]).includes(v)) throw new Error(`bench/scenario: --${k} must be one of ${allowed.join(", ")}`);
    return v as T;
  };
  return {
    kind: oneOf<Kind>("kind", KINDS),
    system: oneOf<SystemName>("system", SYSTEMS),
    shape: oneOf<Shape>("shape", ["fanout", "chain"]),
    n: num("n"),
    rounds: num("rounds"),
    warmup: num("warmup"),
    budgetMs: num("budgetMs"),
    concurrency: num("concurrency"),
  };
}

/** A short human name for a spec, e.g. `time taskloom-lowdb fanout 10,000`. */
export function specLabel(spec: ScenarioSpec): string {
  return `${spec.kind} ${spec.system} ${spec.shape} ${spec.n.toLocaleString("en-US")}`;
}
