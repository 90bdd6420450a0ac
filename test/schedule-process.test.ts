/**
 * Schedulers in real `node` processes on one LowdbStore (the compiled
 * package, like the crash tests): a scheduler SIGKILLed between two slots,
 * or while a slot's run is in progress, is replaced by a new process that
 * fires every slot exactly once; two schedulers running at once on one
 * store fire each slot once. Slots come every 400 ms; the assertions are
 * about what ran, never about how long it took.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { getSchedule, LowdbStore, type RunRow } from "../src/index.js";
import { logLines, type ChildResult } from "./support/child-process.js";
import { existsSync, readFileSync } from "node:fs";

const CHILD = resolve(import.meta.dirname, "fixtures/schedule-child.mjs");
const root = mkdtempSync(join(tmpdir(), "taskloom-schedule-proc-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const EVERY_MS = 400;
const TIMES = 3;

/** Runs the scheduler child; SIGKILLs it once a log line starting with `killOn` appears. */
function child(dir: string, log: string, env: Record<string, string>, killOn?: string): Promise<ChildResult> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, [CHILD], {
      env: { ...process.env, TASKLOOM_DIR: dir, LOG: log, SCHEDULE_ID: "sch-beat", EVERY_MS: String(EVERY_MS), TIMES: String(TIMES), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let watcher: NodeJS.Timeout | undefined;
    if (killOn !== undefined) {
      watcher = setInterval(() => {
        if (!existsSync(log)) return;
        if (
          readFileSync(log, "utf8")
            .split("\n")
            .some((l) => l.startsWith(killOn) && l.endsWith(` ${p.pid}`))
        ) {
          p.kill("SIGKILL");
          clearInterval(watcher);
        }
      }, 2);
    }
    p.on("error", fail);
    p.on("close", (code, signal) => {
      if (watcher) clearInterval(watcher);
      done({ code, signal, stdout, stderr, pid: p.pid ?? -1 });
    });
  });
}

async function finalRows(dir: string): Promise<RunRow[]> {
  const store = new LowdbStore({ dir });
  try {
    return (await getSchedule("sch-beat", { store })).record.history.filter((r): r is RunRow => r.kind === "run");
  } finally {
    await store.close();
  }
}

const ends = (log: string, pids: readonly number[]): string[] =>
  pids.flatMap((pid) =>
    logLines(log, pid)
      .filter((l) => l.startsWith("end "))
      .map((l) => l.slice("end ".length)),
  );
const starts = (log: string, pids: readonly number[]): string[] =>
  pids.flatMap((pid) =>
    logLines(log, pid)
      .filter((l) => l.startsWith("start "))
      .map((l) => l.slice("start ".length)),
  );

describe("a scheduler killed with SIGKILL", () => {
  it("between two slots: the next process fires the next slots once each, never the recorded one again", async () => {
    const dir = join(root, "between");
    const log = join(root, "between.log");
    // Slots 1.5 s apart, so the kill lands well before the second slot.
    const env = { FIRST_AT: String(Date.now() + 300), EVERY_MS: "1500", TIMES: "2" };
    const first = await child(dir, log, env, "recorded sch-beat-");
    expect(first.signal, first.stderr).toBe("SIGKILL");
    const second = await child(dir, log, env);
    expect(second.code, second.stderr).toBe(0);
    const rows = await finalRows(dir);
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.status === "succeeded")).toBe(true);
    const recordedFirst = logLines(log, first.pid)
      .filter((l) => l.startsWith("recorded "))
      .map((l) => l.slice(9));
    expect(recordedFirst).toEqual([rows[0]?.runId]);
    // The slot recorded before the kill never ran again; the next one ran once, in the new process.
    expect(starts(log, [second.pid])).toEqual([rows[1]?.runId]);
    expect(ends(log, [first.pid, second.pid])).toEqual(rows.map((r) => r.runId));
  });

  it("while a slot's run is in progress: the next process resumes that run by its id, then fires the rest once", async () => {
    const dir = join(root, "during");
    const log = join(root, "during.log");
    const env = { FIRST_AT: String(Date.now() + 300) };
    const first = await child(dir, log, env, "start sch-beat-");
    expect(first.signal, first.stderr).toBe("SIGKILL");
    const killedIn = starts(log, [first.pid])[0];
    const second = await child(dir, log, env);
    expect(second.code, second.stderr).toBe(0);
    const rows = await finalRows(dir);
    expect(rows.map((r) => r.runId)).toHaveLength(TIMES);
    expect(new Set(rows.map((r) => r.runId)).size).toBe(TIMES);
    expect(rows[0]?.runId).toBe(killedIn);
    expect(rows.every((r) => r.status === "succeeded")).toBe(true);
    // The interrupted body ran again (at-least-once), under the same run id; no other slot ran twice.
    const ran = starts(log, [second.pid]);
    expect(ran.filter((r) => r === killedIn)).toHaveLength(1);
    expect(new Set(ran).size).toBe(ran.length);
  });
});

describe("two schedulers on one store", () => {
  it("fire each slot once", async () => {
    const dir = join(root, "two");
    const log = join(root, "two.log");
    const env = { FIRST_AT: String(Date.now() + 500) };
    const [a, b] = await Promise.all([child(dir, log, env), child(dir, log, env)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const ran = starts(log, [a.pid, b.pid]);
    expect(ran).toHaveLength(TIMES);
    expect(new Set(ran).size).toBe(TIMES);
    const rows = await finalRows(dir);
    expect(rows.map((r) => r.runId).sort()).toEqual([...ran].sort());
  });
});
