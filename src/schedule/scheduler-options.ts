/**
 * The options of a {@link Scheduler} and their validation: the graphs it
 * may run (by name, one graph per name), the clock, the poll interval, the
 * lease TTL, the catch-up grace and the options of every run.
 *
 * Invariants: every duration is a whole number of ms a Node timer keeps
 * (at most 2^31-1; a longer one would fire at once); `runOptions` never
 * sets `runId`, `store`, `clock` or `signal`, which the scheduler sets for
 * each run; two different graphs never share a name.
 *
 * @module
 */
import { assertKnownKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { TaskGraph } from "../graph/task-graph.js";
import type { NodeExecutor } from "../engine/node-executor.js";
import type { GraphFnLike } from "../runner/run.js";
import { validateLeaseTtl, validateRunOptions, type RunOptions } from "../runner/run-options.js";
import type { Clock } from "../core/clock.js";
import { clockOption } from "./clock-option.js";
import { storesOf, type ResolvedStores, type ScheduleStoreOption } from "./store-options.js";
import { valueText } from "../core/text.js";

/**
 * A graph the scheduler can run: a `TaskGraph` or a `graphFn`, of any
 * input and output types (a schedule's inputs are data read back from the
 * store, checked by the graph's own validator when it has one).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- inputs are stored data; the graph's validator checks them
export type RunnableGraph = TaskGraph<any, any> | GraphFnLike<any, any>;

/**
 * Options of {@link Scheduler}.
 *
 * @example
 * ```ts
 * const s = new Scheduler({ store, graphs: [digest, relabel], pollMs: 5_000 });
 * ```
 */
export interface SchedulerOptions extends ScheduleStoreOption {
  /** The graphs it may run, by their names (an array, or a record whose keys are ignored). */
  readonly graphs?: readonly RunnableGraph[] | Readonly<Record<string, RunnableGraph>>;
  /** The clock (tests pass a `ManualClock`). @default the system clock */
  readonly clock?: Clock;
  /** How often the store is read for new, paused, resumed and orphaned schedules (ms). @default 1_000 */
  readonly pollMs?: number;
  /** How long a schedule's lease lasts without renewal (ms, at least 100). @default 30_000 */
  readonly leaseTtlMs?: number;
  /** The latest due slot still counts as on time this long after it (for `catchUp: "skip"`) (ms). @default 60_000 */
  readonly graceMs?: number;
  /**
   * Options for every run (`maxConcurrency`, `retry`, `timeoutMs` as the
   * default deadline of scheduled runs, …); a schedule's own `runOptions`
   * override them. `runId`, `store`, `clock` and `signal` are the scheduler's.
   */
  readonly runOptions?: Omit<RunOptions, "runId" | "store" | "clock" | "signal">;
  /**
   * Executors that schedules may name in `runOptions: { executor: "name" }`
   * (e.g. `{ bullmq: new BullMQExecutor(...) }`). A scheduler does not take
   * a schedule whose executor it was not given; it reports it instead.
   * @default none
   */
  readonly executors?: Readonly<Record<string, NodeExecutor>>;
}

/** The longest delay a Node timer keeps (ms); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The run options a scheduler passes to every run (it sets the rest itself). */
export type SchedulerRunOptions = Omit<RunOptions, "runId" | "store" | "clock" | "signal">;

/** The options of a {@link Scheduler}, checked and with their defaults. */
export interface ResolvedSchedulerOptions {
  readonly stores: ResolvedStores;
  readonly graphs: ReadonlyMap<string, RunnableGraph>;
  readonly clock: Clock;
  readonly pollMs: number;
  readonly ttlMs: number;
  readonly graceMs: number;
  readonly runOptions: SchedulerRunOptions;
  readonly executors: ReadonlyMap<string, NodeExecutor>;
}

/** Checks a {@link Scheduler}'s options and resolves their defaults. Throws `InvalidOptionError`. */
export function resolveSchedulerOptions(options: SchedulerOptions): ResolvedSchedulerOptions {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("options", "must be an object");
  assertKnownKeys("Scheduler", options, ["store", "schedules", "graphs", "clock", "pollMs", "leaseTtlMs", "graceMs", "runOptions", "executors"]);
  const stores = storesOf(options);
  const clock = clockOption(options.clock);
  const pollMs = positive(options.pollMs, "pollMs", 1_000);
  const ttlMs = positive(options.leaseTtlMs, "leaseTtlMs", 30_000);
  validateLeaseTtl(ttlMs);
  const graceMs = positive(options.graceMs, "graceMs", 60_000, true);
  if (options.runOptions !== undefined) {
    const given: unknown = options.runOptions;
    if (given === null || typeof given !== "object" || Array.isArray(given)) {
      throw new InvalidOptionError("runOptions", `must be an object of run options, such as { timeoutMs: 60_000 } (got ${valueText(given)})`);
    }
    for (const key of ["runId", "store", "clock", "signal"]) {
      if (key in options.runOptions) throw new InvalidOptionError(`runOptions.${key}`, "is set by the scheduler for each run");
    }
    validateRunOptions(options.runOptions);
  }
  const runOptions = options.runOptions ?? {};
  const graphs = new Map<string, RunnableGraph>();
  const givenGraphs: unknown = options.graphs;
  if (givenGraphs !== undefined && (givenGraphs === null || typeof givenGraphs !== "object")) {
    throw new InvalidOptionError("graphs", `must be an array or an object of graphs, such as [digest] (got ${valueText(givenGraphs)})`);
  }
  const list = options.graphs === undefined ? [] : Array.isArray(options.graphs) ? options.graphs : Object.values(options.graphs);
  for (const g of list as RunnableGraph[]) {
    const graph: unknown = typeof g === "function" ? g.graph : g;
    if (!(graph instanceof TaskGraph)) throw new InvalidOptionError("graphs", "must hold TaskGraphs (graph(name)...build()) or graphFns");
    const other = graphs.get(graph.name);
    if (other && other !== g) throw new InvalidOptionError("graphs", `holds two graphs named "${graph.name}"; schedules find their graph by name`);
    graphs.set(graph.name, g);
  }
  const executors = new Map<string, NodeExecutor>();
  if (options.executors !== undefined) {
    if (options.executors === null || typeof options.executors !== "object" || Array.isArray(options.executors)) {
      throw new InvalidOptionError("executors", "must be an object of named executors, such as { bullmq: executor }");
    }
    for (const [name, executor] of Object.entries(options.executors)) {
      const e = executor as Partial<NodeExecutor> | null;
      if (e === null || typeof e !== "object" || typeof e.execute !== "function") {
        throw new InvalidOptionError(`executors.${name}`, "must be an executor (an object with execute(activation, context))");
      }
      executors.set(name, executor);
    }
  }
  return { stores, graphs, clock, pollMs, ttlMs, graceMs, runOptions, executors };
}

function positive(value: unknown, name: string, fallback: number, zeroOk = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < (zeroOk ? 0 : 1) || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(name, `must be a number of ms of at least ${zeroOk ? 0 : 1} and at most ${MAX_TIMER_MS} (got ${valueText(value)})`);
  }
  return value;
}
