/**
 * The live view of `taskloom scheduler start` on a terminal, in process
 * through runCli with a stream that says it is a TTY: lasting event lines,
 * and below them a block of the held schedules (running job, next run)
 * that is erased and redrawn in place.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";
import { runCli } from "../src/cli/program.js";

const ROOT = resolve(import.meta.dirname, "..");
const OK = join(ROOT, "test/fixtures/cli/ok.mjs");
const dir = mkdtempSync(join(tmpdir(), "taskloom-scheduler-view-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stream(isTTY: boolean) {
  const s = { text: "", isTTY, columns: 120, write: (t: string) => ((s.text += t), true) };
  return s;
}

it("draws the held schedules below the event lines, erasing the previous block each time", async () => {
  const out = stream(false);
  const err = stream(true);
  const io = { out, err, cwd: ROOT, env: { ...process.env, TASKLOOM_DIR: dir }, now: () => Date.now() };
  expect(await runCli(["schedule", "add", OK, "--when", "now", "--repeat", "1h", "--times", "1", "--id", "sch-view"], io)).toBe(0);
  err.text = "";
  expect(await runCli(["scheduler", "start", OK, "--exit-when-idle", "--poll", "50ms"], io), err.text).toBe(0);
  const text = err.text;
  // A block is drawn after the "run started" line, with the running job…
  // eslint-disable-next-line no-control-regex -- the test matches ANSI escape sequences in the terminal output
  expect(text).toMatch(/▶ sch-view slot [^\n]*\n(\x1b\[\d+F\x1b\[J)?SCHEDULE\s+GRAPH\s+NOW\s+NEXT RUN\nsch-view\s+diamond\s+running sch-view-\d{8}T\d{6}/);
  // …and erased (cursor up over its lines, clear to the end) before the next lasting line.
  // eslint-disable-next-line no-control-regex -- the test matches ANSI escape sequences in the terminal output
  const erase = /\x1b\[(\d+)F\x1b\[J/.exec(text);
  expect(Number(erase?.[1])).toBeGreaterThanOrEqual(2);
  expect(text).toMatch(/✓ sch-view run sch-view-\S+ succeeded/);
  expect(text.trimEnd().endsWith("scheduler stopped")).toBe(true);
});
