/**
 * Engine audit: a map fan-out resumed after a SIGKILL. A real `node` child
 * (`node --import tsx`, on the sources) runs list → m (a map of six
 * elements, two at a time, element 2 failing its first attempt) → total on
 * a LowdbStore and logs each body's start and end; the parent SIGKILLs it
 * at a chosen line (the child blocks right after writing it), resumes in a
 * new child, and checks:
 * - the outputs equal an uninterrupted run's (the map's in element order);
 * - no element saved as succeeded before the kill ran again;
 * - every element ran to its end in one process or the other.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRun, LowdbStore } from "../src/index.js";
import { loggedIds, runChildScript, type ChildResult } from "./support/child-process.js";

const root = mkdtempSync(join(tmpdir(), "taskloom-map-crash-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SRC = pathToFileURL(resolve(import.meta.dirname, "../src/index.ts")).href;
const LOG_LINE = pathToFileURL(resolve(import.meta.dirname, "fixtures/log-line.mjs")).href;
const ELEMENTS = ["m[0]", "m[1]", "m[2]", "m[3]", "m[4]", "m[5]"];

const CHILD = `
import { graph, runAsync, LowdbStore } from ${JSON.stringify(SRC)};
import { logLine } from ${JSON.stringify(LOG_LINE)};
const pause = () => new Promise((r) => setImmediate(r));
const g = graph("map-crash")
  .node("list", () => ["a", "b", "c", "d", "e", "f"])
  .map("m", "list", async ({ item, index, nodeId, attempt }) => {
    logLine("start " + nodeId);
    await pause();
    if (index === 2 && attempt === 1 && !process.env.NO_FAIL) {
      logLine("fail " + nodeId);
      throw new Error("element 2 fails its first attempt");
    }
    logLine("end " + nodeId);
    return item.toUpperCase() + index;
  }, { maxConcurrency: 2, retry: { maxAttempts: 3, backoff: { initialMs: 5, jitter: false } } })
  .node("total", ({ deps }) => {
    logLine("start total");
    return deps.m.join(",");
  }, { after: ["m"] })
  .build();
const out = await runAsync(g, undefined, { runId: process.env.RUN_ID, store: new LowdbStore({ dir: process.env.TASKLOOM_DIR }) });
console.log(JSON.stringify(out));
`;
const childFile = join(root, "child.mts");
writeFileSync(childFile, CHILD);

/** The child under `node --import tsx` (node itself is the process SIGKILL reaches). */
function runChild(dir: string, runId: string, log: string, killOn?: string): Promise<ChildResult> {
  return runChildScript("--import", dir, runId, log, killOn, ["tsx", childFile]);
}

let baseline: unknown;

beforeAll(async () => {
  const log = join(root, "baseline.log");
  const result = await runChild(join(root, "baseline"), "baseline", log);
  expect(result.code, result.stderr).toBe(0);
  baseline = JSON.parse(result.stdout.trim());
  expect(baseline).toEqual({ list: ["a", "b", "c", "d", "e", "f"], m: ["A0", "B1", "C2", "D3", "E4", "F5"], total: "A0,B1,C2,D3,E4,F5" });
  expect(loggedIds(log, result.pid, "end").sort()).toEqual(ELEMENTS);
}, 60_000);

const killPoints = ["start m[0]", "end m[0]", "end m[1]", "fail m[2]", "start m[3]", "end m[4]", "start total"];

describe("a map fan-out resumes after SIGKILL", () => {
  it.concurrent.each(killPoints)(
    "killed at '%s': saved elements do not run again, outputs keep element order",
    async (point) => {
      const slug = point.replace(/[^a-z0-9]+/gi, "-");
      const dir = join(root, slug);
      const log = join(root, `${slug}.log`);
      const runId = `map-crash-${slug}`;
      const first = await runChild(dir, runId, log, point);
      expect(first.signal, `the child was meant to die at "${point}"; stderr: ${first.stderr}`).toBe("SIGKILL");

      const store = new LowdbStore({ dir });
      const saved = await getRun(runId, { store });
      await store.close();
      const savedDone = saved.nodes.filter((n) => n.status === "succeeded").map((n) => n.id);
      // A node starts only once what it reads is saved: the map node and every element, before "total".
      if (point === "start total") expect(savedDone).toEqual(expect.arrayContaining(["list", "m", ...ELEMENTS]));

      const second = await runChild(dir, runId, log);
      expect(second.code, second.stderr).toBe(0);
      expect(JSON.parse(second.stdout.trim())).toEqual(baseline);

      const rerun = loggedIds(log, second.pid, "start");
      for (const id of savedDone) expect(rerun, `"${id}" was saved before the kill but ran again`).not.toContain(id);
      const ended = new Set([...loggedIds(log, first.pid, "end"), ...loggedIds(log, second.pid, "end")]);
      for (const id of ELEMENTS) expect(ended, `element "${id}" never finished`).toContain(id);
    },
    60_000,
  );
});
