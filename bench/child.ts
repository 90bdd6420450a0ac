/**
 * One scenario in its own child process (`node --import tsx
 * bench/scenario.ts …`), its budget enforced from outside too: what
 * `bench/run.ts` and `bench/spread.ts` run each row with.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PHASE_PREFIX, specToArgs, type ScenarioResult, type ScenarioSpec } from "./protocol.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);

/** Slack the parent gives a child's phase beyond the budget before killing it (ms). */
const PHASE_GRACE_MS = 15_000;

/**
 * Runs one scenario in a child process and returns its JSON line. Budgets
 * are enforced twice: by the child's own timer (clean report) and here, per
 * phase announced on the child's stderr, by killing the child (for runs
 * that starve the child's timers); plus an overall backstop.
 */
export function runChild(spec: ScenarioSpec, env: NodeJS.ProcessEnv, wrapper: readonly string[] = []): Promise<ScenarioResult> {
  const node = [process.execPath, "--expose-gc", "--max-old-space-size=8192", "--import", "tsx", join(BENCH_DIR, "scenario.ts"), ...specToArgs(spec)];
  const [command, ...args] = [...wrapper, ...node] as [string, ...string[]];
  const phases = spec.kind === "pair" ? 2 * (spec.warmup + spec.rounds) + 2 : spec.warmup + spec.rounds + 1;
  const backstopMs = phases * spec.budgetMs + 60_000;
  const budgetS = Math.round(spec.budgetMs / 1000);
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderrTail = "";
    let partialLine = "";
    let killedBecause: string | undefined;
    let phaseTimer: NodeJS.Timeout | undefined;
    const kill = (reason: string): void => {
      killedBecause = reason;
      child.kill("SIGKILL");
    };
    const armPhase = (what: string): void => {
      clearTimeout(phaseTimer);
      phaseTimer = setTimeout(() => kill(`${what} took over the ${budgetS} s budget (the child was stopped)`), spec.budgetMs + PHASE_GRACE_MS);
    };
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      const lines = (partialLine + d).split("\n");
      partialLine = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith(PHASE_PREFIX)) armPhase(line.slice(PHASE_PREFIX.length));
        else stderrTail = `${stderrTail}${line}\n`.slice(-4000);
      }
    });
    const backstop = setTimeout(() => kill(`the child ran past ${Math.round(backstopMs / 1000)} s`), backstopMs);
    child.on("close", (code, signal) => {
      clearTimeout(backstop);
      clearTimeout(phaseTimer);
      const line = stdout
        .trim()
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("{"));
      const empty: ScenarioResult = { spec, roundsMs: [], warmupMs: [], buildMs: 0, maxRssKB: 0, rssBeforeRunKB: 0 };
      if (line !== undefined) {
        try {
          resolve(JSON.parse(line) as ScenarioResult);
          return;
        } catch {
          // fall through: report the child's output as the error
        }
      }
      if (killedBecause !== undefined) resolve({ ...empty, skipped: killedBecause });
      else {
        const tail = stderrTail.trim().split("\n").slice(-5).join(" | ");
        resolve({ ...empty, error: `child exited with ${signal ?? code} and no result: ${tail}` });
      }
    });
  });
}
