/**
 * What `npm run bench` runs: its options (`parseOptions`), which scenarios
 * with how many rounds (`plan`), and the sizes and systems the targets of
 * issue 16 name. `bench/run.ts` runs the plan; `bench/spread.ts` takes the
 * target rows from the same plan, so both measure a row the same way.
 *
 * @module
 */
import { specLabel, type Kind, type ScenarioSpec, type Shape, type SystemName } from "./protocol.js";

/** The concurrency limit of every timed run (`maxConcurrency`, p-queue's `concurrency`). */
export const CONCURRENCY = 8;
export const HELP = `usage: npm run bench -- [options]

  --quick          2 rounds, no N = 100,000, LangGraph only up to N = 1,000 (a smoke run)
  --rounds N       counted rounds for every scenario (default 5 for N <= 10,000, 3 for 100,000)
  --budget-s S     LangGraph per-round time budget in seconds (default 120)
  --only TEXT      run only scenarios whose label contains TEXT (e.g. "chain", "langgraph fanout")
  --help           this text
`;

// ---- options ------------------------------------------------------------------

export interface Options {
  readonly quick: boolean;
  readonly rounds: number | undefined;
  readonly budgetMs: number;
  readonly only: string | undefined;
}

export function parseOptions(argv: readonly string[]): Options {
  let quick = false;
  let rounds: number | undefined;
  let budgetMs = 120_000;
  let only: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: ${arg} needs a value\n\n${HELP}`);
      return v;
    };
    const positive = (v: string): number => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`bench: ${arg} must be a positive number (got ${v})`);
      return n;
    };
    switch (arg) {
      case "--quick":
        quick = true;
        break;
      case "--rounds":
        rounds = Math.round(positive(value()));
        break;
      case "--budget-s":
        budgetMs = positive(value()) * 1000;
        break;
      case "--only":
        only = value();
        break;
      case "--help":
      case "-h":
        process.stdout.write(HELP);
        process.exit(0);
        break;
      default:
        throw new Error(`bench: unknown option ${String(arg)}\n\n${HELP}`);
    }
  }
  return { quick, rounds, budgetMs, only };
}

// ---- the plan -------------------------------------------------------------------

/** A planned scenario: run it, or report it skipped with a reason. */
export interface Planned {
  readonly spec: ScenarioSpec;
  readonly skip?: string;
}

/** The sizes the peers are compared at (issue 16: N = 100, 1,000, 10,000, chain and fan-out). */
export const PEER_SIZES = [100, 1_000, 10_000] as const;
/** Durable peers and the in-memory LangGraph, which have a per-round time budget. */
export const PEERS: readonly SystemName[] = ["langgraph", "langgraph-sqlite", "dbos"];
/** Systems whose rounds get the per-round budget (the rest only get a guard against hangs). */
export const BUDGETED: ReadonlySet<SystemName> = new Set<SystemName>([...PEERS, "taskloom-lowdb-fsync", "fdatasync"]);
/** Budget per round for the fast systems: only a guard against hangs. */
export const GUARD_BUDGET_MS = 600_000;
/** The stage-runner scenario's task count (issue 16 target 2). */
export const STAGE_TASKS = 10_000;
/** Counted chain rounds of the paired fsync chain / floor scenario (issue 16 target 4), each between two floor rounds. */
export const PAIR_ROUNDS = 15;
/**
 * Counted rounds of every system but the peers (p-queue, the floors,
 * MemoryStore, LowdbStore with and without fsync) at N = 100 to 10,000
 * where not counted 21 times already, and of the cold resume: enough that
 * the median is not decided by the JIT's tier-up, and the same count on
 * both sides of every ratio a target takes between them. With 5 rounds
 * after one warm-up (the bench before the eleventh pass of issue 16), a
 * 10,000-node fan-out's rounds fell from about 90 ms to 20 ms over the
 * first ten rounds in one process, MemoryStore's and LowdbStore's at other
 * paces, so the median of rounds 2 to 6 was a moment of the warm-up (the
 * same tree's LowdbStore / MemoryStore read 1.3x to 2.0x from run to run).
 * A round here takes 0.1 s or less, a fsync chain's of 10,000 about a
 * second. The JSON keeps every round, so the median of the first 5 can
 * still be read from it.
 */
export const STEADY_ROUNDS = 15;
/** The largest N whose `time` rows warm up with as many rounds as they count and for at least `WARMUP_MIN_MS`. */
const WARM_N = 10_000;
/** The least time a `time` row up to N = 10,000 warms up for ({@link warmupTime}). */
export const WARMUP_MIN_MS = 1_000;
/** The time after which a `time` row stops warming up, after one round at least ({@link warmupTime}). */
export const WARMUP_CAP_MS = 5_000;
/**
 * Warm-up rounds of a `time` row that counts `counted` rounds: as many as
 * it counts up to N = 10,000, one at N = 100,000, none for the peers at
 * N = 10,000 (a round takes 10 to 35 s there). Up to N = 10,000 the
 * child goes on warming up until its warm-up took 1 s, and it stops once
 * the warm-up took 5 s, whatever this count says ({@link warmupTime}).
 *
 * Why a `time` row up to N = 10,000 warms up with as many rounds as it
 * counts (since the nineteenth pass of issue 16; before it, one warm-up
 * round, three at N ≤ 100). Fifteen counted rounds after one warm-up were
 * still a moment of the JIT's warm-up: in one process, the 10,000-node
 * LowdbStore fan-out's rounds read 30 to 60 ms in rounds 3 to 10 and
 * about 25 ms from round 16 on, MemoryStore's 30 to 45 ms, then about
 * 20 ms from round 11, so the median of rounds 2 to 16 compared
 * LowdbStore in its warm-up with MemoryStore nearly warm (1.19x and 1.58x
 * in two processes, against 1.22x and 1.27x from rounds 16 to 30). The
 * code that runs once per run (the store's open, snapshot and end, the
 * outputs) tiers up with the number of runs, not of nodes: after a
 * hundred untimed runs of 1,000 nodes, the 10,000-node rounds reach their
 * floor by the third (`bench/probes/warmup-curve.ts`). The JSON keeps
 * the warm-up rounds, so the old form can still be read (`targets.ts`
 * printed it beside targets 1 and 3 in that pass; since the next, it
 * prints single runs there: {@link batchedRow}). A count is not enough where a run
 * takes a millisecond or two: at N = 100 the code that runs once per run
 * is still warming up after 42 runs (LowdbStore's 100-node fan-out read
 * 1.9 to 3.0 ms per run over runs 1 to 60, 1.6 to 1.8 ms from run 90 on,
 * MemoryStore's 1.0 to 1.8, then 0.7 to 0.9), hence the warm-up of at
 * least 1 s. Rows of slow rounds stop warming up after `WARMUP_CAP_MS`,
 * and N = 100,000 keeps one warm-up round: its first
 * round already runs each node's code 100,000 times, and target 6
 * compares that row with one cold round of 1,000,000.
 */
export function warmupRounds(system: SystemName, n: number, counted: number): number {
  return PEERS.includes(system) && n >= 10_000 ? 0 : n > WARM_N ? 1 : counted;
}

/**
 * How long a scenario's child warms up, besides the `warmup` rounds its
 * spec asks for: a `time` row up to N = 10,000 goes on until its warm-up
 * rounds took `minMs` in all (a row of runs of a millisecond or two then
 * warms up with hundreds of runs, what the code that runs once per run
 * needs, {@link warmupRounds} says why), and any `time` row stops warming
 * up once they took `capMs` (a fsync chain of 10,000 or a peer at
 * N = 1,000 then gets a few rounds, not as many as it counts). The rounds
 * of the other kinds are exactly those asked for: `syscalls` above all,
 * whose figure is the difference of two children's round counts.
 */
export function warmupTime(spec: ScenarioSpec): { readonly minMs: number; readonly capMs: number } {
  if (spec.kind !== "time") return { minMs: 0, capMs: Infinity };
  return { minMs: spec.warmup > 0 && spec.n <= WARM_N ? WARMUP_MIN_MS : 0, capMs: WARMUP_CAP_MS };
}
/** The least wall time of one counted round of a batched `time` row ({@link batchedRow}): its runs go back to back until a batch lasts this long. */
export const BATCH_MS = 20;
/** The most runs in one batch ({@link batchedRow}). */
export const MAX_BATCH = 1_024;

/**
 * Whether a `time` row counts batches of runs instead of single runs: a
 * row below N = 10,000 (since the twentieth pass of issue 16). Each
 * counted round is then as many runs as last at least {@link BATCH_MS}
 * together (the size is found during the warm-up, doubling from one), run
 * back to back after one collection, each in its own fresh store made
 * beforehand, and its figure is their mean. The rows at N ≥ 10,000 take
 * 20 ms or more per run and keep single runs.
 *
 * Why. A round is preceded by a forced collection (a full mark-compact),
 * and the run just after one is slow: MemoryStore's 1-node run took 0.04 ms
 * with the child's collections off and 0.57 to 0.88 ms with them on, and
 * its 100-node fan-out 0.20 against 0.69 to 1.40 ms (`bench/scenario.ts`
 * run without `--expose-gc`, on the twentieth pass's machine), with no
 * page fault either way, and a timer after the collection made it slower
 * still: the pause itself, not the collector's leftovers
 * (`bench/probes/after-pause.ts`). So a single
 * small run measured mostly the process recovering from the collection,
 * and target 1's ratios compared that recovery on both sides more than
 * the runs. In a batch of 20 ms the recovery is a few percent, and the
 * collections the runs cause themselves are in it, as in a process that
 * runs many small runs. The JSON also keeps single runs, each after a
 * collection (`singleMs`, the bench's rounds before that pass), which
 * `targets.ts` prints beside targets 1 and 3.
 */
export function batchedRow(spec: ScenarioSpec): boolean {
  return spec.kind === "time" && spec.n < WARM_N;
}
/** The scale scenario (issue 16 target 6). */
export const MILLION = 1_000_000;

/**
 * Which systems run at each shape and N (time kind):
 * - N = 1 (a 1-node run, chain shape): the fixed cost of a run, MemoryStore vs LowdbStore;
 * - N = 100, 1,000, 10,000: every system (the peers' sizes), the fdatasync floor up to 1,000, the
 *   two write floors (`write`, `taskloom-memory-write`) in the 10,000 chain;
 * - fan-out N = 2,000: taskloom-memory and LangGraph (the first-round LangGraph target);
 * - fan-out N = 100,000: p-queue, MemoryStore, LowdbStore.
 */
export function timeMatrix(): { shape: Shape; n: number; systems: readonly SystemName[] }[] {
  const all: SystemName[] = ["pqueue", "taskloom-memory", "taskloom-lowdb", "taskloom-lowdb-fsync", ...PEERS];
  // The 10,000 chain's: the bare write floor first, the one in MemoryStore's node bodies next to MemoryStore's row.
  const withWriteFloors: SystemName[] = ["write", ...all.flatMap((s): SystemName[] => (s === "taskloom-memory" ? [s, "taskloom-memory-write"] : [s]))];
  const out: { shape: Shape; n: number; systems: readonly SystemName[] }[] = [];
  out.push({ shape: "chain", n: 1, systems: ["taskloom-memory", "taskloom-lowdb"] });
  for (const shape of ["fanout", "chain"] as const) {
    for (const n of PEER_SIZES) {
      // The chain's floors: a flush per step (target 4) up to 1,000; a write per step (target 3) at 10,000, bare and in MemoryStore's node bodies.
      out.push({ shape, n, systems: shape === "chain" && n <= 1_000 ? ["fdatasync", ...all] : shape === "chain" && n === 10_000 ? withWriteFloors : all });
      if (shape === "fanout" && n === 1_000) out.push({ shape, n: 2_000, systems: ["pqueue", "taskloom-memory", "langgraph"] });
    }
    if (shape === "fanout") out.push({ shape, n: 100_000, systems: ["pqueue", "taskloom-memory", "taskloom-lowdb"] });
  }
  return out;
}

export function plan(o: Options): Planned[] {
  const heavy = (system: SystemName): boolean => BUDGETED.has(system);
  const peer = (system: SystemName): boolean => PEERS.includes(system);
  /** Counted rounds: many for tiny runs (their times are small and noisy), few for the peers and at 100,000 and more. */
  const rounds = (system: SystemName, n: number): number =>
    o.rounds ??
    (o.quick
      ? n <= 100 && !heavy(system)
        ? 10
        : 2
      : n <= 100 && !heavy(system)
        ? 21
        : n >= 100_000
          ? 3
          : peer(system)
            ? n >= 10_000
              ? 3
              : 5
            : STEADY_ROUNDS);
  const warmups = (system: SystemName, n: number): number => warmupRounds(system, n, rounds(system, n));
  const spec = (kind: Kind, system: SystemName, shape: Shape, n: number, r = rounds(system, n), warmup = warmups(system, n)): ScenarioSpec => ({
    kind,
    system,
    shape,
    n,
    rounds: r,
    warmup,
    budgetMs: heavy(system) ? o.budgetMs : GUARD_BUDGET_MS,
    concurrency: CONCURRENCY,
  });
  const out: Planned[] = [];
  for (const { shape, n, systems } of timeMatrix()) {
    for (const system of systems) {
      const s = spec("time", system, shape, n);
      if (n >= 100_000 && o.quick) out.push({ spec: s, skip: "--quick skips N = 100,000" });
      else if (PEERS.includes(system) && o.quick && n > 1_000) out.push({ spec: s, skip: "--quick runs the peers only up to N = 1,000" });
      else if (system === "taskloom-lowdb-fsync" && o.quick && n > 1_000) out.push({ spec: s, skip: "--quick runs fsync only up to N = 1,000" });
      else out.push({ spec: s });
    }
  }
  // Target 4: the fsync chain of 1,000 and the fdatasync floor in one child, rounds alternating (`pair` in protocol.ts).
  out.push({ spec: spec("pair", "taskloom-lowdb-fsync", "chain", 1_000, o.rounds ?? (o.quick ? 5 : PAIR_ROUNDS), 1) });
  out.push({ spec: spec("resume", "taskloom-lowdb", "fanout", 10_000, o.rounds ?? (o.quick ? 2 : STEADY_ROUNDS), 1) });
  for (const system of ["taskloom-memory", "taskloom-lowdb"] as const) {
    out.push({ spec: spec("stages", system, "chain", o.quick ? 2_000 : STAGE_TASKS, o.rounds ?? (o.quick ? 1 : 3), 0) });
  }
  for (const system of ["pqueue", "taskloom-memory", "taskloom-lowdb"] as const) {
    const s = spec("memory", system, "fanout", 100_000, 1, 0);
    out.push(o.quick ? { spec: s, skip: "--quick skips N = 100,000" } : { spec: s });
  }
  {
    const s = spec("memory", "taskloom-lowdb", "fanout", MILLION, 1, 0);
    out.push(o.quick ? { spec: s, skip: "--quick skips N = 1,000,000" } : { spec: s });
  }
  for (const shape of ["fanout", "chain"] as const) {
    for (const n of [1_000, 10_000]) out.push({ spec: spec("bytes", "taskloom-lowdb", shape, n, o.quick ? 1 : 3, 1) });
  }
  // System calls: the fixed cost of a 1-node run, and flushes per step of every durable system.
  for (const system of ["taskloom-memory", "taskloom-lowdb"] as const) out.push({ spec: spec("syscalls", system, "chain", 1, 0, 2) });
  for (const shape of ["chain", "fanout"] as const) {
    const systems: SystemName[] = ["taskloom-lowdb", "taskloom-lowdb-fsync", "langgraph-sqlite", "dbos"];
    if (shape === "chain") systems.unshift("fdatasync");
    for (const system of systems) out.push({ spec: spec("syscalls", system, shape, 100, 0, 1) });
  }
  return o.only === undefined ? out : out.filter((p) => specLabel(p.spec).includes(o.only as string));
}
