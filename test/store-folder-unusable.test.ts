/**
 * A `LowdbStore` whose folder cannot be used (a file where the folder
 * should be, or a file above it) fails every call with `StoreFolderError`
 * naming the folder, on both layouts, through the store and through the
 * runner's calls (`runAsync`: `PersistenceError`, as documented, with it
 * as the cause); nothing is written. Before, reads gave a raw `ENOTDIR`
 * (or `SnapshotCorruptError`, whose advice is to restore a backup).
 * A folder that does not exist yet is no problem: it is made at the
 * first write.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cancelRun, deleteRun, getRun, graph, listRuns, PersistenceError, resolveWait, runAsync, StoreFolderError } from "../src/index.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { leaseRequest } from "./support/lease-request.js";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "taskloom-folder-unusable-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const oneNode = graph("one")
  .node("a", async () => 1)
  .build();

describe.each(["files", "folders"] as const)("a store folder that cannot be used (%s)", (layout) => {
  it.each([
    ["a file where the folder should be", (file: string) => file, /it is not a folder/],
    ["a folder below a file", (file: string) => join(file, "store"), /a path above it is a file/],
  ])("%s: every call fails with StoreFolderError naming the folder, and nothing is written", async (_what, dirOf, problem) => {
    const file = join(root, "not-a-folder");
    writeFileSync(file, "keep me");
    const dir = dirOf(file);
    const store = new LowdbStore({ dir, layout });
    const calls: [string, () => Promise<unknown>][] = [
      ["load", () => store.load("r")],
      ["list", () => store.list()],
      ["delete", () => store.delete("r")],
      ["readLease", () => store.readLease("r")],
      ["acquireLease", () => store.acquireLease("r", leaseRequest("o"))],
      ["requestCancel", () => store.requestCancel("r", { token: 1, reason: "stop", at: 1 })],
      ["runAsync", () => runAsync(oneNode, undefined, { store, runId: "r" })],
      ["getRun", () => getRun("r", { store })],
      ["listRuns", () => listRuns({ store })],
      ["deleteRun", () => deleteRun("r", { store })],
      ["resolveWait", () => resolveWait("r", "k", 1, { store })],
      ["cancelRun", () => cancelRun("r", { store })],
    ];
    for (const [name, call] of calls) {
      let error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      if (name === "runAsync") {
        // A run that cannot take its lease fails with PersistenceError, as documented; its cause says why.
        expect(error, name).toBeInstanceOf(PersistenceError);
        error = (error as Error).cause;
      }
      expect(error, name).toBeInstanceOf(StoreFolderError);
      expect(error, name).toMatchObject({ code: "STORE_FOLDER_UNUSABLE", dir });
      expect((error as Error).message, name).toMatch(problem);
    }
    expect(readFileSync(file, "utf8")).toBe("keep me");
    await store.close();
  });

  it("a folder that does not exist yet is no problem: reads find nothing, the first run makes it", async () => {
    const store = new LowdbStore({ dir: join(root, "later", "store"), layout });
    expect(await store.load("r")).toBeUndefined();
    expect(await store.list()).toEqual([]);
    expect(await store.readLease("r")).toBeUndefined();
    await expect(runAsync(oneNode, undefined, { store, runId: "r" })).resolves.toEqual({ a: 1 });
    await store.close();
  });
});
