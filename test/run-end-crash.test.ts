/**
 * A new run that succeeds with a short journal ends with an append (its last
 * node records, the run meta, the summary's counts), not a second snapshot
 * (persistence-observer.ts, `finish`). These tests SIGKILL a real child
 * running such a run at that final write: just before it, in the middle of
 * it (a fragment of a line at the journal's end), and just after it, before
 * the lease is given back. The next run must lose no saved node and run none
 * again; a run whose final write landed must read as succeeded with its
 * outputs (load and list), and the next run must run nothing at all.
 * The run is kept as a folder (`layout: "folders"`, in the child and in
 * this process): its start snapshot is `snapshot.json`, the fragment is at
 * the end of its `journal.ndjson`.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loggedIds, logLines, runChildScript } from "./support/child-process.js";
import { CHILD, MIDDLE, resumeAfterKill, stored, TOTAL } from "./support/run-end-child.js";
import { deserialize } from "../src/persistence/serialization.js";

const root = mkdtempSync(join(tmpdir(), "taskloom-run-end-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The child's environment and this process's store options: every run kept as a folder. */
const ENV = { LAYOUT: "folders" };
const FOLDERS = { layout: "folders" } as const;

const snapshotStatus = (dir: string) => deserialize<{ meta: { status: string } }>(readFileSync(join(dir, "runs", "r", "snapshot.json"), "utf8")).meta.status;

describe("a new short run ends with journal records", () => {
  it("ends with an append: snapshot.json stays the one written at the start, and load and list read the end", async () => {
    const dir = join(root, "plain");
    const log = join(root, "plain.log");
    const first = await runChildScript(CHILD, dir, "r", log, undefined, [], ENV);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout.trim())).toEqual({ total: TOTAL });
    const lines = logLines(log, first.pid);
    expect(lines).toContain("final after");
    expect(lines).not.toContain("final snapshot");
    expect(snapshotStatus(dir)).toBe("running");
    const { run, list } = await stored(dir, FOLDERS);
    expect(run.status).toBe("succeeded");
    expect(run.outputs).toEqual({ total: TOTAL });
    expect(run.starts).toBe(1);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ runId: "r", status: "succeeded", nodeCount: 202, settledCount: 202, succeededCount: 202, failedCount: 0 });
  }, 120_000);

  for (const point of ["final before", "final torn", "final after"] as const) {
    it(`SIGKILL at "${point}": the next run loses no saved node and runs none again`, async () => {
      const dir = join(root, point.replace(" ", "-"));
      const log = join(root, `${point.replace(" ", "-")}.log`);
      const first = await runChildScript(CHILD, dir, "r", log, point, [], ENV);
      expect(first.signal, first.stderr).toBe("SIGKILL");
      expect(loggedIds(log, first.pid, "start").sort()).toEqual([...MIDDLE, "join"].sort());
      // The start snapshot is the only one: the end, if it landed, is in the journal.
      expect(snapshotStatus(dir)).toBe("running");
      if (point === "final after") {
        // Killed holding its lease, after its end was stored: load and list already read the finished run.
        const { run, list } = await stored(dir, FOLDERS);
        expect(run.status).toBe("succeeded");
        expect(run.outputs).toEqual({ total: TOTAL });
        expect(list[0]).toMatchObject({ runId: "r", status: "succeeded", nodeCount: 202, settledCount: 202, succeededCount: 202 });
      }

      await resumeAfterKill(dir, log, point, point === "final after" ? 1 : 2, ENV, FOLDERS);
    }, 120_000);
  }
});
