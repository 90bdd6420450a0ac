/**
 * Running a crash-test child: `node` itself (never a wrapper such as npx
 * or tsx, which would survive as a parent while SIGKILL misses the process
 * that holds the run), with the store folder, run id and side-effect log
 * in its environment, killed with SIGKILL as soon as a chosen line appears
 * in the log.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

/** How a child ended. */
export interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly pid: number;
}

/**
 * Runs `script` (with `args`) with `TASKLOOM_DIR`, `RUN_ID` and `LOG` set, and
 * `env` besides (none unless given); when `killOn` is given, SIGKILLs the
 * child once a log line starting with it (and ending with the child's pid)
 * appears.
 */
export function runChildScript(
  script: string,
  dir: string,
  runId: string,
  log: string,
  killOn?: string,
  args: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<ChildResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      // KILL_ON lets a child that logs through test/fixtures/log-line.mjs stop dead at the kill point.
      env: { ...process.env, ...env, TASKLOOM_DIR: dir, RUN_ID: runId, LOG: log, ...(killOn !== undefined && { KILL_ON: killOn }) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let watcher: NodeJS.Timeout | undefined;
    if (killOn !== undefined) {
      watcher = setInterval(() => {
        if (!existsSync(log)) return;
        const lines = readFileSync(log, "utf8").split("\n");
        if (lines.some((l) => l.startsWith(`${killOn} `) && l.endsWith(` ${child.pid}`))) {
          child.kill("SIGKILL");
          clearInterval(watcher);
        }
      }, 2);
    }
    child.on("error", reject);
    // "close", not "exit": a busy machine can deliver the child's last stdout chunk after its exit event.
    child.on("close", (code, signal) => {
      if (watcher) clearInterval(watcher);
      resolvePromise({ code, signal, stdout, stderr, pid: child.pid ?? -1 });
    });
  });
}

/** The log lines written by process `pid`, without the pid. */
export function logLines(log: string, pid: number): string[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => l.endsWith(` ${pid}`))
    .map((l) => l.slice(0, -` ${pid}`.length));
}

/** The ids in the log lines of `pid` that begin with `kind` (lines such as `start <id>` or `end <id>`). */
export function loggedIds(log: string, pid: number, kind: string): string[] {
  return logLines(log, pid)
    .filter((l) => l.startsWith(`${kind} `))
    .map((l) => l.split(" ")[1] as string);
}

/** A child `node --import tsx` process read line by line ({@link startLineChild}). */
export interface LineChild {
  readonly child: ChildProcessWithoutNullStreams;
  /** The next line the child writes to stdout; rejects when it exits first. */
  readonly nextLine: () => Promise<string>;
  readonly exited: Promise<void>;
}

/** Starts `node --import tsx ...args` in the repository's folder, its stdout read as lines. */
export function startLineChild(args: readonly string[]): LineChild {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: resolve(import.meta.dirname, "../..") });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buffer = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf("\n")) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const next = waiting.shift();
      if (next) next(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  const nextLine = () =>
    new Promise<string>((resolveLine, reject) => {
      const ready = lines.shift();
      if (ready !== undefined) return resolveLine(ready);
      waiting.push(resolveLine);
      void exited.then(() => reject(new Error(`child ${args.join(" ")} exited early: ${stderr}`)));
    });
  return { child, nextLine, exited };
}
