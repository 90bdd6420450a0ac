/**
 * `runner.cli(argv)`: flags parsed and validated at the boundary, help,
 * a run over a tasks file with plain progress lines off a terminal and a
 * redrawn per-stage line on one, the JSON report, and exit codes.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidOptionError, MemoryStore, parseStageArgs, StageRunner, type StageCliIO } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "taskloom-stages-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(isTTY = false): { io: StageCliIO; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    io: {
      out: { write: (s: string) => (out += s) },
      err: { write: (s: string) => (err += s), isTTY, columns: 200 },
      cwd: dir,
    },
    out: () => out,
    err: () => err,
  };
}

function newRunner(): StageRunner {
  const runner = new StageRunner(
    {
      name: "labeling",
      stages: [
        { id: "pre-label", kind: "agent", pathways: { review: "review", skip: "archive" } },
        { id: "review", kind: "review", pathways: { approve: "complete", reject: "pre-label" } },
        { id: "complete", kind: "final" },
        { id: "archive", kind: "final" },
      ],
    },
    { store: new MemoryStore(), backoff: { initialMs: 1, jitter: false } },
  );
  runner.stage("pre-label", async (task) => {
    if (task.data.broken) throw new Error("model down");
    return task.data.empty ? "skip" : "review";
  });
  return runner;
}

describe("parseStageArgs", () => {
  const { io } = capture();

  it("maps every flag onto a runAsync option, with the documented defaults", () => {
    expect(parseStageArgs(["--tasks", "t.json"], "w", io)).toEqual({
      runId: undefined,
      numRetries: 3,
      maxConcurrency: 8,
      batchSize: 300,
      maxTasksPerStage: undefined,
      refreshEveryMs: undefined,
      tasks: "t.json",
    });
    expect(
      parseStageArgs(
        [
          "--tasks",
          "t.json",
          "--run-id",
          "lab-1",
          "--num-retries",
          "0",
          "--max-concurrency",
          "4",
          "--batch-size",
          "50",
          "--max-tasks-per-stage",
          "10",
          "--refresh-every",
          "1m30s",
        ],
        "w",
        io,
      ),
    ).toEqual({ runId: "lab-1", numRetries: 0, maxConcurrency: 4, batchSize: 50, maxTasksPerStage: 10, refreshEveryMs: 90_000, tasks: "t.json" });
    // A bare number is seconds, as in the runners users come from (issue 17 item 12): 3600 is an hour, not 3.6 s.
    expect(parseStageArgs(["--tasks", "t.json", "--refresh-every", "3600"], "w", io)).toMatchObject({ refreshEveryMs: 3_600_000 });
    expect(parseStageArgs(["--tasks", "t.json", "--refresh-every", "500ms"], "w", io)).toMatchObject({ refreshEveryMs: 500 });
  });

  it("refuses bad values, unknown flags and a missing --tasks with InvalidOptionError naming the flag", () => {
    const refused = (argv: string[]): InvalidOptionError => {
      try {
        parseStageArgs(argv, "w", io);
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidOptionError);
        return e as InvalidOptionError;
      }
      throw new Error(`expected ${argv.join(" ")} to be refused`);
    };
    expect(refused(["--tasks", "t.json", "--max-concurrency", "0"]).message).toMatch(
      /^option --max-concurrency must be a whole number of at least 1 \(got "0"\)\.$/,
    );
    expect(refused(["--tasks", "t.json", "--num-retries", "-1"]).message).toMatch(/--num-retries/);
    expect(refused(["--tasks", "t.json", "--batch-size", "ten"]).message).toMatch(/^option --batch-size must be a whole number/);
    expect(refused(["--tasks", "t.json", "--refresh-every", "soon"]).message).toMatch(
      /^option --refresh-every must be seconds \(a bare number, 3600 is an hour\) or a duration such as 90s/,
    );
    expect(refused(["--tasks", "t.json", "--refresh-every", "0"]).message).toMatch(/^option --refresh-every must be above 0/);
    expect(refused(["--tasks", "t.json", "--turbo"]).message).toMatch(/^option --turbo is not an option of this command \(see --help\)/);
    expect(refused([]).message).toMatch(/^option --tasks is required/);
  });

  it("prints help listing every flag", () => {
    const c = capture();
    expect(parseStageArgs(["--help"], "labeling", c.io)).toBe("help");
    for (const flag of ["--run-id", "--num-retries", "--max-concurrency", "--batch-size", "--max-tasks-per-stage", "--refresh-every", "--tasks", "--help"]) {
      expect(c.err()).toContain(flag);
    }
  });
});

describe("runner.cli", () => {
  it("runs the tasks file, prints a plain line per move and failure off a terminal, the report as JSON, and exits 1 when a task failed", async () => {
    const file = join(dir, "tasks.json");
    writeFileSync(file, JSON.stringify([{ id: "t1" }, { id: "t2", data: { empty: true } }, { id: "t3", data: { broken: true } }]));
    const runner = newRunner();
    const c = capture();
    const code = await runner.cli(["--tasks", "tasks.json", "--run-id", "cli-1", "--num-retries", "1"], c.io);
    expect(code).toBe(1);
    const lines = c.err().trim().split("\n");
    expect(lines[0]).toBe("sweep 1: 3 of 3 tasks to process");
    expect(lines).toEqual(expect.arrayContaining(["t1 pre-label → review (review)", "t2 pre-label → archive (skip)"]));
    expect(lines.some((l) => l.startsWith("✗ t3 in pre-label: NodeFailedError:") && l.includes("model down"))).toBe(true);
    const report = JSON.parse(c.out()) as { runId: string; completed: number; waiting: number; failed: { taskId: string }[] };
    expect(report).toMatchObject({ runId: "cli-1", completed: 1, waiting: 1, byStage: { review: 1, archive: 1, "pre-label": 1 } });
    expect(report.failed.map((f) => f.taskId)).toEqual(["t3"]);
    expect((JSON.parse(readFileSync(file, "utf8")) as { stageId: string }[]).map((t) => t.stageId)).toEqual(["review", "archive", "pre-label"]);

    await runner.act("cli-1", "t1", "approve");
    writeFileSync(file, JSON.stringify([{ id: "t1" }, { id: "t2", data: { empty: true } }]));
    const again = capture();
    expect(await runner.cli(["--tasks", file, "--run-id", "cli-1"], again.io)).toBe(0);
    expect(again.err()).toContain("t1 review → complete (approve)");
  });

  it("redraws one line of tasks done per stage on a terminal", async () => {
    const file = join(dir, "tty.json");
    writeFileSync(file, JSON.stringify([{ id: "a" }, { id: "b" }, { id: "c", data: { empty: true } }]));
    const c = capture(true);
    expect(await newRunner().cli(["--tasks", "tty.json"], c.io)).toBe(0);
    expect(c.err()).toContain("\r\x1b[2Ksweep 1 · pre-label 3 · review 0 · complete 0 · archive 1 · 2 waiting · 0 failed");
    expect(c.err()).not.toContain("→");
    expect(c.err().endsWith("\r\x1b[2K")).toBe(true);
  });

  it("with --refresh-every, sweeps until its signal aborts, then prints the report", async () => {
    const file = join(dir, "refresh.json");
    writeFileSync(file, JSON.stringify([{ id: "a" }]));
    const runner = newRunner();
    const controller = new AbortController();
    let sweeps = 0;
    runner.events.on("sweep:end", () => {
      if (++sweeps === 1) controller.abort();
    });
    const c = capture();
    expect(await runner.cli(["--tasks", "refresh.json", "--refresh-every", "1h"], { ...c.io, signal: controller.signal })).toBe(0);
    expect(JSON.parse(c.out())).toMatchObject({ sweeps: 1, waiting: 1 });
  });

  it("prints usage errors as one line and exits 1", async () => {
    const c = capture();
    expect(await newRunner().cli(["--tasks", "x.json", "--batch-size", "0"], c.io)).toBe(1);
    expect(c.err()).toBe('error[INVALID_OPTION]: option --batch-size must be a whole number of at least 1 (got "0").\n');
    const missing = capture();
    expect(await newRunner().cli(["--tasks", "missing.json"], missing.io)).toBe(1);
    expect(missing.err()).toMatch(/^error\[INVALID_OPTION\]: option tasks file .*missing\.json cannot be read/);
  });
});
