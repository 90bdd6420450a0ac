/**
 * The bench's printed report: the tables of rows, the peers' ratios, the
 * flushes per step and the target lines (`render`), and the number and
 * table formats they share.
 *
 * @module
 */
import type { DistributedResult } from "./distributed-run.js";
import { renderImportTime, type ImportTime } from "./import-time.js";
import { PEER_SIZES, PEERS } from "./plan.js";
import type { Kind, Shape, SystemName } from "./protocol.js";
import { flushesOf, nodeCount, type Row } from "./rows.js";
import type { Target } from "./targets.js";

export function fmt(x: number | undefined, digits?: number): string {
  if (x === undefined || !Number.isFinite(x)) return "-";
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function table(headers: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** The note column: why a row has no numbers (cut short; the JSON has it whole). */
export function note(r: Row): string {
  if (r.status === "ok") return "";
  const text = `${r.status} (${r.reason ?? ""})`;
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}

export function render(
  rows: readonly Row[],
  ts: readonly Target[],
  importTime: ImportTime | undefined,
  distributed: DistributedResult | undefined,
  pgSettings: string | undefined,
): string {
  const of = (kind: Kind): Row[] => rows.filter((r) => r.spec.kind === kind);
  const n = (r: Row): string => r.spec.n.toLocaleString("en-US");
  const rounds = (r: Row): string => String(r.raw?.roundsMs.length ?? r.spec.rounds);
  /** The rounds counted and their median, lowest and highest (ms). */
  const timing = (r: Row): string[] => [rounds(r), fmt(r.medianMs), fmt(r.minMs), fmt(r.maxMs)];
  const parts: string[] = [];
  /** A table of the rows of `kind`, under `title`, when there are any (`after`: what follows the table). */
  const section = (kind: Kind, title: string, headers: readonly string[], cells: (r: Row) => string[], after = ""): void => {
    const these = of(kind);
    if (these.length > 0) parts.push(`${title}\n${table(headers, these.map(cells))}${after}`);
  };
  const time = of("time");
  section(
    "time",
    "Run time (median of counted rounds; ratio to raw p-queue on the same graph)",
    ["shape", "system", "N", "rounds", "median ms", "min ms", "max ms", "us/node", "x p-queue", "note"],
    (r) => [r.spec.shape, r.spec.system, n(r), ...timing(r), fmt(r.usPerNode), r.ratio === undefined ? "-" : `${fmt(r.ratio)}x`, note(r)],
  );
  section(
    "pair",
    "Paired fsync chain / fdatasync floor (one child; rounds alternate floor, chain, floor, ...; ratio = chain round / mean of the floor rounds before and after it)",
    ["shape", "system", "N", "pairs", "chain us/step", "floor us/step", "floor min", "floor max", "ratio median", "ratio min", "ratio max", "note"],
    (r) => [
      r.spec.shape,
      r.spec.system,
      n(r),
      String(r.pair?.ratios.length ?? r.spec.rounds),
      fmt(r.pair?.chainUsPerStep),
      fmt(r.pair?.floorUsPerStep),
      fmt(r.pair?.floorMinUsPerStep),
      fmt(r.pair?.floorMaxUsPerStep),
      r.pair === undefined ? "-" : `${fmt(r.pair.ratio)}x`,
      r.pair === undefined ? "-" : `${fmt(r.pair.minRatio)}x`,
      r.pair === undefined ? "-" : `${fmt(r.pair.maxRatio)}x`,
      note(r),
    ],
  );
  section(
    "resume",
    "Cold resume (10,000-node fan-out, 9,000 middle nodes stored done, 1,000 failed; second runAsync only; LowdbStore), each between two full runs of the same graph in its child",
    [
      "shape",
      "system",
      "N",
      "rounds",
      "median ms",
      "min ms",
      "max ms",
      "bodies run",
      "full runs median ms",
      "paired ratio",
      "min",
      "max",
      "x time row",
      "note",
    ],
    (r) => [
      r.spec.shape,
      r.spec.system,
      n(r),
      ...timing(r),
      fmt(r.resumedBodies, 0),
      fmt(r.resumePair?.fullRunMs),
      r.resumePair === undefined ? "-" : `${fmt(r.resumePair.ratio)}x`,
      r.resumePair === undefined ? "-" : `${fmt(r.resumePair.minRatio)}x`,
      r.resumePair === undefined ? "-" : `${fmt(r.resumePair.maxRatio)}x`,
      r.ratio === undefined ? "-" : `${fmt(r.ratio)}x`,
      note(r),
    ],
  );
  section(
    "memory",
    "Peak memory (maxRSS of a child that builds the graph and runs it once)",
    ["shape", "system", "N", "peak RSS MB", "RSS before run MB", "run ms", "us/node", "build ms", "note"],
    (r) => [r.spec.shape, r.spec.system, n(r), fmt(r.maxRssMB, 0), fmt(r.rssBeforeRunMB, 0), fmt(r.medianMs), fmt(r.usPerNode), fmt(r.buildMs), note(r)],
  );
  section(
    "bytes",
    "Bytes written per node status transition (LowdbStore; /proc/self/io wchar delta / transitions counted by events)",
    ["shape", "system", "N", "rounds", "bytes written", "transitions", "bytes/transition", "note"],
    (r) => [r.spec.shape, r.spec.system, n(r), rounds(r), fmt(r.wcharBytes, 0), fmt(r.transitions, 0), fmt(r.bytesPerTransition, 1), note(r)],
  );
  section(
    "stages",
    "Stage runner (N tasks through two no-op agent stages, one runAsync, a fresh store per round)",
    ["kind", "system", "N", "rounds", "median ms", "min ms", "max ms", "tasks/s", "note"],
    (r) => [r.spec.kind, r.spec.system, n(r), ...timing(r), fmt(r.tasksPerSecond, 0), note(r)],
  );
  section(
    "syscalls",
    "System calls per run (strace -f -c; difference of two children with different round counts, divided by the extra rounds)",
    ["shape", "system", "N", "syscalls/run", "per node", "flushes/run", "flushes/node", "PG WAL flushes/run", "most frequent", "note"],
    (r) => {
      const c = r.syscalls?.perRun ?? {};
      const nodes = nodeCount(r.spec.shape, r.spec.n);
      const frequent = Object.entries(c)
        .filter(([k]) => k !== "total")
        .sort((x, y) => y[1] - x[1])
        .slice(0, 5)
        .map(([k, v]) => `${k} ${fmt(v, 0)}`)
        .join(", ");
      const flushes = r.syscalls ? flushesOf(c) : undefined;
      return [
        r.spec.shape,
        r.spec.system,
        n(r),
        fmt(c.total, 0),
        fmt(c.total === undefined ? undefined : c.total / nodes, 1),
        fmt(flushes, 1),
        fmt(flushes === undefined ? undefined : flushes / nodes, 2),
        fmt(r.syscalls?.pgWalSyncsPerRun, 1),
        frequent,
        note(r),
      ];
    },
    pgSettings === undefined ? "" : `\nDBOS flushes in its database server, not in its process: ${pgSettings}`,
  );
  const peerRows = PEER_SIZES.flatMap((size) => (["fanout", "chain"] as const).map((shape) => ({ shape, size })));
  if (time.some((r) => PEERS.includes(r.spec.system))) {
    const cell = (system: SystemName, shape: Shape, size: number): Row | undefined =>
      time.find((r) => r.spec.system === system && r.spec.shape === shape && r.spec.n === size && r.status === "ok");
    const ratio = (peer: SystemName, mine: SystemName, shape: Shape, size: number): string => {
      const p = cell(peer, shape, size)?.medianMs;
      const t = cell(mine, shape, size)?.medianMs;
      return p === undefined || t === undefined ? "-" : `${fmt(p / t)}x`;
    };
    parts.push(
      "Peers (median ms; ratio = peer time / taskloom time, above 1x means taskloom is ahead)\n" +
        table(
          [
            "shape",
            "N",
            "",
            "lowdb ms",
            "fsync ms",
            "langgraph ms",
            "lg-sqlite ms",
            "dbos ms",
            "lg/lowdb",
            "lg-sqlite/lowdb",
            "dbos/lowdb",
            "lg-sqlite/fsync",
            "dbos/fsync",
          ],
          peerRows
            .filter(({ shape, size }) => [...PEERS, "taskloom-lowdb" as const].some((system) => cell(system, shape, size) !== undefined))
            .map(({ shape, size }) => [
              shape,
              size.toLocaleString("en-US"),
              "",
              fmt(cell("taskloom-lowdb", shape, size)?.medianMs),
              fmt(cell("taskloom-lowdb-fsync", shape, size)?.medianMs),
              fmt(cell("langgraph", shape, size)?.medianMs),
              fmt(cell("langgraph-sqlite", shape, size)?.medianMs),
              fmt(cell("dbos", shape, size)?.medianMs),
              ratio("langgraph", "taskloom-lowdb", shape, size),
              ratio("langgraph-sqlite", "taskloom-lowdb", shape, size),
              ratio("dbos", "taskloom-lowdb", shape, size),
              ratio("langgraph-sqlite", "taskloom-lowdb-fsync", shape, size),
              ratio("dbos", "taskloom-lowdb-fsync", shape, size),
            ]),
        ),
    );
  }
  if (importTime !== undefined) parts.push(renderImportTime(importTime));
  if (distributed !== undefined) parts.push(distributed.table);
  parts.push("Targets\n" + ts.map((t) => `${t.verdict.padEnd(4)}  ${t.name}: ${t.detail}`).join("\n"));
  return parts.join("\n\n");
}
