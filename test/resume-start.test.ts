/**
 * A resume saves its start as journal records (the nodes reset to run
 * again, the run meta), not as a new snapshot of the whole run
 * (persistence-observer.ts, `start`): starting a resume costs what it
 * changes. These tests check that the snapshot is left as it was at the
 * start, and that a crash right after that start loses nothing: a real
 * child is SIGKILLed in its first run, then again at the first node body
 * of its resume, and a third run finishes the work without running again
 * any node saved before either kill. Both are checked on a run kept as a
 * folder (`layout: "folders"`: `runs/<runId>/snapshot.json` and
 * `journal.ndjson`) and on one kept as a run file (`<runId>.run`, the
 * default layout: its last snapshot line and the journal records after it).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import superjson from "superjson";
import { afterAll, describe, expect, it } from "vitest";
import { logLines, runChildScript } from "./support/child-process.js";
import { getRun, graph, LowdbStore, MemoryStore, NonRetryableError, run, runAsync, type RunStore } from "../src/index.js";
import { runFileJournal, runFileSnapshot, runFileSnapshotLine } from "./support/run-file-journal.js";
import { readSnapshotDocument } from "./support/snapshot-file.js";

const CHILD = resolve(import.meta.dirname, "fixtures/crash-child.mjs");
const root = mkdtempSync(join(tmpdir(), "taskloom-resume-start-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A stored snapshot document (its `meta` and `nodes`). */
type Snapshot = { meta: { starts: number; status: string }; nodes: readonly unknown[] };

/** A way a run is kept, as the tests read it on both layouts. */
interface Layout {
  /** A store that keeps new runs so. */
  readonly store: (dir: string) => LowdbStore;
  /** What makes test/fixtures/crash-child.mjs keep new runs so. */
  readonly env: Readonly<Record<string, string>>;
  /** What tells the run's stored snapshot from one written after it: the same while no new snapshot is written. */
  readonly snapshotMark: (dir: string, runId: string) => number | string;
  /** The run's stored snapshot document. */
  readonly snapshotOf: (dir: string, runId: string) => Snapshot;
  /** The run's journal records after its snapshot, as text. */
  readonly journal: (dir: string, runId: string) => string;
}

/** A folder per run, `runs/<runId>/`. */
const FOLDERS: Layout = {
  store: (dir) => new LowdbStore({ dir, layout: "folders" }),
  env: { LAYOUT: "folders" },
  // snapshot.json's inode: a new snapshot is a new file, renamed over it.
  snapshotMark: (dir, runId) => statSync(join(dir, "runs", runId, "snapshot.json")).ino,
  snapshotOf: (dir, runId) => readSnapshotDocument(join(dir, "runs", runId, "snapshot.json")),
  journal: (dir, runId) => readFileSync(join(dir, "runs", runId, "journal.ndjson"), "utf8"),
};

/** A file per run, `<runId>.run` (`LowdbStore`'s default). */
const FILES: Layout = {
  store: (dir) => new LowdbStore({ dir }),
  env: {},
  // The last snapshot line's text. Not the run file's inode: a store that takes the run's lease copies the
  // whole file to a new one (run-file-leases.ts, a takeover's step 4), a resume of a run given back too.
  snapshotMark: runFileSnapshotLine,
  snapshotOf: runFileSnapshot,
  journal: runFileJournal,
};

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

/**
 * A failed run resumed on `layout` (in a new folder named from `prefix`): at
 * run:start its snapshot is the stored one, its journal holds the reset
 * nodes and the run meta, and the resume ends as journal records too.
 */
async function resumeStartsWithRecords(layout: Layout, prefix: string): Promise<void> {
  const dir = mkdtempSync(join(root, prefix));
  const failing = { on: true };
  const ran: string[] = [];
  const g = flakyFanOut(100, failing, ran);
  const first = layout.store(dir);
  await expect(runAsync(g, undefined, { store: first, runId: "r", continueOnError: true, retry: { maxAttempts: 1 } })).rejects.toThrow();
  const stored = await getRun("r", { store: first });
  await first.close();
  const unfinished = stored.nodes.filter((n) => n.status !== "succeeded" && n.status !== "skipped").length;
  expect(unfinished).toBeGreaterThanOrEqual(10);
  const before = layout.snapshotMark(dir, "r");

  failing.on = false;
  ran.length = 0;
  const store = layout.store(dir);
  const seen: { snapshot: number | string; starts: number; lines: number; resetLines: number }[] = [];
  const handle = run(g, undefined, { store, runId: "r" });
  handle.events.on("run:start", () => {
    const journal = layout.journal(dir, "r");
    seen.push({
      snapshot: layout.snapshotMark(dir, "r"),
      starts: layout.snapshotOf(dir, "r").meta.starts,
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
  expect(seen[0]!.snapshot).toBe(before);
  expect(seen[0]!.starts).toBe(1);
  // One record per node to run again, and the run meta: not the 100 nodes that stay as they were.
  expect(seen[0]!.lines).toBe(unfinished + 1);
  // The failed nodes' resets share one line.
  // The resets of a resume's start are one line of compact records (`journal-delta.ts`), on both layouts.
  expect(seen[0]!.resetLines).toBe(1);
  expect([...ran].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `n${i * 10}`).sort());
  const final = await getRun("r", { store });
  expect(final.status).toBe("succeeded");
  expect(final.starts).toBe(2);
  // The end is stored as journal records after the start's (persistence-observer.ts, `finish`), not as a
  // new snapshot: a store that reads the folder afresh sees it.
  const fresh = layout.store(dir);
  expect((await getRun("r", { store: fresh })).starts).toBe(2);
  await fresh.close();
  const [summary] = await store.list();
  expect(summary).toMatchObject({ runId: "r", status: "succeeded", nodeCount: 102, settledCount: 102 });
  await store.close();
}

describe("a resume starts with journal records, not a snapshot", () => {
  it("LowdbStore: at run:start the snapshot is the stored one, the journal holds the reset nodes and the run meta, and list says running", () =>
    resumeStartsWithRecords(FOLDERS, "lowdb-"));

  it("LowdbStore, runs kept as run files (the default): at run:start the snapshot is the stored one, the journal holds the reset nodes and the run meta, and list says running", () =>
    resumeStartsWithRecords(FILES, "run-file-"));

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

/** Run "crash" of test/fixtures/crash-child.mjs on `layout` (in the folder `name`), killed in its first run and at the first node body of its resume, then resumed to the end. */
async function killedAfterResumeStart(layout: Layout, name: string): Promise<void> {
  const dir = join(root, name);
  const log = join(root, `${name}.log`);
  const first = await runChildScript(CHILD, dir, "crash", log, "end w3", [], layout.env);
  expect(first.signal, first.stderr).toBe("SIGKILL");
  const afterFirst = await savedDone(layout, dir);
  const snapshotStarts = layout.snapshotOf(dir, "crash").meta.starts;

  // Killed at its first node body: the resume's start was saved just before.
  const second = await runChildScript(CHILD, dir, "crash", log, "start", [], layout.env);
  expect(second.signal, second.stderr).toBe("SIGKILL");
  expect(layout.snapshotOf(dir, "crash").meta.starts).toBe(snapshotStarts);
  const store = layout.store(dir);
  const saved = await getRun("crash", { store });
  await store.close();
  expect(saved.starts).toBe(2);
  expect(saved.status).toBe("running");

  const third = await runChildScript(CHILD, dir, "crash", log, undefined, [], layout.env);
  expect(third.code, third.stderr).toBe(0);
  const out = superjson.parse<{ total: number }>(third.stdout.trim());
  expect(out.total).toBeGreaterThan(0);
  const rerun = [...logLines(log, second.pid), ...logLines(log, third.pid)].filter((l) => l.startsWith("start ")).map((l) => l.split(" ")[1]);
  for (const id of afterFirst) expect(rerun, `node "${id}" was saved before the first kill but ran again`).not.toContain(id);
  const store2 = layout.store(dir);
  const final = await getRun("crash", { store: store2 });
  await store2.close();
  expect(final.status).toBe("succeeded");
  expect(final.starts).toBe(3);
}

describe("SIGKILL right after a resume started", () => {
  it("the next resume finishes the run, never re-running a node saved before either kill", () => killedAfterResumeStart(FOLDERS, "crash"), 120_000);

  it(
    "runs kept as run files (the default): the next resume finishes the run, never re-running a node saved before either kill",
    () => killedAfterResumeStart(FILES, "crash-run-file"),
    120_000,
  );
});

async function savedDone(layout: Layout, dir: string): Promise<string[]> {
  const store = layout.store(dir);
  const saved = await getRun("crash", { store });
  await store.close();
  return saved.nodes.filter((n) => n.status === "succeeded").map((n) => n.id);
}
