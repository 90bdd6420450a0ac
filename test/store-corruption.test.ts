/**
 * Stored run files that are damaged or of the wrong shape, through the
 * public API: a load refuses them with `SnapshotCorruptError` naming the
 * file (and leaves the file as it was), `listRuns` serves the good runs and
 * reports the bad ones, and a journal too big for one string still loads.
 * The runs are kept as folders (`runs/<runId>/`: the stores are made with
 * `layout: "folders"`); the last block damages the run file
 * (`<runId>.run`) of the default layout in the same ways.
 */
import { open, readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { deserialize, getRun, graph, listRuns, runAsync, serialize, SnapshotCorruptError } from "../src/index.js";
import { fromSnapshotFile, type SnapshotFileDocument } from "../src/persistence/snapshot-file.js";
import { tempStores } from "./support/temp-stores.js";
import { snapshotDocumentOf } from "./support/snapshot-file.js";

const { tempDir, lowdb } = tempStores("taskloom-corrupt-", { layout: "folders" });

const chain = () =>
  graph("chain")
    .node("a", () => 1)
    .node("b", ({ deps }) => deps.a + 1, { after: ["a"] })
    .build();

/** A store with one succeeded run `id` of the chain graph (`snapshot: "end"`: it ends with a snapshot of its whole final state). */
async function storeWithRun(id = "r1", snapshot?: "end") {
  const dir = tempDir();
  const store = lowdb(dir);
  await runAsync(chain(), undefined, { store, runId: id, snapshot });
  const file = (name: string, runId = id) => join(dir, "runs", runId, name);
  return { dir, store, file };
}

/** Reads a superjson file's `json` part; a snapshot in its version 1 form (the records of a version 2 file's chunks), which a load reads too. */
async function jsonOf(file: string): Promise<Record<string, unknown>> {
  const text = await readFile(file, "utf8");
  if (file.endsWith("snapshot.json")) return { ...snapshotDocumentOf(text) };
  return (JSON.parse(text) as { json: Record<string, unknown> }).json;
}

async function expectCorrupt(promise: Promise<unknown>, file: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "should have been refused").toBeInstanceOf(SnapshotCorruptError);
  expect((err as SnapshotCorruptError).file).toBe(file);
}

/** Snapshots of the wrong shape: each changes a snapshot's version 1 document. */
const wrongShapes: [string, (doc: Record<string, unknown>) => unknown][] = [
  ["meta holds only the run id", (doc) => ({ ...doc, meta: { runId: (doc.meta as { runId: string }).runId } })],
  ["a node record has no status", (doc) => ({ ...doc, nodes: (doc.nodes as object[]).map((n) => ({ ...n, status: undefined })) })],
  ["a node record's attempts is text", (doc) => ({ ...doc, nodes: (doc.nodes as object[]).map((n) => ({ ...n, attempts: "2" })) })],
  ["the run status is unknown", (doc) => ({ ...doc, meta: { ...(doc.meta as object), status: "exploded" } })],
  ["meta waits is not a list", (doc) => ({ ...doc, meta: { ...(doc.meta as object), waits: 3 } })],
  ["two node records share an id", (doc) => ({ ...doc, nodes: [...(doc.nodes as object[]), (doc.nodes as object[])[0]] })],
];

describe("a snapshot of the wrong shape is refused on load, naming the file, which is left as it was", () => {
  for (const [name, change] of wrongShapes) {
    it(name, async () => {
      const { dir, file } = await storeWithRun();
      const snapshot = file("snapshot.json");
      await writeFile(snapshot, serialize(change(await jsonOf(snapshot))));
      const before = await readFile(snapshot);
      const fresh = lowdb(dir);
      await expectCorrupt(getRun("r1", { store: fresh }), snapshot);
      await expectCorrupt(runAsync(chain(), undefined, { store: fresh, runId: "r1" }), snapshot);
      expect(await readFile(snapshot)).toEqual(before);
    });
  }

  it("a node record of the graph is missing: resume refuses it instead of an internal error", async () => {
    // The run's final state must be the snapshot, not journal records after it (a short run ends with an append).
    const { dir, file } = await storeWithRun("r1", "end");
    const snapshot = file("snapshot.json");
    const doc = await jsonOf(snapshot);
    // A failed run, so that resume runs nodes; node "b" has no record.
    const meta = { ...(doc.meta as object), status: "failed" };
    await writeFile(snapshot, serialize({ ...doc, meta, nodes: (doc.nodes as { id: string }[]).filter((n) => n.id !== "b") }));
    const before = await readFile(snapshot);
    await expectCorrupt(runAsync(chain(), undefined, { store: lowdb(dir), runId: "r1" }), snapshot);
    expect(await readFile(snapshot)).toEqual(before);
  });

  it("a journal record of the wrong shape (followed by a good one) is refused, naming the journal", async () => {
    const { dir, store, file } = await storeWithRun();
    await store.close();
    const journal = file("journal.ndjson");
    const good = serialize({ kind: "run", seq: 9, run: (await jsonOf(file("snapshot.json"))).meta });
    await writeFile(journal, `${serialize({ kind: "node", seq: 8, node: { id: "b" } })}\n${good}\n`);
    await expectCorrupt(getRun("r1", { store: lowdb(dir) }), journal);
  });
});

describe("listRuns serves the good runs and reports the bad ones", () => {
  // This case read "summary.json is empty" until blank summaries became what a power loss leaves (below):
  // the damage is now a summary cut short, which no power loss makes.
  it("skips a run whose summary.json is cut short and reports it through onProblem", async () => {
    const { dir, file, store } = await storeWithRun("good-1");
    await runAsync(chain(), undefined, { store, runId: "bad-1" });
    await truncate(file("summary.json", "bad-1"), 7);
    const problems: SnapshotCorruptError[] = [];
    const runs = await listRuns({ store: lowdb(dir), onProblem: (p) => problems.push(p) });
    expect(runs.map((r) => r.runId)).toEqual(["good-1"]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toBeInstanceOf(SnapshotCorruptError);
    expect(problems[0]!.file).toBe(file("summary.json", "bad-1"));
  });

  it("lists a run whose summary.json a power loss left blank (empty, or zeros) from its snapshot and journal, reporting nothing", async () => {
    const { dir, file, store } = await storeWithRun("good-1");
    await runAsync(chain(), undefined, { store, runId: "blank-empty" });
    await runAsync(chain(), undefined, { store, runId: "blank-zeros" });
    await truncate(file("summary.json", "blank-empty"), 0);
    await writeFile(file("summary.json", "blank-zeros"), Buffer.alloc(512));
    const problems: unknown[] = [];
    const runs = await listRuns({ store: lowdb(dir), onProblem: (p) => problems.push(p) });
    expect(problems).toEqual([]);
    expect(runs.map((r) => [r.runId, r.status, r.nodeCount, r.succeededCount]).sort()).toEqual([
      ["blank-empty", "succeeded", 2, 2],
      ["blank-zeros", "succeeded", 2, 2],
      ["good-1", "succeeded", 2, 2],
    ]);
    // Nothing was written by the read: the blank files are as they were.
    expect((await readFile(file("summary.json", "blank-empty"))).length).toBe(0);
    expect(await readFile(file("summary.json", "blank-zeros"))).toEqual(Buffer.alloc(512));
  });

  it("skips a summary of the wrong shape too, and a summary that names another run", async () => {
    const { dir, file, store } = await storeWithRun("good-1");
    await runAsync(chain(), undefined, { store, runId: "bad-1" });
    await runAsync(chain(), undefined, { store, runId: "bad-2" });
    const summary = await jsonOf(file("summary.json", "bad-1"));
    await writeFile(file("summary.json", "bad-1"), serialize({ ...summary, nodeCount: "many" }));
    await writeFile(file("summary.json", "bad-2"), serialize({ ...summary, runId: "good-1" }));
    const problems: unknown[] = [];
    const runs = await listRuns({ store: lowdb(dir), onProblem: (p) => problems.push(p) });
    expect(runs.map((r) => r.runId)).toEqual(["good-1"]);
    expect(problems).toHaveLength(2);
  });
});

describe("a journal too big to read as one string", () => {
  it("loads, line by line", { timeout: 120_000 }, async () => {
    const { dir, file, store } = await storeWithRun();
    await store.close();
    const doc = await jsonOf(file("snapshot.json"));
    const b = (doc.nodes as { id: string }[]).find((n) => n.id === "b")!;
    // 5 records of 105 MiB each: more than the longest string V8 can make (~512 MiB).
    const big = "x".repeat(105 * 1024 * 1024);
    const handle = await open(file("journal.ndjson"), "a");
    try {
      for (let seq = 1; seq <= 5; seq++) await handle.write(`${serialize({ kind: "node", seq, node: { ...b, output: `${seq}${big}` } })}\n`);
    } finally {
      await handle.close();
    }
    const run = await getRun("r1", { store: lowdb(dir) });
    const output = run.nodes.find((n) => n.id === "b")!.output as string;
    expect(output.length).toBe(big.length + 1);
    expect(output[0]).toBe("5");
  });
});

// ---- the same damage in the run file of the default layout (<dir>/<runId>.run) ------------------------------

/** A store folder with succeeded runs `ids` of the chain graph, each in its run file (the default layout); `file(runId)` is its path. */
async function runFilesWith(ids: readonly string[], snapshot?: "end") {
  const dir = tempDir();
  const store = lowdb(dir, {});
  for (const runId of ids) await runAsync(chain(), undefined, { store, runId, snapshot });
  await store.close();
  return { dir, file: (runId: string) => join(dir, `${runId}.run`) };
}

/**
 * Rewrites the first line of `kind` (`{"json":{"kind":"<kind>"…`) in the run file `file` as `edit` makes it from the
 * line's text; the lines around it are kept, so that it is never the last line (a torn append, which a reader ignores).
 */
async function editLine(file: string, kind: string, edit: (line: string) => string): Promise<void> {
  const lines = (await readFile(file, "utf8")).split(/(?<=\n)/);
  const i = lines.findIndex((l) => l.startsWith(`{"json":{"kind":"${kind}"`));
  expect(i, `no ${kind} line in ${file}`).toBeGreaterThanOrEqual(0);
  expect(i, `the ${kind} line is the last of ${file}`).toBeLessThan(lines.length - 1);
  lines[i] = `${edit(lines[i]!.slice(0, -1))}\n`;
  await writeFile(file, lines.join(""));
}

/** A snapshot line's document in its version 1 form, as `jsonOf` reads a snapshot file. */
function snapshotLineDocument(line: string): Record<string, unknown> {
  const { kind: _kind, ...doc } = deserialize<SnapshotFileDocument & { kind: "snapshot" }>(line);
  return { ...fromSnapshotFile(doc) };
}

describe("the run file of the default layout: the same damage is refused or reported", () => {
  for (const [name, change] of wrongShapes) {
    it(`a snapshot line of the wrong shape (${name}) is refused on load, naming the run file, which is left as it was`, async () => {
      const { dir, file } = await runFilesWith(["r1"]);
      await editLine(file("r1"), "snapshot", (line) => serialize({ kind: "snapshot", ...(change(snapshotLineDocument(line)) as object) }));
      const before = await readFile(file("r1"));
      const fresh = lowdb(dir, {});
      await expectCorrupt(getRun("r1", { store: fresh }), file("r1"));
      await expectCorrupt(runAsync(chain(), undefined, { store: fresh, runId: "r1" }), file("r1"));
      expect(await readFile(file("r1")), "the run file was changed").toEqual(before);
    });
  }

  it("a snapshot line rewritten unchanged (version 1) loads: the damage above is what is refused", async () => {
    const { dir, file } = await runFilesWith(["r1"]);
    await editLine(file("r1"), "snapshot", (line) => serialize({ kind: "snapshot", ...snapshotLineDocument(line) }));
    expect((await getRun("r1", { store: lowdb(dir, {}) })).status).toBe("succeeded");
  });

  it("a node record of the graph missing from the snapshot line: resume refuses it instead of an internal error", async () => {
    const { dir, file } = await runFilesWith(["r1"], "end");
    await editLine(file("r1"), "snapshot", (line) => {
      const doc = snapshotLineDocument(line);
      // A failed run, so that resume runs nodes; node "b" has no record.
      const meta = { ...(doc.meta as object), status: "failed" };
      return serialize({ kind: "snapshot", ...doc, meta, nodes: (doc.nodes as { id: string }[]).filter((n) => n.id !== "b") });
    });
    const before = await readFile(file("r1"));
    await expectCorrupt(runAsync(chain(), undefined, { store: lowdb(dir, {}), runId: "r1" }), file("r1"));
    expect(await readFile(file("r1")), "the run file was changed").toEqual(before);
  });

  it("a journal record of the wrong shape (followed by a good one) is refused, naming the run file", async () => {
    const { dir, file } = await runFilesWith(["r1"]);
    const lines = (await readFile(file("r1"), "utf8")).split("\n");
    const meta = snapshotLineDocument(lines.find((l) => l.startsWith('{"json":{"kind":"snapshot"'))!).meta;
    const good = serialize({ kind: "run", seq: 9, run: meta });
    await writeFile(file("r1"), `${lines.join("\n")}${serialize({ kind: "node", seq: 8, node: { id: "b" } })}\n${good}\n`);
    await expectCorrupt(getRun("r1", { store: lowdb(dir, {}) }), file("r1"));
  });

  it("listRuns skips a run whose summary line is cut short and reports it through onProblem", async () => {
    const { dir, file } = await runFilesWith(["good-1", "bad-1"]);
    // Cut short after its kind (a line whose kind cannot be read is not one list reads; load refuses the run).
    await editLine(file("bad-1"), "summary", (line) => line.slice(0, '{"json":{"kind":"summary",'.length + 7));
    const problems: SnapshotCorruptError[] = [];
    const runs = await listRuns({ store: lowdb(dir, {}), onProblem: (p) => problems.push(p) });
    expect(runs.map((r) => r.runId)).toEqual(["good-1"]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toBeInstanceOf(SnapshotCorruptError);
    expect(problems[0]!.file).toBe(file("bad-1"));
  });

  // Runs that end with a snapshot: their summary line is the summary list reads (after a run record, list takes the
  // run's meta from the record and the counts from the counts line after it).
  it("listRuns skips a summary line of the wrong shape too, and a summary line that names another run", async () => {
    const { dir, file } = await runFilesWith(["good-1", "bad-1", "bad-2"], "end");
    const summaryOf = (line: string) => deserialize<{ summary: Record<string, unknown> }>(line).summary;
    await editLine(file("bad-1"), "summary", (line) => serialize({ kind: "summary", summary: { ...summaryOf(line), nodeCount: "many" } }));
    await editLine(file("bad-2"), "summary", (line) => serialize({ kind: "summary", summary: { ...summaryOf(line), runId: "good-1" } }));
    const problems: unknown[] = [];
    const runs = await listRuns({ store: lowdb(dir, {}), onProblem: (p) => problems.push(p) });
    expect(runs.map((r) => r.runId)).toEqual(["good-1"]);
    expect(problems).toHaveLength(2);
  });
});
