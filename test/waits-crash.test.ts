/**
 * Waits and dead or live drivers in other processes (issue 20 item 1,
 * issue 14 item 10): real `node` children (test/fixtures/wait-crash-child.mjs,
 * running the compiled package in dist/) drive a run where a node and a map
 * element wait while another node still runs, so the run is saved as
 * `running` with no `meta.waits`.
 * - SIGKILLed there, the run still has both waits open in its node records:
 *   `resolveWait` from another process accepts each event into the inbox,
 *   and the next resume hands them to the nodes.
 * - While that driver is alive, `resolveWait` from another process is
 *   refused with `RunLockedError` naming it, and writes nothing.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRun, LowdbStore, resolveWait, RunLockedError } from "../src/index.js";
import { runChildScript, logLines } from "./support/child-process.js";
import { rejection } from "./support/async.js";

const CHILD = resolve(import.meta.dirname, "fixtures/wait-crash-child.mjs");
const DIST = resolve(import.meta.dirname, "../dist/index.js");
const root = mkdtempSync(join(tmpdir(), "taskloom-waits-crash-"));

beforeAll(() => {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" first (npm test does)`);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("a driver SIGKILLed while its nodes wait", () => {
  it("leaves the waits open in the stored run: events from another process are accepted and the resume delivers them", async () => {
    const dir = join(root, "killed");
    const log = join(root, "killed.log");
    const runId = "killed-1";
    const first = await runChildScript(CHILD, dir, runId, log, "waiting", ["run", "hang"]);
    expect(first.signal, `the child was meant to die while waiting; stderr: ${first.stderr}`).toBe("SIGKILL");

    // What the dead driver left: the run is "running" with no saved waits, but the node records wait.
    const saved = await getRun(runId, { store: new LowdbStore({ dir }) });
    expect(saved.status).toBe("running");
    expect(saved.waits).toEqual([]);
    expect(
      saved.nodes
        .filter((n) => n.status === "waiting")
        .map((n) => n.id)
        .sort(),
    ).toEqual(["checks[0]", "review"]);

    const approval = await runChildScript(CHILD, dir, runId, log, undefined, ["resolve", "approval", '{"ok":true,"by":"ann"}']);
    expect(approval.code, approval.stderr).toBe(0);
    const item = await runChildScript(CHILD, dir, runId, log, undefined, ["resolve", "item:1", '"checked"']);
    expect(item.code, item.stderr).toBe(0);
    const unknown = await runChildScript(CHILD, dir, runId, log, undefined, ["resolve", "nope", "1"]);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/^WaitNotFoundError WAIT_NOT_FOUND:.*open waits: .*"approval"/);
    expect(unknown.stderr).toContain('"item:1"');

    const resumed = await runChildScript(CHILD, dir, runId, log, undefined, ["run"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toEqual({
      slow: "slow done",
      review: { ok: true, by: "ann" },
      checks: [{ item: 1, event: "checked" }, { item: 2 }],
    });
    expect(logLines(log, resumed.pid)).toContain("end review");
    const final = await getRun(runId, { store: new LowdbStore({ dir }) });
    expect(final.status).toBe("succeeded");
    expect((await new LowdbStore({ dir }).load(runId))?.state.meta.inbox).toBeUndefined();
  }, 60_000);
});

describe("a live driver in another process", () => {
  it("makes resolveWait fail with RunLockedError naming it, and nothing is written", async () => {
    const dir = join(root, "live");
    const log = join(root, "live.log");
    const runId = "live-1";
    const child = spawn(process.execPath, [CHILD, "run", "hang"], {
      env: { ...process.env, TASKLOOM_DIR: dir, RUN_ID: runId, LOG: log },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on("exit", (_code, signal) => done(signal)));
    try {
      for (let i = 0; i < 3_000 && !(existsSync(log) && readFileSync(log, "utf8").includes(`waiting ${child.pid}`)); i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      const before = await getRun(runId, { store: new LowdbStore({ dir }) });
      const error = await rejection(resolveWait(runId, "approval", { ok: true }, { store: new LowdbStore({ dir }) }));
      expect(error).toBeInstanceOf(RunLockedError);
      expect((error as RunLockedError).holder.pid).toBe(child.pid);
      const after = await getRun(runId, { store: new LowdbStore({ dir }) });
      expect(after.updatedAt).toBe(before.updatedAt);
      expect((await new LowdbStore({ dir }).load(runId))?.state.meta.inbox).toBeUndefined();
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
  }, 60_000);
});
