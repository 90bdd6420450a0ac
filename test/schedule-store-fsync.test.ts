/**
 * What a `FileScheduleStore` flushes, and in what order (`node:fs` and
 * `node:fs/promises` wrapped: every open, flush, rename and unlink is
 * logged by path). With `fsync`, a schedule is the old document or the new
 * one after a power loss, as a run's snapshot is: the new content is
 * flushed before its rename and the folder after it, a delete flushes the
 * folder (a schedule that came back would fire), and a schedules folder
 * made by the store is flushed into the folders above it. Without
 * `fsync`, nothing is flushed. `scheduleStoreFor` gives a `LowdbStore`'s
 * schedules its `fsync` setting.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FileScheduleStore, InvalidOptionError, LowdbStore, ManualClock, graph, schedule, scheduleStoreFor, type ScheduleRecord } from "../src/index.js";

const disk = vi.hoisted(() => ({
  /** Path of each open descriptor. */
  paths: new Map<number, string>(),
  /** What was done, in order: `<call> <path>`. */
  log: [] as string[],
}));

vi.mock("node:fs", async (importOriginal) => {
  const { loggedFs } = await import("./support/logged-fs.js");
  return loggedFs(await importOriginal<typeof import("node:fs")>(), disk);
});

vi.mock("node:fs/promises", async (importOriginal) => {
  const fsp = await importOriginal<typeof import("node:fs/promises")>();
  const unlink: typeof fsp.unlink = async (path) => {
    await fsp.unlink(path);
    disk.log.push(`unlink ${String(path)}`);
  };
  return { ...fsp, unlink, default: { ...fsp, unlink } };
});

const NOW = Date.UTC(2026, 11, 1, 10, 0, 0);
const g = graph("nightly")
  .node("work", () => 1)
  .build();

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "taskloom-schedule-fsync-"));
  disk.paths.clear();
  disk.log.length = 0;
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The flushes and the name changes of the log, in order. */
function flushesAndNames(): string[] {
  return disk.log.filter((e) => !e.startsWith("open "));
}

/** A schedule record as `schedule()` stores it (made on a store of `dir`, without fsync). */
async function storedRecord(dir: string): Promise<ScheduleRecord> {
  const store = new LowdbStore({ dir });
  await schedule(g, { n: 1 }, { when: "1h", store, clock: new ManualClock(NOW), id: "nightly" });
  const record = await scheduleStoreFor(store).get("nightly");
  await store.close();
  return record!;
}

describe("FileScheduleStore with fsync", () => {
  it("flushes a new schedule's content before its rename and the folder after it; the folders it made, into the ones above", async () => {
    const record = await storedRecord(join(root, "source"));
    disk.log.length = 0;
    const dir = join(root, "store");
    const store = new FileScheduleStore({ dir, fsync: true });
    await store.create(record);

    const folder = join(dir, "schedules");
    const file = join(folder, "nightly.json");
    const log = flushesAndNames();
    // Both folders were made here (the store's and its schedules folder): each is flushed into its parent first.
    expect(log.slice(0, 2)).toEqual([`fsync ${dir}`, `fsync ${root}`]);
    const rename = log.findIndex((e) => e.startsWith("rename ") && e.endsWith(` ${file}`));
    const temp = log[rename]!.split(" ")[1]!;
    expect(log.slice(2)).toEqual([`fdatasync ${temp}`, `rename ${temp} ${file}`, `fsync ${folder}`]);
    expect(await store.get("nightly")).toEqual(record);
  });

  it("flushes every update the same way, and the folder after a delete", async () => {
    const record = await storedRecord(join(root, "source"));
    const dir = join(root, "store");
    const store = new FileScheduleStore({ dir, fsync: true });
    await store.create(record);
    const folder = join(dir, "schedules");
    const file = join(folder, "nightly.json");

    disk.log.length = 0;
    await store.update("nightly", (r) => ({ ...r, status: "paused" }));
    const update = flushesAndNames();
    expect(update).toHaveLength(3);
    const temp = update[1]!.split(" ")[1]!;
    expect(update).toEqual([`fdatasync ${temp}`, `rename ${temp} ${file}`, `fsync ${folder}`]);
    expect((await store.get("nightly"))?.status).toBe("paused");

    // An update that changes nothing writes nothing.
    disk.log.length = 0;
    await store.update("nightly", (r) => r);
    expect(flushesAndNames()).toEqual([]);

    disk.log.length = 0;
    expect(await store.delete("nightly")).toBe(true);
    expect(flushesAndNames().filter((e) => !e.includes(".lock"))).toEqual([`unlink ${file}`, `fsync ${folder}`]);
    // Nothing to delete: nothing flushed.
    disk.log.length = 0;
    expect(await store.delete("nightly")).toBe(false);
    expect(flushesAndNames().filter((e) => e.startsWith("fsync ") || e.startsWith("fdatasync "))).toEqual([]);
  });

  it("without fsync, flushes nothing", async () => {
    const record = await storedRecord(join(root, "source"));
    disk.log.length = 0;
    const store = new FileScheduleStore({ dir: join(root, "store") });
    expect(store.fsync).toBe(false);
    await store.create(record);
    await store.update("nightly", (r) => ({ ...r, status: "paused" }));
    await store.delete("nightly");
    expect(disk.log.filter((e) => e.startsWith("fsync ") || e.startsWith("fdatasync "))).toEqual([]);
  });
});

describe("scheduleStoreFor", () => {
  it("gives a LowdbStore's schedules its fsync setting: schedule() on a store with fsync flushes the schedule", async () => {
    const dir = join(root, "flushed");
    const flushed = new LowdbStore({ dir, fsync: true });
    const plain = new LowdbStore({ dir });
    expect(flushed.fsync).toBe(true);
    expect(plain.fsync).toBe(false);
    const a = scheduleStoreFor(flushed) as FileScheduleStore;
    const b = scheduleStoreFor(plain) as FileScheduleStore;
    expect(a).toBeInstanceOf(FileScheduleStore);
    expect([a.fsync, b.fsync]).toEqual([true, false]);
    expect(a.folder).toBe(b.folder);
    // The same folder and setting: the same schedule store.
    expect(scheduleStoreFor(new LowdbStore({ dir, fsync: true }))).toBe(a);

    disk.log.length = 0;
    await schedule(g, {}, { when: "1h", store: flushed, clock: new ManualClock(NOW), id: "flushed" });
    const file = join(dir, "schedules", "flushed.json");
    const log = flushesAndNames();
    const rename = log.findIndex((e) => e.startsWith("rename ") && e.endsWith(` ${file}`));
    expect(rename).toBeGreaterThan(0);
    expect(log[rename - 1]).toBe(`fdatasync ${log[rename]!.split(" ")[1]}`);
    expect(log[rename + 1]).toBe(`fsync ${dirname(file)}`);

    disk.log.length = 0;
    await schedule(g, {}, { when: "1h", store: plain, clock: new ManualClock(NOW), id: "plain" });
    expect(disk.log.filter((e) => e.startsWith("fsync ") || e.startsWith("fdatasync "))).toEqual([]);
    await Promise.all([flushed.close(), plain.close()]);
  });
});

describe("the options of the file stores", () => {
  it.each([
    ["FileScheduleStore", (o: object) => new FileScheduleStore(o as never)],
    ["LowdbStore", (o: object) => new LowdbStore(o as never)],
  ])("%s refuses an fsync that is not a boolean, an empty or non-string dir, and unknown keys, with InvalidOptionError", (_name, make) => {
    for (const [options, option] of [
      [{ fsync: "yes" }, "fsync"],
      [{ fsync: 1 }, "fsync"],
      [{ dir: "" }, "dir"],
      [{ dir: 42 }, "dir"],
      [{ fsnyc: true }, "fsnyc"],
    ] as const) {
      let error: unknown;
      try {
        make(options);
      } catch (err) {
        error = err;
      }
      expect(error, JSON.stringify(options)).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(option);
      expect((error as InvalidOptionError).code).toBe("INVALID_OPTION");
    }
  });
});
