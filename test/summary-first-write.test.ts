/**
 * A `LowdbStore` that found no snapshot for a run (its `load` said
 * undefined) makes the run's summary at the first snapshot without trying
 * to overwrite one in place first (a failed open saved per new run). The
 * belief is a hint only: a summary that is there all the same is
 * replaced, a planted link refused, and later summaries are overwritten in
 * place as before.
 */
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UnsafeStoreFileError } from "../src/persistence/errors.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { serialize } from "../src/persistence/serialization.js";
import { sampleRun } from "./store-conformance.js";

const RUN = "r-1";
let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "taskloom-summary-first-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const summaryFile = (dir: string): string => join(dir, "runs", RUN, "summary.json");

describe("LowdbStore: the first summary of a run loaded as missing", () => {
  it("is made by the first snapshot, then overwritten in place by the run's end", async () => {
    const dir = join(root, "s");
    const store = new LowdbStore({ dir });
    mkdirSync(join(dir, "runs", RUN), { recursive: true, mode: 0o700 });
    expect(await store.load(RUN)).toBeUndefined();
    const state = sampleRun(RUN, { nodeIds: ["a", "b"] });
    await store.writeSnapshot(state, 0);
    expect(await store.list()).toEqual([expect.objectContaining({ runId: RUN, status: state.meta.status, nodeCount: 2 })]);
    const made = statSync(summaryFile(dir)).ino;
    await store.append(RUN, [{ seq: 1, kind: "run", run: { ...state.meta, status: "succeeded", updatedAt: 5_000 } }], undefined, {
      nodeCount: 2,
      settledCount: 2,
    });
    expect(statSync(summaryFile(dir)).ino).toBe(made);
    expect(await store.list()).toEqual([expect.objectContaining({ runId: RUN, status: "succeeded", updatedAt: 5_000, settledCount: 2 })]);
    await store.close();
  });

  it("replaces a summary that is there after all (planted between the load and the snapshot)", async () => {
    const dir = join(root, "p");
    const store = new LowdbStore({ dir });
    mkdirSync(join(dir, "runs", RUN), { recursive: true, mode: 0o700 });
    expect(await store.load(RUN)).toBeUndefined();
    const stale = { runId: RUN, graphName: "stale", status: "failed", nodeCount: 9, settledCount: 9, createdAt: 1, updatedAt: 1 };
    writeFileSync(summaryFile(dir), serialize(stale), { mode: 0o600 });
    await store.writeSnapshot(sampleRun(RUN, { nodeIds: ["a", "b", "c"] }), 0);
    const [summary] = await store.list();
    expect(summary).toMatchObject({ runId: RUN, graphName: "g", nodeCount: 3 });
    await store.close();
  });

  it("refuses a symbolic link planted as the summary, and leaves its target alone", async () => {
    const dir = join(root, "l");
    const store = new LowdbStore({ dir });
    mkdirSync(join(dir, "runs", RUN), { recursive: true, mode: 0o700 });
    expect(await store.load(RUN)).toBeUndefined();
    const victim = join(root, "victim");
    writeFileSync(victim, "keep");
    symlinkSync(victim, summaryFile(dir));
    await expect(store.writeSnapshot(sampleRun(RUN), 0)).rejects.toBeInstanceOf(UnsafeStoreFileError);
    expect(readFileSync(victim, "utf8")).toBe("keep");
    await store.close();
  });
});
