/**
 * `taskloom schedule …` and `taskloom scheduler start` end to end, on the
 * built CLI in child `node` processes with their own TASKLOOM_DIR: a
 * schedule added, listed, fired by the scheduler in the foreground until
 * idle, its history read, paused, resumed and removed; errors are one
 * line with their code.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expectOneLineError, ROOT, runCli as cli } from "./support/cli-process.js";

const OK = join(ROOT, "test/fixtures/cli/ok.mjs");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "taskloom-cli-schedule-"));
  dirs.push(d);
  return d;
}

describe("taskloom schedule and scheduler", () => {
  it("add, ls, scheduler start --exit-when-idle, history, pause, resume, rm", async () => {
    const dir = tempDir();
    const add = await cli(dir, ["schedule", "add", OK, "--when", "now", "--repeat", "1h", "--times", "1", "--inputs", '{"n":2}', "--run-id-prefix", "nightly"]);
    expect(add.code, add.stderr).toBe(0);
    const id = add.stdout.trim();
    expect(id).toMatch(/^sch-[0-9a-f]{12}$/);
    expect(add.stderr).toContain(`scheduled ${id} · graph diamond · every 1h, 1 times`);
    expect(add.stderr).toContain("taskloom scheduler start");

    const ls = await cli(dir, ["schedule", "ls", "--json"]);
    expect(ls.code, ls.stderr).toBe(0);
    const [listed] = JSON.parse(ls.stdout) as { id: string; status: string; graphName: string; modulePath: string; inputs: unknown }[];
    expect(listed).toMatchObject({ id, status: "active", graphName: "diamond", modulePath: OK, inputs: { n: 2 } });

    const start = await cli(dir, ["scheduler", "start", OK, "--exit-when-idle", "--poll", "100ms"]);
    expect(start.code, start.stderr).toBe(0);
    expect(start.stderr).toMatch(new RegExp(`▶ ${id} slot .* run nightly-\\d{8}T\\d{6}`));
    expect(start.stderr).toMatch(new RegExp(`✓ ${id} run nightly-\\S+ succeeded`));
    expect(start.stderr).toContain(`■ ${id} completed`);
    expect(start.stderr).toContain("scheduler stopped");

    const history = await cli(dir, ["schedule", "history", id, "--json"]);
    expect(history.code, history.stderr).toBe(0);
    const rows = JSON.parse(history.stdout) as { kind: string; status: string; runId: string }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: "run", status: "succeeded" });
    const show = await cli(dir, ["show", rows[0]?.runId ?? "", "--json"]);
    expect(JSON.parse(show.stdout)).toMatchObject({ status: "succeeded", outputs: { total: 43, big: "10" } });

    const table = await cli(dir, ["schedule", "history", id]);
    expect(table.stdout).toMatch(/SLOT\s+RUN ID\s+STATUS\s+DURATION\s+CALLBACK\s+DETAIL/);
    expectOneLineError(await cli(dir, ["schedule", "pause", id]), "SCHEDULE_STATE");

    const second = (await cli(dir, ["schedule", "add", OK, "--cron", "0 9 * * 1-5", "--timezone", "Europe/Paris"])).stdout.trim();
    expect((await cli(dir, ["schedule", "pause", second])).code).toBe(0);
    const paused = await cli(dir, ["schedule", "ls", "--status", "paused"]);
    expect(paused.stdout).toMatch(new RegExp(`${second}\\s+diamond\\s+paused\\s+cron "0 9 \\* \\* 1-5" \\(Europe/Paris\\)`));
    expect((await cli(dir, ["schedule", "resume", second])).code).toBe(0);
    expect((await cli(dir, ["schedule", "rm", id, second])).code).toBe(0);
    const empty = await cli(dir, ["schedule", "ls"]);
    expect(empty.stderr).toContain("no schedules in");
  });

  it("schedule rm, pause and resume try every id: one that fails is its own error line, the others are changed, exit 1", async () => {
    const dir = tempDir();
    const a = (await cli(dir, ["schedule", "add", OK, "--cron", "0 9 * * *"])).stdout.trim();
    const b = (await cli(dir, ["schedule", "add", OK, "--cron", "0 10 * * *"])).stdout.trim();
    const pause = await cli(dir, ["schedule", "pause", "sch-000000000000", a, b]);
    expect(pause.code, pause.stderr).toBe(1);
    expect(pause.stderr.split("\n").filter((l) => l.startsWith("error"))).toEqual([expect.stringMatching(/^error\[SCHEDULE_NOT_FOUND\]: /)]);
    expect(pause.stderr).toContain(`paused ${a}`);
    expect(pause.stderr).toContain(`paused ${b}`);
    const rm = await cli(dir, ["schedule", "rm", a, "sch-000000000000", b]);
    expect(rm.code, rm.stderr).toBe(1);
    expect(rm.stderr).toContain(`removed ${b}`);
    expect((await cli(dir, ["schedule", "ls"])).stderr).toContain("no schedules in");
  });

  it("schedule ls skips a corrupt schedule file with a line on stderr and lists the others; ids are called schedule ids", async () => {
    const dir = tempDir();
    const good = (await cli(dir, ["schedule", "add", OK, "--when", "1h", "--id", "good"])).stdout.trim();
    expect((await cli(dir, ["schedule", "add", OK, "--when", "1h", "--id", "bad"])).code).toBe(0);
    const file = join(dir, "schedules", "bad.json");
    writeFileSync(file, "");
    const ls = await cli(dir, ["schedule", "ls"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`^${good}\\s+diamond\\s+active`, "m"));
    expect(ls.stdout).not.toContain("bad");
    expect(ls.stderr).toContain(
      `warning[SNAPSHOT_CORRUPT]: skipped schedule bad: the stored schedule file ${file} cannot be read (it is empty: what a power loss leaves of a file whose new content had not reached the disk; a store made with fsync: true flushes every schedule write first).`,
    );
    const json = await cli(dir, ["schedule", "ls", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as { id: string }[]).map((r) => r.id)).toEqual([good]);
    expect(json.stderr).toContain("skipped schedule bad");
    expect(readFileSync(file, "utf8")).toBe("");
    const history = await cli(dir, ["schedule", "history", "bad"]);
    expectOneLineError(history, "SNAPSHOT_CORRUPT");
    expect(history.stderr).toContain("stored schedule file");
    const dup = await cli(dir, ["schedule", "add", OK, "--when", "1h", "--id", "good"]);
    expectOneLineError(dup, "SCHEDULE_EXISTS");
    const badId = await cli(dir, ["schedule", "rm", "../x"]);
    expectOneLineError(badId, "INVALID_SCHEDULE");
    expect(badId.stderr).toContain("schedule id");
    expect(badId.stderr).not.toContain("run id");
    expect((await cli(dir, ["schedule", "rm", "bad"])).code).toBe(0);
  });

  it("errors are one line with their code", async () => {
    const dir = tempDir();
    const bad = await cli(dir, ["schedule", "add", OK, "--when", "whenever you like"]);
    expectOneLineError(bad, "INVALID_SCHEDULE");
    expect(bad.stderr).toContain('when "whenever you like" cannot be read as a time');
    expect(bad.stderr).toContain("Accepted forms:");
    expectOneLineError(await cli(dir, ["schedule", "add", OK, "--cron", "0 9 * *"]), "INVALID_SCHEDULE");
    expectOneLineError(await cli(dir, ["schedule", "add", OK]), "INVALID_OPTION");
    expectOneLineError(await cli(dir, ["schedule", "add", OK, "--when", "5m", "--cron", "* * * * *"]), "INVALID_OPTION");
    expectOneLineError(await cli(dir, ["schedule", "add", OK, "--when", "yesterday at 9am"]), "INVALID_SCHEDULE");
    expectOneLineError(await cli(dir, ["schedule", "history", "sch-nope"]), "SCHEDULE_NOT_FOUND");
    expectOneLineError(await cli(dir, ["schedule", "rm", "sch-nope"]), "SCHEDULE_NOT_FOUND");
    expectOneLineError(await cli(dir, ["scheduler", "start", join(ROOT, "test/fixtures/cli/missing.mjs")]), "MODULE_NOT_FOUND");
    expect((await cli(dir, ["schedule", "ls", "--json"])).stdout.trim()).toBe("[]");
  });
});
