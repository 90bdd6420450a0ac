/**
 * A crashed run must not look alive: the built `taskloom run` is SIGKILLed
 * (a real child `node` process) while its second node runs, then
 * `listRuns`, `getRun`, `taskloom runs` and `taskloom show` must call the
 * run `crashed` (its lease names a dead process), agree on its node counts
 * (1 of 5 succeeded, though the stored summary still says 0), and `show`
 * must list the nodes in dependency order. A resume then finishes it.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { getRun, graph, listRuns, livenessOf, run, RUN_LIVENESS, runAsync } from "../src/index.js";
import { runChildScript } from "./support/child-process.js";
import { CLI, ROOT, runCli as cli } from "./support/cli-process.js";
import { tempStores } from "./support/temp-stores.js";
import { runText } from "../src/cli/commands/show.js";
import { deferred } from "./support/async.js";

const { tempDir, lowdb } = tempStores("taskloom-crashed-");
const MODULE = join(ROOT, "test/fixtures/cli/hang.mjs");
const DEPENDENCY_ORDER = ["fetch", "parse", "load", "index", "archive"];

async function crashedRun(): Promise<{ dir: string; runId: string; pid: number }> {
  const dir = tempDir();
  const runId = "crash-1";
  const child = await runChildScript(CLI, dir, runId, join(dir, "log"), "parse started", ["run", MODULE, "--run-id", runId]);
  expect(child.signal, child.stderr).toBe("SIGKILL");
  return { dir, runId, pid: child.pid };
}

describe("a run whose process was SIGKILLed", () => {
  it("is crashed in listRuns and getRun, with the same counts, and resumes", async () => {
    const { dir, runId, pid } = await crashedRun();
    const store = lowdb(dir);
    const [listed] = await listRuns({ store });
    expect(listed).toMatchObject({ runId, status: "running", liveness: "crashed", nodeCount: 5, settledCount: 1, succeededCount: 1, failedCount: 0 });
    const run = await getRun(runId, { store, order: "dependency" });
    expect(run.status).toBe("running");
    expect(run.liveness).toBe("crashed");
    expect(run.holder?.pid).toBe(pid);
    expect(run.nodes.map((n) => n.id)).toEqual(DEPENDENCY_ORDER);
    expect(run.nodes.filter((n) => n.status === "succeeded").length).toBe(listed?.succeededCount);

    // A lease that expired, held on a host this one cannot check: stalled, not crashed.
    const now = Date.now();
    await store.acquireLease(runId, { owner: "remote", pid: 4242, host: "elsewhere", ttlMs: 1_000, now: now - 10_000 });
    const stalled = await getRun(runId, { store });
    expect(stalled.liveness).toBe("stalled");
    expect(stalled.holder).toMatchObject({ owner: "remote", pid: 4242, host: "elsewhere" });
    expect(runText(stalled, now)).toMatch(/^status +stalled \(stored as running; the lease of process 4242 on elsewhere expired 9\.\d+s ago\)$/m);
    expect(await listRuns({ store })).toMatchObject([{ runId, liveness: "stalled" }]);

    const g = graph("hang-chain")
      .node("fetch", () => 1)
      .node("parse", ({ deps }) => deps.fetch + 1, { after: ["fetch"] })
      .node("load", ({ deps }) => deps.parse + 1, { after: ["parse"] })
      .node("index", ({ deps }) => deps.load + 1, { after: ["load"] })
      .node("archive", ({ deps }) => deps.index + 1, { after: ["index"] })
      .build();
    await runAsync(g, undefined, { runId, store });
    const done = await getRun(runId, { store });
    expect(done.status).toBe("succeeded");
    expect(done.liveness).toBeUndefined();
    expect(await listRuns({ store })).toMatchObject([{ runId, status: "succeeded", succeededCount: 5, settledCount: 5, failedCount: 0 }]);
    expect((await listRuns({ store }))[0]?.liveness).toBeUndefined();
  }, 60_000);

  it("is crashed in taskloom runs and show, which agree on 1/5 and list nodes in dependency order", async () => {
    const { dir, runId, pid } = await crashedRun();
    const runs = await cli(dir, ["runs"]);
    expect(runs.code, runs.stderr).toBe(0);
    const row = runs.stdout.split("\n").find((l) => l.startsWith(runId));
    expect(row).toMatch(/^crash-1\s+hang-chain\s+crashed\s+1\/5\s/);
    expect(runs.stderr).toContain(`continue one with: taskloom resume ${runId} <module>`);
    const json = await cli(dir, ["runs", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject([{ runId, status: "running", liveness: "crashed", succeededCount: 1, failedCount: 0, nodeCount: 5 }]);

    const show = await cli(dir, ["show", runId]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^status +crashed \\(stored as running; its process ${pid} on \\S+ is gone\\)$`, "m"));
    expect(show.stdout).toMatch(/^nodes +1\/5 done$/m);
    const table = show.stdout.slice(show.stdout.indexOf("NODE "));
    const ids = table
      .split("\n")
      .slice(1)
      .filter(Boolean)
      .map((l) => l.split(/\s+/)[0]);
    expect(ids).toEqual(DEPENDENCY_ORDER);
    expect(show.stderr).toContain(`continue it with: taskloom resume ${runId} <module>`);
    const asJson = JSON.parse((await cli(dir, ["show", runId, "--json"])).stdout) as { liveness: string; nodes: { id: string }[] };
    expect(asJson.liveness).toBe("crashed");
    expect(asJson.nodes.map((n) => n.id)).toEqual(DEPENDENCY_ORDER);
  }, 60_000);
});

describe("a run this process drives", () => {
  it("is live in getRun and listRuns, with this process as its holder", async () => {
    const store = lowdb(tempDir());
    const gate = deferred();
    const g = graph("gated")
      .node("wait", () => gate.promise)
      .node("after", () => 1, { after: ["wait"] })
      .build();
    const handle = run(g, undefined, { store, runId: "live-1" });
    for (let i = 0; i < 400 && (await getRun("live-1", { store }).catch(() => undefined))?.status !== "running"; i++)
      await new Promise((r) => setTimeout(r, 5));
    const details = await getRun("live-1", { store });
    expect(details).toMatchObject({ status: "running", liveness: "live", holder: { pid: process.pid } });
    expect(await listRuns({ store })).toMatchObject([{ runId: "live-1", liveness: "live" }]);
    gate.resolve();
    await handle.result();
    expect((await getRun("live-1", { store })).liveness).toBeUndefined();
  }, 30_000);
});

describe("livenessOf", () => {
  const now = 1_000_000;
  const elsewhere = { host: "another-host", pid: 4242, expiresAt: now + 5_000 };
  it("is live while a lease held elsewhere has not expired, stalled once it has or when none is left", () => {
    expect(livenessOf("running", elsewhere, now)).toBe("live");
    expect(livenessOf("running", { ...elsewhere, expiresAt: now }, now)).toBe("stalled");
    expect(livenessOf("running", undefined, now)).toBe("stalled");
    expect(livenessOf("pending", { ...elsewhere, expiresAt: now - 1 }, now)).toBe("stalled");
  });
  it("has no liveness for a run that stopped", () => {
    for (const status of ["succeeded", "failed", "cancelled", "waiting"] as const) expect(livenessOf(status, undefined, now)).toBeUndefined();
    expect(RUN_LIVENESS).toEqual(["live", "crashed", "stalled"]);
  });
});
