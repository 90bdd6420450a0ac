/**
 * Routing crash tests: a real `node` child runs a review loop on a
 * LowdbStore (draft → check → revise → draft#2 → … → accept → publish →
 * notify + archive); the parent SIGKILLs it when a chosen line appears in
 * the log (while a visit runs, or after it ended but before its result
 * was saved), resumes in a new child, and checks:
 * - the outputs equal those of an uninterrupted run;
 * - no activation saved as succeeded before the kill ran again;
 * - every activation ran to its end in one process or the other, the
 *   unchosen branch was skipped, and the stored visits are the same as in
 *   an uninterrupted run.
 * The children run the compiled package (`dist/`): run `npm run build` first.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loggedIds, runChildScript } from "./support/child-process.js";
import { getRun, LowdbStore } from "../src/index.js";

const CHILD = resolve(import.meta.dirname, "fixtures/routing-child.mjs");
/** The activations of an uninterrupted run, in the order they start (notify and archive in parallel). */
const ACTIVATIONS = ["draft", "check", "draft#2", "check#2", "draft#3", "check#3", "publish", "notify", "archive"];
const root = mkdtempSync(join(tmpdir(), "taskloom-routing-crash-"));

const logged = (log: string, pid: number, kind: "start" | "end"): string[] => loggedIds(log, pid, kind);

let baseline: unknown;

beforeAll(async () => {
  const log = join(root, "baseline.log");
  const result = await runChildScript(CHILD, join(root, "baseline"), "baseline", log);
  expect(result.code, result.stderr).toBe(0);
  baseline = JSON.parse(result.stdout.trim());
  expect(logged(log, result.pid, "end").sort()).toEqual([...ACTIVATIONS].sort());
}, 30_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

const killPoints = ACTIVATIONS.flatMap((id) => [`start ${id}`, `end ${id}`]);

describe("routing loops resume after SIGKILL", () => {
  it("has a baseline: three drafts, the accepted one published, the rejected branch skipped", async () => {
    expect(baseline).toMatchObject({
      publish: "published v3",
      notify: "notified: published v3",
      archive: "archived: published v3",
      draft: { version: 3, notes: ["fix v1", "fix v2"] },
    });
    const saved = await getRun("baseline", { store: new LowdbStore({ dir: join(root, "baseline") }) });
    const status = Object.fromEntries(saved.nodes.map((n) => [n.id, n.status]));
    expect(status.discard).toBe("skipped");
    expect(
      saved.nodes
        .filter((n) => n.status === "succeeded")
        .map((n) => n.id)
        .sort(),
    ).toEqual([...ACTIVATIONS].sort());
  });

  it.concurrent.each(killPoints)("killed at '%s': saved visits are not run again, outputs equal", async (point) => {
    const slug = point.replace(/[\s#]+/g, "-");
    const dir = join(root, slug);
    const log = join(root, `${slug}.log`);
    const runId = `routing-${slug}`;

    const first = await runChildScript(CHILD, dir, runId, log, point);
    expect(first.signal, `the child was meant to die at "${point}"; stderr: ${first.stderr}`).toBe("SIGKILL");
    const before = await getRun(runId, { store: new LowdbStore({ dir }) });
    const savedBefore = before.nodes.filter((n) => n.status === "succeeded").map((n) => n.id);

    const second = await runChildScript(CHILD, dir, runId, log);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout.trim())).toEqual(baseline);

    const rerun = logged(log, second.pid, "start");
    for (const id of savedBefore) expect(rerun, `"${id}" was saved before the kill`).not.toContain(id);
    const ended = new Set([...logged(log, first.pid, "end"), ...logged(log, second.pid, "end")]);
    for (const id of ACTIVATIONS) expect(ended.has(id), `"${id}" never ended`).toBe(true);

    const after = await getRun(runId, { store: new LowdbStore({ dir }) });
    expect(
      after.nodes
        .filter((n) => n.status === "succeeded")
        .map((n) => n.id)
        .sort(),
    ).toEqual([...ACTIVATIONS].sort());
    expect(after.nodes.find((n) => n.id === "discard")?.status).toBe("skipped");
  });
});
