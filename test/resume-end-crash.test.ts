/**
 * A resume that changed little ends with journal records (the last node
 * records, the run meta and the summary's counts) instead of a full
 * snapshot (persistence-observer.ts, `finish`). These tests SIGKILL a real
 * child at that final write: just before it, in the middle of it (a
 * fragment of a line at the journal's end), and just after it; the next
 * run must lose no saved node and run none again, and a run whose final
 * write landed must read as succeeded with its outputs, running nothing.
 * Each test runs on a run kept as a folder (`layout: "folders"`, the
 * fragment at the end of `journal.ndjson`) and on one kept as a run file
 * (`<runId>.run`, the default layout, the fragment at the file's end).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loggedIds, logLines, runChildScript } from "./support/child-process.js";
import { CHILD, MIDDLE, resumeAfterKill, stored, TOTAL } from "./support/run-end-child.js";
import { deserialize } from "../src/persistence/serialization.js";
import type { LowdbStoreOptions } from "../src/index.js";
import { runFileSnapshot } from "./support/run-file-journal.js";

const root = mkdtempSync(join(tmpdir(), "taskloom-resume-end-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const failed = MIDDLE.filter((_, i) => i % 20 === 0);

/** How the child (`env`) and this process (`options`) keep run "r", and the status its stored snapshot holds. */
interface Layout {
  readonly env: Readonly<Record<string, string>>;
  readonly options: Omit<LowdbStoreOptions, "dir">;
  readonly snapshotStatus: (dir: string) => string;
}

/** A folder per run, `runs/r/`. */
const FOLDERS: Layout = {
  env: { LAYOUT: "folders" },
  options: { layout: "folders" },
  snapshotStatus: (dir) => deserialize<{ meta: { status: string } }>(readFileSync(join(dir, "runs", "r", "snapshot.json"), "utf8")).meta.status,
};

/** A file per run, `r.run` (`LowdbStore`'s default): its last snapshot line. */
const FILES: Layout = {
  env: { LAYOUT: "files" },
  options: {},
  snapshotStatus: (dir) => runFileSnapshot(dir, "r").meta.status,
};

/** A run stored failed with 190 middle nodes done, in a fresh folder, kept as `layout` says. */
async function failedRun(name: string, layout: Layout): Promise<{ dir: string; log: string }> {
  const dir = join(root, name);
  const log = join(root, `${name}.log`);
  const first = await runChildScript(CHILD, dir, "r", log, undefined, ["first"], layout.env);
  expect(first.code, first.stderr).toBe(1);
  const { run } = await stored(dir, layout.options);
  expect(run.status).toBe("failed");
  expect(run.nodes.filter((n) => n.status === "succeeded").length).toBe(191);
  return { dir, log };
}

/** The resume of a failed run on `layout` (in the folder `name`) ends with an append: the snapshot stays the failed run's, and load and list read the end. */
async function endsWithAppend(layout: Layout, name: string): Promise<void> {
  const { dir, log } = await failedRun(name, layout);
  const second = await runChildScript(CHILD, dir, "r", log, undefined, [], layout.env);
  expect(second.code, second.stderr).toBe(0);
  expect(JSON.parse(second.stdout.trim())).toEqual({ total: TOTAL });
  const lines = logLines(log, second.pid);
  expect(lines).toContain("final after");
  expect(lines).not.toContain("final snapshot");
  expect(loggedIds(log, second.pid, "start").sort()).toEqual([...failed, "join"].sort());
  expect(layout.snapshotStatus(dir)).toBe("failed");
  const { run, list } = await stored(dir, layout.options);
  expect(run.status).toBe("succeeded");
  expect(run.outputs).toEqual({ total: TOTAL });
  expect(list).toHaveLength(1);
  expect(list[0]).toMatchObject({ runId: "r", status: "succeeded", nodeCount: 202, settledCount: 202, succeededCount: 202, failedCount: 0 });
}

/** A failed run on `layout` resumed and SIGKILLed at `point` of its final write: the next run loses no saved node and runs none again. */
async function killedAtFinal(layout: Layout, point: "final before" | "final torn" | "final after", name: string): Promise<void> {
  const { dir, log } = await failedRun(name, layout);
  const second = await runChildScript(CHILD, dir, "r", log, point, [], layout.env);
  expect(second.signal, second.stderr).toBe("SIGKILL");
  expect(loggedIds(log, second.pid, "start").sort()).toEqual([...failed, "join"].sort());

  await resumeAfterKill(dir, log, point, point === "final after" ? 2 : 3, layout.env, layout.options);
}

describe("a resume that changed little ends with journal records", () => {
  it(
    "ends with an append, not a snapshot: the snapshot stays the failed run's, and load and list read the end",
    () => endsWithAppend(FOLDERS, "plain"),
    120_000,
  );

  for (const point of ["final before", "final torn", "final after"] as const) {
    it(`SIGKILL at "${point}": the next run loses no saved node and runs none again`, () => killedAtFinal(FOLDERS, point, point.replace(" ", "-")), 120_000);
  }

  it(
    "runs kept as run files (the default): ends with an append, not a snapshot: the snapshot stays the failed run's, and load and list read the end",
    () => endsWithAppend(FILES, "plain-run-file"),
    120_000,
  );

  for (const point of ["final before", "final torn", "final after"] as const) {
    it(
      `runs kept as run files (the default): SIGKILL at "${point}": the next run loses no saved node and runs none again`,
      () => killedAtFinal(FILES, point, `${point.replace(" ", "-")}-run-file`),
      120_000,
    );
  }
});
