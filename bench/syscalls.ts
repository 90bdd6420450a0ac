/**
 * The strace rows: system calls and flushes per run, from the difference
 * of two traced children with different round counts.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChild } from "./child.js";
import { pgWalSyncs } from "./peer-db.js";
import { specLabel, type ScenarioResult, type ScenarioSpec } from "./protocol.js";
import { toRow, type Row, type SyscallFigures } from "./rows.js";

/** Where strace is, or undefined (the syscall rows then say SKIP). */
export function findStrace(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const candidate = join(dir, "strace");
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The two round counts a syscall scenario is traced with: the difference divided by their difference is per run. */
export function syscallRounds(spec: ScenarioSpec): readonly [number, number] {
  return spec.n <= 1 ? [5, 45] : [2, 12];
}

/** Syscall counts by name from `strace -c -U calls,name` output (the `total` line included). */
export function parseStrace(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\s+([a-z_0-9]+)\s*$/.exec(line);
    if (m?.[1] && m[2]) counts[m[2]] = (counts[m[2]] ?? 0) + Number(m[1]);
  }
  return counts;
}

/**
 * Runs a syscall scenario twice under `strace -f -c` (threads included),
 * with two round counts, and divides the difference of the counts by the
 * difference of the rounds: what one more run costs, start-up excluded.
 */
export async function runSyscalls(spec: ScenarioSpec, env: NodeJS.ProcessEnv, strace: string | undefined): Promise<Row> {
  const label = specLabel(spec);
  if (strace === undefined) return { label, spec, status: "skipped", reason: "strace is not installed (apt-get install strace)" };
  const [a, b] = syscallRounds(spec);
  const dir = await mkdtemp(join(tmpdir(), "taskloom-bench-strace-"));
  try {
    const counts: Record<string, number>[] = [];
    const wal: (number | undefined)[] = [];
    let last: ScenarioResult | undefined;
    for (const rounds of [a, b]) {
      const file = join(dir, `${rounds}.txt`);
      const before = spec.system === "dbos" ? await pgWalSyncs() : undefined;
      const r = await runChild({ ...spec, rounds }, env, [strace, "-f", "-c", "-U", "calls,name", "-o", file]);
      if (r.error !== undefined || r.skipped !== undefined) return toRow(spec, r);
      if (spec.system === "dbos") {
        await new Promise((resolve) => setTimeout(resolve, 1_500)); // backends report their statistics when they end
        const after = await pgWalSyncs();
        wal.push(before === undefined || after === undefined ? undefined : after - before);
      }
      counts.push(parseStrace(await readFile(file, "utf8")));
      last = r;
    }
    const [ca, cb] = counts as [Record<string, number>, Record<string, number>];
    const perRun: Record<string, number> = {};
    for (const name of new Set([...Object.keys(ca), ...Object.keys(cb)])) {
      const d = ((cb[name] ?? 0) - (ca[name] ?? 0)) / (b - a);
      if (d > 0 || name === "total") perRun[name] = d;
    }
    const [wa, wb] = wal;
    const syscalls: SyscallFigures = {
      runs: [a, b],
      perRun,
      ...(wa !== undefined && wb !== undefined && { pgWalSyncsPerRun: Math.max(0, (wb - wa) / (b - a)) }),
    };
    return { label, spec, status: "ok", syscalls, ...(last !== undefined && { raw: last }) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
