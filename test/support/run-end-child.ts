/**
 * Shared by the crash tests of a run's final write (test/resume-end-crash
 * and test/run-end-crash): the child they run (a 200-node fan-out with a
 * root and a join, test/fixtures/resume-end-child.mjs), its node ids and
 * output, reading the stored run, and the check of the run that follows a
 * kill. The child keeps new runs as `env` says (`LAYOUT`: see its header;
 * none by default), and `stored` reads them through a store made with
 * `options` (none by default).
 */
import { resolve } from "node:path";
import { expect } from "vitest";
import { loggedIds, runChildScript } from "./child-process.js";
import { getRun, LowdbStore, type LowdbStoreOptions } from "../../src/index.js";

/** The child: a 200-node fan-out with a root and a join (see its header). */
export const CHILD = resolve(import.meta.dirname, "../fixtures/resume-end-child.mjs");
/** The middle nodes' ids. */
export const MIDDLE = Array.from({ length: 200 }, (_, i) => `n${i}`);
/** join's output: the sum of 1 + i over the 200 middle nodes. */
export const TOTAL = 20_100;

/** Run "r" of the store in `dir` as `getRun` and `list` read it, through a store made with `options`. */
export async function stored(dir: string, options: Omit<LowdbStoreOptions, "dir"> = {}) {
  const store = new LowdbStore({ ...options, dir });
  try {
    return { run: await getRun("r", { store }), list: await store.list() };
  } finally {
    await store.close();
  }
}

/**
 * Runs the child once more after a kill at `point`, and checks that it
 * succeeds, runs no middle node again (every one was saved before join
 * ran; join itself may run again unless the final write landed, and
 * nothing does when it landed), and leaves run "r" succeeded with `starts`.
 * The child runs with `env` besides its own; the run is read as `stored`
 * reads it with `options`.
 */
export async function resumeAfterKill(
  dir: string,
  log: string,
  point: string,
  starts: number,
  env: Readonly<Record<string, string>> = {},
  options: Omit<LowdbStoreOptions, "dir"> = {},
): Promise<void> {
  const next = await runChildScript(CHILD, dir, "r", log, undefined, [], env);
  expect(next.code, next.stderr).toBe(0);
  expect(JSON.parse(next.stdout.trim())).toEqual({ total: TOTAL });
  const rerun = loggedIds(log, next.pid, "start");
  for (const id of MIDDLE) expect(rerun, `node "${id}" was saved but ran again`).not.toContain(id);
  if (point === "final after") expect(rerun).toEqual([]);

  const { run, list } = await stored(dir, options);
  expect(run.status).toBe("succeeded");
  expect(run.outputs).toEqual({ total: TOTAL });
  expect(run.starts).toBe(starts);
  expect(run.nodes.every((n) => n.status === "succeeded")).toBe(true);
  expect(list[0]).toMatchObject({ runId: "r", status: "succeeded", nodeCount: 202, settledCount: 202 });
}
