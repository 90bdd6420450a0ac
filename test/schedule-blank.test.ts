/**
 * A blank schedule file: what a power loss leaves of a schedule whose new
 * content had not reached the disk when its name did (a store without
 * `fsync`; ext4 and XFS leave it empty, or its new size in zeros). A
 * schedule is the user's data, so a blank file is never read as absent
 * (no schedule would fire, and `schedule()` would make another under its
 * id): it is `ScheduleCorruptError`, skipped and reported by
 * `listSchedules`, never written over, and its message says what made it
 * and how to avoid it. Hand-written cases and a fast-check property over
 * the length.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FileScheduleStore,
  ManualClock,
  ScheduleCorruptError,
  ScheduleExistsError,
  getSchedule,
  graph,
  listSchedules,
  removeSchedule,
  schedule,
  scheduleStoreFor,
  type ScheduleProblem,
} from "../src/index.js";
import { rejection } from "./support/async.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-schedule-blank-");
const NOW = Date.UTC(2026, 11, 1, 10, 0, 0);
const g = graph("nightly")
  .node("work", () => 1)
  .build();

/** A folder with two schedules, "good" and "blank", the second's file then replaced by `bytes`. */
async function withBlank(bytes: Buffer): Promise<{ dir: string; file: string }> {
  const dir = tempDir();
  const store = lowdb(dir);
  const clock = new ManualClock(NOW);
  await schedule(g, {}, { when: "1h", store, clock, id: "good" });
  await schedule(g, {}, { when: "1h", store, clock, id: "blank" });
  const file = join(dir, "schedules", "blank.json");
  writeFileSync(file, bytes);
  return { dir, file };
}

/** Checks every entry point against the blank file of `withBlank`; returns the error's message. */
async function expectRefused(dir: string, file: string, bytes: Buffer): Promise<string> {
  const store = lowdb(dir);
  const problems: ScheduleProblem[] = [];
  expect((await listSchedules({ store, onProblem: (p) => problems.push(p) })).map((s) => s.id)).toEqual(["good"]);
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatchObject({ scheduleId: "blank", file });
  const error = await rejection(getSchedule("blank", { store }));
  expect(error).toBeInstanceOf(ScheduleCorruptError);
  expect((error as ScheduleCorruptError).code).toBe("SNAPSHOT_CORRUPT");
  expect((error as ScheduleCorruptError).file).toBe(file);
  expect((error as ScheduleCorruptError).scheduleId).toBe("blank");
  // Never written over: a change refuses, and a new schedule with its id is SCHEDULE_EXISTS.
  expect(await rejection(scheduleStoreFor(store).update("blank", (r) => ({ ...r, status: "paused" })))).toBeInstanceOf(ScheduleCorruptError);
  expect(await rejection(schedule(g, {}, { when: "1h", store, id: "blank" }))).toBeInstanceOf(ScheduleExistsError);
  expect(readFileSync(file)).toEqual(bytes);
  return (error as Error).message;
}

describe("a blank schedule file", () => {
  it.each([
    ["empty", Buffer.alloc(0), "it is empty: "],
    ["zeros", Buffer.alloc(300), "it holds only zero bytes (300): "],
  ])("%s: refused and reported as what a power loss leaves, with the advice to use fsync; removeSchedule deletes it", async (_what, bytes, detail) => {
    const { dir, file } = await withBlank(bytes);
    const message = await expectRefused(dir, file, bytes);
    expect(message).toContain(`the stored schedule file ${file} cannot be read (${detail}`);
    expect(message).toContain("what a power loss leaves of a file whose new content had not reached the disk");
    expect(message).toContain("a store made with fsync: true flushes every schedule write first");
    expect(message).toContain("taskloom schedule rm blank");
    expect(await removeSchedule("blank", { store: lowdb(dir) })).toBe(true);
  });

  it("on a store with fsync, the message does not advise fsync: a store without it wrote the file, or something outside taskloom did", async () => {
    const { dir, file } = await withBlank(Buffer.alloc(0));
    const store = new FileScheduleStore({ dir, fsync: true });
    const error = await rejection(store.get("blank"));
    expect(error).toBeInstanceOf(ScheduleCorruptError);
    expect((error as Error).message).toContain(
      "(it is empty: what a power loss leaves of a file whose new content had not reached the disk, if a store without fsync wrote it (this one flushes every schedule write), or a change made outside taskloom)",
    );
    expect(readFileSync(file)).toEqual(Buffer.alloc(0));
  });

  it("property: zeros of any length are refused as blank; the same zeros with one other byte are refused as not a schedule document", async () => {
    const { dir, file } = await withBlank(Buffer.alloc(0));
    const store = new FileScheduleStore({ dir });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4096 }), fc.nat(), fc.integer({ min: 1, max: 255 }), async (length, at, byte) => {
        const zeros = Buffer.alloc(length);
        writeFileSync(file, zeros);
        const blank = await rejection(store.get("blank"));
        expect(blank).toBeInstanceOf(ScheduleCorruptError);
        expect((blank as Error).message).toContain(`(it holds only zero bytes (${length}): what a power loss leaves`);
        const damaged = Buffer.alloc(length);
        damaged[at % length] = byte;
        writeFileSync(file, damaged);
        const other = await rejection(store.get("blank"));
        expect(other).toBeInstanceOf(ScheduleCorruptError);
        expect((other as Error).message).not.toContain("power loss");
        expect(readFileSync(file)).toEqual(damaged);
      }),
      { numRuns: 60 },
    );
  });
});
