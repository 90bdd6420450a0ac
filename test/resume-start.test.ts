/**
 * A resume saves its start as journal records (the nodes reset to run
 * again, the run meta), not as a new snapshot of the whole run
 * (persistence-observer.ts, `start`): starting a resume costs what it
 * changes. These tests check that the snapshot is left as it was at the
 * start, and that a crash right after that start loses nothing: a real
 * child is SIGKILLed in its first run, then again at the first node body
 * of its resume, and a third run finishes the work without running again
 * any node saved before either kill.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import superjson from "superjson";
import { afterAll, describe, expect, it } from "vitest";
import { logLines, runChildScript } from "./support/child-process.js";
import { getRun, graph, LowdbStore, MemoryStore, NonRetryableError, run, runAsync, type RunStore } from "../src/index.js";
import { readSnapshotDocument } from "./support/snapshot-file.js";

const CHILD = resolve(import.meta.dirname, "fixtures/crash-child.mjs");
const root = mkdtempSync(join(tmpdir(), "taskloom-resume-start-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The stored snapshot document of a run (its `meta` and `nodes`). */
function snapshotOf(dir: string, runId: string): { meta: { starts: number; status: string }; nodes: readonly unknown[] } {
  return readSnapshotDocument(join(dir, "runs", runId, "snapshot.json"));
}

/** A fan-out of `n` nodes whose every tenth node fails while `failing.on`. */
function flakyFanOut(n: number, failing: { on: boolean }, ran: string[]) {
  type Loose = { node(id: string, fn: () => Promise<number>, o?: { after: string[] }): Loose; output(fn: () => null): { build(): unknown } };
  let b = graph("resume-start") as unknown as Loose;
  const ids = Array.from({ length: n }, (_, i) => `n${i}`);
  b = b.node("root", async () => 0);
  ids.forEach((id, i) => {
    b = b.node(
      id,
      async () => {
        ran.push(id);
        if (failing.on && i % 10 === 0) throw new NonRetryableError(`planned failure of ${id}`);
        return i;
      },
      { after: ["root"] },
    );
  });
  return b
    .node("join", async () => 0, { after: ids })
    .output(() => null)
    .build() as ReturnType<ReturnType<typeof graph>["build"]>;
}

describe("a resume starts with journal records, not a snapshot", () => {
  it("LowdbStore: at run:start the snapshot is the stored one, the journal holds the reset nodes and the run meta, and list says running", async () => {
    const dir = mkdtempSync(join(root, "lowdb-"));
    const failing = { on: true };
    const ran: string[] = [];
    const g = flakyFanOut(100, failing, ran);
    const first = new LowdbStore({ dir });
    await expect(runAsync(g, undefined, { store: first, runId: "r", continueOnError: true, retry: { maxAttempts: 1 } })).rejects.toThrow();
    const stored = await getRun("r", { store: first });
    await first.close();
    const unfinished = stored.nodes.filter((n) => n.status !== "succeeded" && n.status !== "skipped").length;
    expect(unfinished).toBeGreaterThanOrEqual(10);
    const before = statSync(join(dir, "runs", "r", "snapshot.json"));

    failing.on = false;
    ran.length = 0;
    const store = new LowdbStore({ dir });
    const seen: { ino: number; starts: number; lines: number; resetLines: number }[] = [];
    const handle = run(g, undefined, { store, runId: "r" });
    handle.events.on("run:start", () => {
      const journal = readFileSync(join(dir, "runs", "r", "journal.ndjson"), "utf8");
      seen.push({
        ino: statSync(join(dir, "runs", "r", "snapshot.json")).ino,
        starts: snapshotOf(dir, "r").meta.starts,
        // A line of resets (`journal-delta.ts`) holds a record per id.
        lines: journal
          .split("\n")
          .filter((l) => l.length > 0)
          .reduce((n, l) => n + ((JSON.parse(l) as { json: { resets?: unknown[] } }).json.resets?.length ?? 1), 0),
        resetLines: journal.split("\n").filter((l) => l.includes('"resets":')).length,
      });
    });
    await handle.result();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.ino).toBe(before.ino);
    expect(seen[0]!.starts).toBe(1);
    // One record per node to run again, and the run meta: not the 100 nodes that stay as they were.
    expect(seen[0]!.lines).toBe(unfinished + 1);
    // The failed nodes' resets share one line.
    expect(seen[0]!.resetLines).toBe(1);
    expect([...ran].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `n${i * 10}`).sort());
    const final = await getRun("r", { store });
    expect(final.status).toBe("succeeded");
    expect(final.starts).toBe(2);
    // The end is stored as journal records after the start's (persistence-observer.ts, `finish`), not as a
    // new snapshot: a store that reads the folder afresh sees it.
    const fresh = new LowdbStore({ dir });
    expect((await getRun("r", { store: fresh })).starts).toBe(2);
    await fresh.close();
    const [summary] = await store.list();
    expect(summary).toMatchObject({ runId: "r", status: "succeeded", nodeCount: 102, settledCount: 102 });
    await store.close();
  });

  it("LowdbStore: list shows a resumed run as running while it runs", async () => {
    const dir = mkdtempSync(join(root, "list-"));
    const failing = { on: true };
    const g = flakyFanOut(20, failing, []);
    const store = new LowdbStore({ dir });
    await expect(runAsync(g, undefined, { store, runId: "r", continueOnError: true, retry: { maxAttempts: 1 } })).rejects.toThrow();
    failing.on = false;
    const handle = run(g, undefined, { store, runId: "r" });
    const statuses: Promise<string | undefined>[] = [];
    handle.events.on("run:start", () => statuses.push(store.list().then((l) => l[0]?.status)));
    await handle.result();
    expect(await Promise.all(statuses)).toEqual(["running"]);
    await store.close();
  });

  it.each<[string, () => RunStore]>([
    ["MemoryStore", () => new MemoryStore()],
    ["LowdbStore", () => new LowdbStore({ dir: mkdtempSync(join(root, "counts-")) })],
  ])("%s: at a resume's start, list counts the nodes as they start (the reset ones are no longer failed)", async (_name, make) => {
    const store = make();
    const failing = { on: true };
    const g = flakyFanOut(20, failing, []);
    await expect(runAsync(g, undefined, { store, runId: "r", continueOnError: true, retry: { maxAttempts: 1 } })).rejects.toThrow();
    expect((await store.list())[0]).toMatchObject({ status: "failed", nodeCount: 22, failedCount: 2 });
    failing.on = false;
    const handle = run(g, undefined, { store, runId: "r" });
    const seen: Promise<unknown>[] = [];
    handle.events.on("run:start", () => seen.push(store.list().then((l) => l[0])));
    await handle.result();
    expect(await Promise.all(seen)).toEqual([
      expect.objectContaining({ status: "running", nodeCount: 22, settledCount: 19, succeededCount: 19, failedCount: 0 }),
    ]);
    await store.close();
  });

  it.each<[string, () => RunStore]>([
    ["MemoryStore", () => new MemoryStore()],
    ["LowdbStore", () => new LowdbStore({ dir: mkdtempSync(join(root, "each-")) })],
  ])("%s: a resume resumed again after it failed once more keeps every saved output", async (_name, make) => {
    const store = make();
    const failing = { on: true };
    const ran: string[] = [];
    const g = flakyFanOut(30, failing, ran);
    const options = { store, runId: "again", continueOnError: true, retry: { maxAttempts: 1 } };
    await expect(runAsync(g, undefined, options)).rejects.toThrow();
    await expect(runAsync(g, undefined, options)).rejects.toThrow();
    failing.on = false;
    ran.length = 0;
    await runAsync(g, undefined, { store, runId: "again" });
    expect([...ran].sort()).toEqual(["n0", "n10", "n20"]);
    const final = await getRun("again", { store });
    expect(final.starts).toBe(3);
    expect(final.nodes.every((n) => n.status === "succeeded")).toBe(true);
    await store.close();
  });
});

describe("SIGKILL right after a resume started", () => {
  it("the next resume finishes the run, never re-running a node saved before either kill", async () => {
    const dir = join(root, "crash");
    const log = join(root, "crash.log");
    const first = await runChildScript(CHILD, dir, "crash", log, "end w3");
    expect(first.signal, first.stderr).toBe("SIGKILL");
    const afterFirst = await savedDone(dir);
    const snapshotStarts = snapshotOf(dir, "crash").meta.starts;

    // Killed at its first node body: the resume's start was saved just before.
    const second = await runChildScript(CHILD, dir, "crash", log, "start");
    expect(second.signal, second.stderr).toBe("SIGKILL");
    expect(snapshotOf(dir, "crash").meta.starts).toBe(snapshotStarts);
    const store = new LowdbStore({ dir });
    const saved = await getRun("crash", { store });
    await store.close();
    expect(saved.starts).toBe(2);
    expect(saved.status).toBe("running");

    const third = await runChildScript(CHILD, dir, "crash", log);
    expect(third.code, third.stderr).toBe(0);
    const out = superjson.parse<{ total: number }>(third.stdout.trim());
    expect(out.total).toBeGreaterThan(0);
    const rerun = [...logLines(log, second.pid), ...logLines(log, third.pid)].filter((l) => l.startsWith("start ")).map((l) => l.split(" ")[1]);
    for (const id of afterFirst) expect(rerun, `node "${id}" was saved before the first kill but ran again`).not.toContain(id);
    const store2 = new LowdbStore({ dir });
    const final = await getRun("crash", { store: store2 });
    await store2.close();
    expect(final.status).toBe("succeeded");
    expect(final.starts).toBe(3);
  }, 120_000);
});

async function savedDone(dir: string): Promise<string[]> {
  const store = new LowdbStore({ dir });
  const saved = await getRun("crash", { store });
  await store.close();
  return saved.nodes.filter((n) => n.status === "succeeded").map((n) => n.id);
}
