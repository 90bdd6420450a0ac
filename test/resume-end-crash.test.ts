/**
 * A resume that changed little ends with journal records (the last node
 * records, the run meta and the summary's counts) instead of a full
 * snapshot (persistence-observer.ts, `finish`). These tests SIGKILL a real
 * child at that final write: just before it, in the middle of it (a
 * fragment of a line at the journal's end), and just after it; the next
 * run must lose no saved node and run none again, and a run whose final
 * write landed must read as succeeded with its outputs, running nothing.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loggedIds, logLines, runChildScript } from "./support/child-process.js";
import { CHILD, MIDDLE, resumeAfterKill, stored, TOTAL } from "./support/run-end-child.js";
import { deserialize } from "../src/persistence/serialization.js";

const root = mkdtempSync(join(tmpdir(), "taskloom-resume-end-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const failed = MIDDLE.filter((_, i) => i % 20 === 0);

/** A run stored failed with 190 middle nodes done, in a fresh folder. */
async function failedRun(name: string): Promise<{ dir: string; log: string }> {
  const dir = join(root, name);
  const log = join(root, `${name}.log`);
  const first = await runChildScript(CHILD, dir, "r", log, undefined, ["first"]);
  expect(first.code, first.stderr).toBe(1);
  const { run } = await stored(dir);
  expect(run.status).toBe("failed");
  expect(run.nodes.filter((n) => n.status === "succeeded").length).toBe(191);
  return { dir, log };
}

describe("a resume that changed little ends with journal records", () => {
  it("ends with an append, not a snapshot: the snapshot stays the failed run's, and load and list read the end", async () => {
    const { dir, log } = await failedRun("plain");
    const second = await runChildScript(CHILD, dir, "r", log);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout.trim())).toEqual({ total: TOTAL });
    const lines = logLines(log, second.pid);
    expect(lines).toContain("final after");
    expect(lines).not.toContain("final snapshot");
    expect(loggedIds(log, second.pid, "start").sort()).toEqual([...failed, "join"].sort());
    const snapshot = deserialize<{ meta: { status: string } }>(readFileSync(join(dir, "runs", "r", "snapshot.json"), "utf8"));
    expect(snapshot.meta.status).toBe("failed");
    const { run, list } = await stored(dir);
    expect(run.status).toBe("succeeded");
    expect(run.outputs).toEqual({ total: TOTAL });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ runId: "r", status: "succeeded", nodeCount: 202, settledCount: 202, succeededCount: 202, failedCount: 0 });
  }, 120_000);

  for (const point of ["final before", "final torn", "final after"] as const) {
    it(`SIGKILL at "${point}": the next run loses no saved node and runs none again`, async () => {
      const { dir, log } = await failedRun(point.replace(" ", "-"));
      const second = await runChildScript(CHILD, dir, "r", log, point);
      expect(second.signal, second.stderr).toBe("SIGKILL");
      expect(loggedIds(log, second.pid, "start").sort()).toEqual([...failed, "join"].sort());

      await resumeAfterKill(dir, log, point, point === "final after" ? 2 : 3);
    }, 120_000);
  }
});
