/**
 * A new run that succeeds with a short journal ends with an append (its
 * last node records, the run meta, the summary's node counts), not a second
 * snapshot of the whole run (persistence-observer.ts, `start` keeps its
 * snapshot as the base of `finish`): snapshot.json stays the file the run
 * started with, and what a fresh store loads, lists and resumes equals what
 * the same run stores when it ends with a snapshot (`snapshot: "end"`).
 * A run whose journal is long (it compacted, it is past the base's size
 * limit) or that stops unfinished still ends with a snapshot. The crash
 * between that final append and the lease's release is in
 * `run-end-crash.test.ts`. The files read here are a run folder's
 * (`layout: "folders"`); that a fresh store loads, lists and resumes a run
 * ended by an append is checked on a run file (`<dir>/<runId>.run`, the
 * default layout) too.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { getRun, graph, listRuns, MemoryStore, run, runAsync, type RunStore } from "../src/index.js";
import { systemClock } from "../src/core/clock.js";
import { RunEvents } from "../src/events/run-events.js";
import { MAX_BASE_ACTIVATIONS, PersistenceObserver } from "../src/persistence/persistence-observer.js";
import { deserialize } from "../src/persistence/serialization.js";
import { markSucceeded } from "../src/state/node-transitions.js";
import { getNode } from "../src/state/node-table.js";
import type { JournalRecord, NodeRecord } from "../src/state/records.js";
import { appendNodes, commitNodes, createRunState, setRunStatus, type RunState } from "../src/state/run-state.js";
import { runFileJournal } from "./support/run-file-journal.js";
import { tempStores } from "./support/temp-stores.js";

// The folder layout's files are read below (snapshot.json's inode, the journal's lines): its stores keep every run as a folder.
const { tempDir, lowdb } = tempStores("taskloom-run-end-", { layout: "folders" });

/** A chain, a fan-out and a map (whose elements are activations added while the run runs); `ran` counts bodies. */
function mixed(ran: string[]) {
  return graph("run-end")
    .node("a", () => {
      ran.push("a");
      return 1;
    })
    .node(
      "b",
      ({ deps }) => {
        ran.push("b");
        return deps.a + 1;
      },
      { after: ["a"] },
    )
    .node(
      "c",
      ({ deps }) => {
        ran.push("c");
        return [deps.a, 2, 3];
      },
      { after: ["a"] },
    )
    .map("sq", "c", ({ item }) => {
      ran.push("sq");
      return item * item;
    })
    .node(
      "sum",
      ({ deps }) => {
        ran.push("sum");
        return deps.b + deps.sq.reduce((s, v) => s + v, 0);
      },
      { after: ["b", "sq"] },
    )
    .output((o) => ({ total: o.sum }))
    .build();
}

const files = (dir: string, runId: string) => ({
  snapshot: join(dir, "runs", runId, "snapshot.json"),
  journal: join(dir, "runs", runId, "journal.ndjson"),
});

/** What a load tells of a run, without its timestamps. */
async function stored(store: RunStore, runId: string) {
  const details = await getRun(runId, { store });
  const [summary] = await listRuns({ store });
  return {
    status: details.status,
    outputs: details.outputs,
    starts: details.starts,
    nodes: details.nodes
      .map((n) => ({ id: n.id, nodeId: n.nodeId, status: n.status, output: n.output, attempts: n.attempts }))
      .sort((x, y) => (x.id < y.id ? -1 : 1)),
    summary: summary && {
      runId: summary.runId,
      graphName: summary.graphName,
      status: summary.status,
      nodeCount: summary.nodeCount,
      settledCount: summary.settledCount,
      succeededCount: summary.succeededCount,
      failedCount: summary.failedCount,
      waits: summary.waits,
    },
  };
}

/** A run's layout as the tests on both read it: a store that keeps new runs so, and run `runId`'s journal records after its snapshot, as text. */
interface Layout {
  readonly store: (dir: string) => RunStore;
  readonly journal: (dir: string, runId: string) => string;
}

const layouts = {
  /** A folder per run: `runs/<runId>/journal.ndjson`. */
  folders: { store: (dir) => lowdb(dir), journal: (dir, runId) => readFileSync(files(dir, runId).journal, "utf8") },
  /** A file per run, `<runId>.run` (`LowdbStore`'s default): its records after its last snapshot line. */
  files: { store: (dir) => lowdb(dir, {}), journal: runFileJournal },
} satisfies Record<string, Layout>;

/** A run that ended by an append and the same run ended by a snapshot, on `layout`: a fresh store loads, lists and resumes them alike. */
async function loadsListsResumes(layout: Layout): Promise<void> {
  const lowdb = layout.store;
  const ranAppend: string[] = [];
  const ranSnapshot: string[] = [];
  const dirAppend = tempDir();
  const dirSnapshot = tempDir();
  await runAsync(mixed(ranAppend), undefined, { store: lowdb(dirAppend), runId: "r" });
  await runAsync(mixed(ranSnapshot), undefined, { store: lowdb(dirSnapshot), runId: "r", snapshot: "end" });
  expect(layout.journal(dirSnapshot, "r")).toBe("");
  expect(layout.journal(dirAppend, "r")).not.toBe("");

  const viaAppend = await stored(lowdb(dirAppend), "r");
  expect(viaAppend).toEqual(await stored(lowdb(dirSnapshot), "r"));
  expect(viaAppend.status).toBe("succeeded");
  expect(viaAppend.outputs).toEqual({ total: 16 });
  expect(viaAppend.nodes.map((n) => n.id)).toContain("sq[2]");
  expect(viaAppend.summary).toMatchObject({ status: "succeeded", nodeCount: 8, settledCount: 8, succeededCount: 8, failedCount: 0 });

  // A resume by its run id finds it done: nothing runs again, the outputs come back.
  const before = ranAppend.length;
  expect(await runAsync(mixed(ranAppend), undefined, { store: lowdb(dirAppend), runId: "r" })).toEqual({ total: 16 });
  expect(ranAppend.length).toBe(before);
  expect(await stored(lowdb(dirAppend), "r")).toEqual(viaAppend);
}

describe("a new short run ends with an append", () => {
  it("LowdbStore: snapshot.json is left as the run started (same inode and mtime), the journal ends with the succeeded run meta", async () => {
    const dir = tempDir();
    const ran: string[] = [];
    const store = lowdb(dir);
    const handle = run(mixed(ran), undefined, { store, runId: "r" });
    const { snapshot, journal } = files(dir, "r");
    let atStart: { ino: number; mtimeMs: number; size: number } | undefined;
    handle.events.on("run:start", () => {
      const s = statSync(snapshot);
      atStart = { ino: s.ino, mtimeMs: s.mtimeMs, size: s.size };
    });
    const writes: boolean[] = [];
    handle.events.on("snapshot", (e) => void writes.push(e.full));
    expect(await handle.result()).toEqual({ total: 2 + 1 + 4 + 9 });
    const after = statSync(snapshot);
    expect({ ino: after.ino, mtimeMs: after.mtimeMs, size: after.size }).toEqual(atStart);
    // One full snapshot, at the start.
    expect(writes.filter((full) => full)).toEqual([true]);
    expect(writes[0]).toBe(true);
    expect(writes.at(-1)).toBe(false);
    expect(deserialize<{ meta: { status: string } }>(readFileSync(snapshot, "utf8")).meta.status).toBe("running");
    const lines = readFileSync(journal, "utf8")
      .split("\n")
      .filter((l) => l.length > 0);
    const last = deserialize<JournalRecord>(lines.at(-1)!);
    expect(last.kind).toBe("run");
    expect(last.kind === "run" && last.run.status).toBe("succeeded");
    await store.close();
  });

  it("LowdbStore: a fresh store loads, lists and resumes it as it does the same run ended with a snapshot", () => loadsListsResumes(layouts.folders));

  it("LowdbStore, runs kept as run files (the default): a fresh store loads, lists and resumes it as it does the same run ended with a snapshot", () =>
    loadsListsResumes(layouts.files));

  it("a failed run (unfinished: it will be loaded again) still ends with a snapshot", async () => {
    const dir = tempDir();
    let failing = true;
    const ids = Array.from({ length: 20 }, (_, i) => `n${i}`);
    let b = graph("failing").node("root", () => 0) as unknown as {
      node(id: string, fn: () => number, o?: { after: string[] }): typeof b;
      build(): Parameters<typeof runAsync>[0];
    };
    ids.forEach((id, i) => {
      b = b.node(
        id,
        () => {
          if (failing && i % 10 === 0) throw new Error(`planned failure of ${id}`);
          return i;
        },
        { after: ["root"] },
      );
    });
    const g = b.build();
    const store = lowdb(dir);
    const handle = run(g, undefined, { store, runId: "f", continueOnError: true, retry: { maxAttempts: 1 } });
    let ino = 0;
    handle.events.on("run:start", () => void (ino = statSync(files(dir, "f").snapshot).ino));
    await expect(handle.result()).rejects.toThrow();
    const { snapshot, journal } = files(dir, "f");
    expect(statSync(snapshot).ino).not.toBe(ino);
    expect(deserialize<{ meta: { status: string } }>(readFileSync(snapshot, "utf8")).meta.status).toBe("failed");
    expect(readFileSync(journal, "utf8")).toBe("");
    failing = false;
    await runAsync(g, undefined, { store: lowdb(dir), runId: "f" });
    expect((await stored(lowdb(dir), "f")).summary).toMatchObject({ status: "succeeded", nodeCount: 21, settledCount: 21 });
  });
});

/** A MemoryStore that tells how the run ended: the kind of each write. */
class WriteLog extends MemoryStore {
  readonly writes: ("snapshot" | "append")[] = [];
  override async writeSnapshot(...args: Parameters<MemoryStore["writeSnapshot"]>): Promise<void> {
    this.writes.push("snapshot");
    return super.writeSnapshot(...args);
  }
  override async append(...args: Parameters<MemoryStore["append"]>): Promise<void> {
    this.writes.push("append");
    return super.append(...args);
  }
}

/** An observer over a new run of `n` pending activations on a {@link WriteLog}. */
function observe(n: number): { store: WriteLog; observer: PersistenceObserver; state: { current: RunState } } {
  const store = new WriteLog();
  const nodeIds = Array.from({ length: n }, (_, i) => `n${i}`);
  const created = createRunState({ runId: "o", graphName: "o", fingerprint: "f", inputs: undefined, nodeIds, now: 1 });
  const state = { current: setRunStatus(created, "running", 2) };
  const observer = new PersistenceObserver({
    store,
    runId: "o",
    policy: undefined,
    clock: systemClock,
    events: new RunEvents(),
    getState: () => state.current,
    seq: 0,
    nodeCount: n,
  });
  return { store, observer, state };
}

/** Makes activation `id` succeed with `output` in the state and hands the record to the observer. */
function succeed(o: ReturnType<typeof observe>, id: string, output: number): NodeRecord {
  const record = markSucceeded(output, true, 3)(getNode(o.state.current.nodes, id)!);
  o.state.current = commitNodes(o.state.current, [record], 3);
  o.observer.put(record);
  return record;
}

describe("PersistenceObserver: when a new run's end is an append", () => {
  it("appends at the end of a run of MAX_BASE_ACTIVATIONS activations, and snapshots one of a single activation more", async () => {
    for (const [n, end] of [
      [MAX_BASE_ACTIVATIONS, "append"],
      [MAX_BASE_ACTIVATIONS + 1, "snapshot"],
    ] as const) {
      const o = observe(n);
      await o.observer.start();
      succeed(o, "n0", 1);
      await o.observer.barrier();
      o.state.current = setRunStatus(o.state.current, "succeeded", 4);
      await o.observer.finish();
      expect(o.store.writes, `${n} activations`).toEqual(["snapshot", "append", end]);
      const loaded = await o.store.load("o");
      expect(loaded?.state.meta.status).toBe("succeeded");
      expect(getNode(loaded!.state.nodes, "n0")).toMatchObject({ status: "succeeded", output: 1 });
      expect(loaded!.state.nodes.index.size).toBe(n);
    }
  });

  it("a run that appends records of more than MAX_BASE_ACTIVATIONS activations (it grew) drops its base and ends with a snapshot", async () => {
    const o = observe(1);
    await o.observer.start();
    const added = Array.from({ length: MAX_BASE_ACTIVATIONS }, (_, i): NodeRecord => ({ id: `m${i}`, nodeId: "m", status: "pending", attempts: 0 }));
    o.state.current = appendNodes(o.state.current, added);
    for (const record of added) o.observer.put(record, false);
    succeed(o, "n0", 1);
    await o.observer.barrier();
    o.state.current = setRunStatus(o.state.current, "succeeded", 4);
    await o.observer.finish();
    expect(o.store.writes).toEqual(["snapshot", "append", "snapshot"]);
    expect((await o.store.load("o"))!.state.nodes.index.size).toBe(MAX_BASE_ACTIVATIONS + 1);
  });

  it("a run whose journal reached the compaction threshold (it compacted) ends with a snapshot", async () => {
    const o = observe(10);
    await o.observer.start();
    // Each write holds one record: 1,025 of them pass the threshold of max(1,024, 2 x 10).
    for (let i = 0; i < 1_030; i++) {
      succeed(o, `n${i % 10}`, i);
      await o.observer.barrier();
    }
    expect(o.store.writes.filter((w) => w === "snapshot")).toHaveLength(2);
    o.state.current = setRunStatus(o.state.current, "succeeded", 4);
    await o.observer.finish();
    expect(o.store.writes.at(-1)).toBe("snapshot");
    expect(getNode((await o.store.load("o"))!.state.nodes, "n9")).toMatchObject({ output: 1_029 });
  });

  it('under the "end" policy a new run ends with a snapshot (its end would append the whole run)', async () => {
    const store = new WriteLog();
    await runAsync(mixed([]), undefined, { store, runId: "e", snapshot: "end" });
    expect(store.writes).toEqual(["snapshot", "snapshot"]);
    const plain = new WriteLog();
    await runAsync(mixed([]), undefined, { store: plain, runId: "e" });
    expect(plain.writes[0]).toBe("snapshot");
    expect(plain.writes.slice(1).every((w) => w === "append")).toBe(true);
  });

  it("a record changed without a journal write (revised after it was stored) makes the end a snapshot", async () => {
    const o = observe(3);
    await o.observer.start();
    succeed(o, "n0", 1);
    await o.observer.barrier();
    // A newer record of n1 that the journal never saw: an append could not replay to it.
    const hidden = markSucceeded(7, true, 3)(getNode(o.state.current.nodes, "n1")!);
    o.state.current = commitNodes(o.state.current, [hidden], 3);
    o.observer.revise(hidden);
    o.state.current = setRunStatus(o.state.current, "succeeded", 4);
    await o.observer.finish();
    expect(o.store.writes.at(-1)).toBe("snapshot");
    expect(getNode((await o.store.load("o"))!.state.nodes, "n1")).toMatchObject({ output: 7 });
  });
});
