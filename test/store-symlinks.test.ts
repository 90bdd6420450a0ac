/**
 * A shared store folder holds what others planted in it: symbolic links,
 * hard links, FIFOs, files and folders of another user. `LowdbStore` must
 * refuse them with `UnsafeStoreFileError` (nothing read or written through
 * them), never truncate, chmod or append to the file a link points to.
 * The tests run as root here, so ownership is planted with chown.
 *
 * Most tests plant files in a run kept as a folder (`runs/<runId>/`, the
 * stores made with `layout: "folders"`); the last block checks the same
 * refusals on the run file (`<runId>.run`) the default layout keeps a run
 * in (test/run-file-fuzz.test.ts has more, on the file store itself).
 */
import { execFileSync } from "node:child_process";
import { chown, link, mkdir, readFile, readdir, rename, rm, stat, symlink, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { getRun, graph, listRuns, LowdbStore, runAsync, UnsafeStoreFileError } from "../src/index.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-links-", { layout: "folders" });
const OTHER_UID = 12_345;
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

let failFirst = true;
/** Fails on its first call in this file, so the run is stored `failed` and a resume appends. */
const flaky = () =>
  graph("flaky")
    .node("a", () => 1)
    .node(
      "b",
      ({ deps }) => {
        if (failFirst) {
          failFirst = false;
          throw new Error("first time");
        }
        return deps.a + 1;
      },
      { after: ["a"], retry: { maxAttempts: 1 } },
    )
    .build();

/** A store with run `r1` stored as failed (in a folder, or with `layout: "files"` in a run file), and a victim file outside the store. */
async function setup(layout: "files" | "folders" = "folders") {
  const dir = tempDir();
  failFirst = true;
  await expect(runAsync(flaky(), undefined, { store: lowdb(dir, { layout }), runId: "r1" })).rejects.toThrow("first time");
  const victim = join(dir, "victim.txt");
  await writeFile(victim, "precious\n", { mode: 0o644 });
  const file = (name: string, runId = "r1") => join(dir, "runs", runId, name);
  const victimState = async () => ({ text: await readFile(victim, "utf8"), mode: (await stat(victim)).mode & 0o777 });
  return { dir, victim, file, victimState };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => "resolved",
    (e: unknown) => e,
  );
}

function expectUnsafe(err: unknown, file: string): void {
  expect(err).toBeInstanceOf(UnsafeStoreFileError);
  expect((err as UnsafeStoreFileError).code).toBe("UNSAFE_STORE_FILE");
  expect((err as UnsafeStoreFileError).file).toBe(file);
}

async function plantLink(path: string, target: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
  await symlink(target, path);
}

describe("symbolic links planted in the store folder are refused, never followed", () => {
  for (const name of ["journal.ndjson", "snapshot.json", "lease.json"]) {
    it(`${name}: resuming the run refuses it and leaves the linked file alone`, async () => {
      const { dir, victim, file, victimState } = await setup();
      const before = await victimState();
      await plantLink(file(name), victim);
      failFirst = false;
      expectUnsafe(await rejection(runAsync(flaky(), undefined, { store: lowdb(dir), runId: "r1" })), file(name));
      expect(await victimState()).toEqual(before);
      expect((await stat(file(name)).catch(() => undefined))?.isFile()).toBe(true); // the link is still there (stat follows it)
    });
  }

  it("journal.ndjson: compaction by a fresh store refuses it instead of truncating the linked file", async () => {
    const { dir, victim, file, victimState } = await setup();
    const store = lowdb(dir);
    const loaded = (await store.load("r1"))!;
    await store.close();
    await plantLink(file("journal.ndjson"), victim);
    const before = await victimState();
    expectUnsafe(await rejection(lowdb(dir).writeSnapshot(loaded.state, loaded.seq)), file("journal.ndjson"));
    expect(await victimState()).toEqual(before);
  });

  it("snapshot.json: writing a snapshot refuses the link, nothing written", async () => {
    const { dir, victim, file, victimState } = await setup();
    const store = lowdb(dir);
    const loaded = (await store.load("r1"))!;
    await store.close();
    await plantLink(file("snapshot.json"), victim);
    const before = await victimState();
    expectUnsafe(await rejection(lowdb(dir).writeSnapshot(loaded.state, loaded.seq)), file("snapshot.json"));
    expect(await victimState()).toEqual(before);
    expect((await readdir(join(dir, "runs", "r1"))).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("summary.json: listRuns reports the run and lists the others", async () => {
    const { dir, victim, file } = await setup();
    failFirst = false;
    await runAsync(flaky(), undefined, { store: lowdb(dir), runId: "r2" });
    await plantLink(file("summary.json"), victim);
    const problems: unknown[] = [];
    const runs = await listRuns({ store: lowdb(dir), onProblem: (p) => problems.push(p) });
    expect(runs.map((r) => r.runId)).toEqual(["r2"]);
    expect(problems).toHaveLength(1);
    expectUnsafe(problems[0], file("summary.json"));
  });

  it("a run folder that is a link: load, resume and delete refuse it, and nothing is written where it points", async () => {
    const { dir, file } = await setup();
    const elsewhere = join(dir, "elsewhere");
    await rename(join(dir, "runs", "r1"), elsewhere);
    await symlink(elsewhere, join(dir, "runs", "r1"));
    const before = (await readdir(elsewhere)).sort();
    const snapshotBefore = await readFile(join(elsewhere, "snapshot.json"));
    const store = lowdb(dir);
    expectUnsafe(await rejection(getRun("r1", { store })), join(dir, "runs", "r1"));
    failFirst = false;
    expectUnsafe(await rejection(runAsync(flaky(), undefined, { store, runId: "r1" })), join(dir, "runs", "r1"));
    expectUnsafe(await rejection(store.delete("r1")), join(dir, "runs", "r1"));
    expect((await readdir(elsewhere)).sort()).toEqual(before);
    expect(await readFile(join(elsewhere, "snapshot.json"))).toEqual(snapshotBefore);
    const problems: unknown[] = [];
    expect(await listRuns({ store, onProblem: (p) => problems.push(p) })).toEqual([]);
    expectUnsafe(problems[0], file("").replace(/\/$/, ""));
  });

  it("a run folder that is a link: renewing or giving back a lease makes no lock folder where it points", async () => {
    const { dir } = await setup();
    const store = lowdb(dir);
    const lease = await store.acquireLease("r1", { owner: "o", pid: process.pid, host: "h", ttlMs: 60_000, now: Date.now() });
    const elsewhere = join(dir, "elsewhere");
    await rename(join(dir, "runs", "r1"), elsewhere);
    await symlink(elsewhere, join(dir, "runs", "r1"));
    const before = (await readdir(elsewhere)).sort();
    expectUnsafe(await rejection(store.renewLease(lease, 60_000, Date.now())), join(dir, "runs", "r1"));
    expectUnsafe(await rejection(store.releaseLease(lease)), join(dir, "runs", "r1"));
    expect((await readdir(elsewhere)).sort()).toEqual(before);
  });

  it("the runs folder itself is a link: a new run is refused before anything is written", async () => {
    const dir = tempDir();
    const elsewhere = join(dir, "elsewhere");
    await mkdir(elsewhere);
    await mkdir(join(dir, "store"));
    await symlink(elsewhere, join(dir, "store", "runs"));
    failFirst = false;
    expectUnsafe(await rejection(runAsync(flaky(), undefined, { store: lowdb(join(dir, "store"), {}), runId: "r1" })), join(dir, "store", "runs"));
    expect(await readdir(elsewhere)).toEqual([]);
  });
});

describe("other planted files are refused too", () => {
  it("a journal with a second hard link: appending would change the other file", async () => {
    const { dir, file } = await setup();
    const other = join(dir, "other.ndjson");
    await link(file("journal.ndjson"), other);
    const before = await readFile(other);
    failFirst = false;
    expectUnsafe(await rejection(runAsync(flaky(), undefined, { store: lowdb(dir), runId: "r1" })), file("journal.ndjson"));
    expect(await readFile(other)).toEqual(before);
  });

  it("a FIFO as journal is refused at once (the open does not block)", async () => {
    const { dir, file } = await setup();
    await unlink(file("journal.ndjson"));
    execFileSync("mkfifo", [file("journal.ndjson")]);
    expectUnsafe(await rejection(getRun("r1", { store: lowdb(dir) })), file("journal.ndjson"));
  });

  it("writeSnapshot and append through a store refuse a planted journal link (no truncate by path)", async () => {
    const dir = tempDir();
    const store = new LowdbStore({ dir, layout: "folders" });
    await store.writeSnapshot(sampleRun("r1"), 0);
    await store.append("r1", [nodeRecord(1, "b")]);
    await store.close();
    const victim = join(dir, "victim.txt");
    await writeFile(victim, "precious\n");
    await plantLink(join(dir, "runs", "r1", "journal.ndjson"), victim);
    const fresh = lowdb(dir);
    expectUnsafe(await rejection(fresh.append("r1", [nodeRecord(2, "c")])), join(dir, "runs", "r1", "journal.ndjson"));
    expectUnsafe(await rejection(fresh.writeSnapshot(sampleRun("r1"), 0)), join(dir, "runs", "r1", "journal.ndjson"));
    expect(await readFile(victim, "utf8")).toBe("precious\n");
  });
});

describe.skipIf(!isRoot)("files and folders of another user are refused (root plants them with chown)", () => {
  for (const name of ["journal.ndjson", "snapshot.json", "lease.json"]) {
    it(`${name} owned by uid ${OTHER_UID}: resume refuses it, and the file keeps its bytes and mode`, async () => {
      const { dir, file } = await setup();
      if (name === "lease.json") await writeFile(file(name), (await readFile(file("summary.json"))).toString(), { mode: 0o644 });
      await chown(file(name), OTHER_UID, OTHER_UID);
      const before = { bytes: await readFile(file(name)), mode: (await stat(file(name))).mode };
      failFirst = false;
      expectUnsafe(await rejection(runAsync(flaky(), undefined, { store: lowdb(dir), runId: "r1" })), file(name));
      expect({ bytes: await readFile(file(name)), mode: (await stat(file(name))).mode }).toEqual(before);
    });
  }

  it(`a run folder owned by uid ${OTHER_UID} is refused, and listRuns reports it`, async () => {
    const { dir, file } = await setup();
    await chown(join(dir, "runs", "r1"), OTHER_UID, OTHER_UID);
    expectUnsafe(await rejection(getRun("r1", { store: lowdb(dir) })), join(dir, "runs", "r1"));
    const problems: unknown[] = [];
    expect(await listRuns({ store: lowdb(dir), onProblem: (p) => problems.push(p) })).toEqual([]);
    expectUnsafe(problems[0], join(dir, "runs", "r1"));
    expect(file("x")).toContain("r1");
  });
});

describe("the run file of the default layout (<runId>.run) is refused the same way", () => {
  /** `setup` with run `r1` in its run file, `file`; `fresh()` a store of the default layout on the folder. */
  async function runFileSetup() {
    const { dir, victim, victimState } = await setup("files");
    const file = join(dir, "r1.run");
    expect((await stat(file)).isFile()).toBe(true);
    return { dir, victim, victimState, file, fresh: () => lowdb(dir, {}) };
  }

  it("a symbolic link as the run file: resuming the run refuses it and leaves the linked file alone", async () => {
    const { victim, victimState, file, fresh } = await runFileSetup();
    const before = await victimState();
    await plantLink(file, victim);
    failFirst = false;
    expectUnsafe(await rejection(runAsync(flaky(), undefined, { store: fresh(), runId: "r1" })), file);
    expect(await victimState()).toEqual(before);
    expect((await stat(file).catch(() => undefined))?.isFile()).toBe(true); // the link is still there (stat follows it)
  });

  it("a symbolic link as the run file: writeSnapshot and append through a fresh store refuse it, nothing written", async () => {
    const { victim, victimState, file, fresh } = await runFileSetup();
    const loaded = (await fresh().load("r1"))!;
    await plantLink(file, victim);
    const before = await victimState();
    expectUnsafe(await rejection(fresh().writeSnapshot(loaded.state, loaded.seq)), file);
    expectUnsafe(await rejection(fresh().append("r1", [nodeRecord(loaded.seq + 1, "b")])), file);
    expect(await victimState()).toEqual(before);
  });

  it("a symbolic link as the run file: listRuns reports the run and lists the others", async () => {
    const { dir, victim, file, fresh } = await runFileSetup();
    failFirst = false;
    await runAsync(flaky(), undefined, { store: fresh(), runId: "r2" });
    await plantLink(file, victim);
    const problems: unknown[] = [];
    const runs = await listRuns({ store: lowdb(dir, {}), onProblem: (p) => problems.push(p) });
    expect(runs.map((r) => r.runId)).toEqual(["r2"]);
    expect(problems).toHaveLength(1);
    expectUnsafe(problems[0], file);
  });

  it("a run file with a second hard link: resuming would change the other file", async () => {
    const { dir, file, fresh } = await runFileSetup();
    const other = join(dir, "other.run");
    await link(file, other);
    const before = await readFile(other);
    failFirst = false;
    expectUnsafe(await rejection(runAsync(flaky(), undefined, { store: fresh(), runId: "r1" })), file);
    expect(await readFile(other)).toEqual(before);
  });

  it("a FIFO as the run file is refused at once (the open does not block)", async () => {
    const { file, fresh } = await runFileSetup();
    await unlink(file);
    execFileSync("mkfifo", [file]);
    expectUnsafe(await rejection(getRun("r1", { store: fresh() })), file);
  });

  it.skipIf(!isRoot)(`a run file owned by uid ${OTHER_UID}: resume refuses it and keeps its bytes and mode, and listRuns reports it`, async () => {
    const { file, fresh } = await runFileSetup();
    await chown(file, OTHER_UID, OTHER_UID);
    const before = { bytes: await readFile(file), mode: (await stat(file)).mode };
    failFirst = false;
    expectUnsafe(await rejection(runAsync(flaky(), undefined, { store: fresh(), runId: "r1" })), file);
    expect({ bytes: await readFile(file), mode: (await stat(file)).mode }).toEqual(before);
    const problems: unknown[] = [];
    expect(await listRuns({ store: fresh(), onProblem: (p) => problems.push(p) })).toEqual([]);
    expectUnsafe(problems[0], file);
  });
});
