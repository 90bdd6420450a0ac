/**
 * Audit: an event accepted by `resolveWait` survives a SIGKILL of the
 * process that accepted it, on both paths: delivered live to the run this
 * process drives (the child process drives the run and resolves its wait
 * from a `node:wait` listener), and written into a stored run nobody
 * drives. The child kills itself with SIGKILL the moment `resolveWait`
 * resolves; a resume in this process must hand the node the very payload
 * (a Date, a Map, a BigInt, undefined fields), never wait again, and refuse
 * a second delivery of the key.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { GraphHasPendingWaits, LowdbStore, WaitAlreadyResolvedError, getRun, graph, resolveWait, runAsync } from "../src/index.js";
import { rejection } from "./support/async.js";

const root = mkdtempSync(join(tmpdir(), "taskloom-audit-crash-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SRC = pathToFileURL(resolve(import.meta.dirname, "../src/index.ts")).href;

/**
 * The child: `live <dir> <runId>` drives the run and resolves its wait
 * itself; `stored <dir> <runId>` resolves a stored run's wait; `take <dir>
 * <runId>` resumes a run whose event waits in its inbox and dies once the
 * node took it.
 */
const CHILD = `
import { graph, run, resolveWait, LowdbStore } from ${JSON.stringify(SRC)};
const [mode, dir, runId] = process.argv.slice(2);
const payload = () => ({ at: new Date(86400000), tags: new Map([["a", 1n]]), none: undefined, list: [undefined, -0] });
const die = () => process.kill(process.pid, "SIGKILL");
if (mode === "live") {
  const g = graph("crash-review")
    .node("ask", async ({ waitFor }) => {
      const got = await waitFor("k");
      await new Promise(() => {}); // never ends: the run is still live when the process dies
      return got;
    })
    .build();
  const handle = run(g, undefined, { runId, store: new LowdbStore({ dir }) });
  handle.events.on("node:wait", () => {
    void resolveWait(runId, "k", payload(), { store: new LowdbStore({ dir }) }).then(die, (e) => {
      console.error(String(e));
      process.exit(3);
    });
  });
  await new Promise(() => {});
} else if (mode === "take") {
  // The node takes the event from the inbox (journaled before waitFor returns), then the process dies.
  const g = graph("crash-review")
    .node("ask", async ({ waitFor }) => {
      await waitFor("k");
      die();
      await new Promise(() => {});
    })
    .build();
  await run(g, undefined, { runId, store: new LowdbStore({ dir }) }).result();
} else {
  await resolveWait(runId, "k", payload(), { store: new LowdbStore({ dir }) });
  die();
}
`;
const childFile = join(root, "child.mts");
writeFileSync(childFile, CHILD);

function runChild(args: string[]): Promise<{ signal: NodeJS.Signals | null; code: number | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", childFile, ...args], {
      stdio: ["ignore", "ignore", "pipe"],
      cwd: resolve(import.meta.dirname, ".."),
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", fail);
    child.on("close", (code, signal) => done({ code, signal, stderr }));
  });
}

const expected = { at: new Date(86400000), tags: new Map([["a", 1n]]), none: undefined, list: [undefined, -0] };
const review = graph("crash-review")
  .node("ask", ({ waitFor }) => waitFor("k"))
  .build();

describe("an accepted event survives SIGKILL of the process that accepted it", () => {
  it("live: delivered to the run the dying process drove", async () => {
    const dir = join(root, "live");
    const died = await runChild(["live", dir, "crash-live"]);
    expect(died.signal, died.stderr).toBe("SIGKILL");
    const store = new LowdbStore({ dir });
    expect((await getRun("crash-live", { store })).status).toBe("running");
    expect(await rejection(resolveWait("crash-live", "k", "again", { store }))).toBeInstanceOf(WaitAlreadyResolvedError);
    const out = (await runAsync(review, undefined, { runId: "crash-live", store })) as { ask: unknown };
    expect(out.ask).toStrictEqual(expected);
  }, 60_000);

  it("stored: written into a waiting run nobody drives", async () => {
    const dir = join(root, "stored");
    const store = new LowdbStore({ dir });
    expect(await rejection(runAsync(review, undefined, { runId: "crash-stored", store }))).toBeInstanceOf(GraphHasPendingWaits);
    const died = await runChild(["stored", dir, "crash-stored"]);
    expect(died.signal, died.stderr).toBe("SIGKILL");
    const out = (await runAsync(review, undefined, { runId: "crash-stored", store: new LowdbStore({ dir }) })) as { ask: unknown };
    expect(out.ask).toStrictEqual(expected);
    expect(await rejection(resolveWait("crash-stored", "k", "again", { store }))).toBeInstanceOf(WaitAlreadyResolvedError);
  }, 60_000);

  it("an event taken from the inbox before a SIGKILL is not left in the inbox once the run ends", async () => {
    const dir = join(root, "take");
    const store = new LowdbStore({ dir });
    expect(await rejection(runAsync(review, undefined, { runId: "crash-take", store }))).toBeInstanceOf(GraphHasPendingWaits);
    await resolveWait("crash-take", "k", expected, { store });
    const died = await runChild(["take", dir, "crash-take"]);
    expect(died.signal, died.stderr).toBe("SIGKILL");
    const after = new LowdbStore({ dir });
    expect(await rejection(resolveWait("crash-take", "k", "again", { store: after }))).toBeInstanceOf(WaitAlreadyResolvedError);
    const out = (await runAsync(review, undefined, { runId: "crash-take", store: after })) as { ask: unknown };
    expect(out.ask).toStrictEqual(expected);
    // Taken, so not waiting in the inbox any more: the ended run keeps no copy of it.
    expect((await new LowdbStore({ dir }).load("crash-take"))?.state.meta.inbox).toBeUndefined();
  }, 60_000);
});
