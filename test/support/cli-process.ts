/**
 * Running the built `taskloom` command in tests: `node dist/cli/main.js`
 * with `TASKLOOM_DIR` set, and the check that a failed command printed one
 * error line. Run `npm run build` first.
 */
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { expect } from "vitest";

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, "../..");
/** The built CLI. */
export const CLI = join(ROOT, "dist/cli/main.js");

/** How a command ended. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI with TASKLOOM_DIR = dir (and `env`). */
export function runCli(dir: string, args: readonly string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: ROOT, env: { ...process.env, TASKLOOM_DIR: dir, FORCE_COLOR: "0", ...env }, timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** Asserts a failed command printed exactly one error line with `code` and no stack. */
export function expectOneLineError(r: CliResult, code: string): void {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toContain(`error[${code}]`);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).toBe("");
}
