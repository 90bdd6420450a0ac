/**
 * The coordinator's reader of BullMQ's events stream (`job-events.ts`):
 * it hands on `added` (BullMQ's `added` and `duplicated`), `completed` and
 * `failed` (with BullMQ's reason) of jobs whose events were written after
 * it was ready, in the stream's order, nothing else, and after a
 * read that brought events it waits its pace, so the events written
 * meanwhile come in one read, not one read per event as BullMQ's
 * `QueueEvents` does (a round trip per job for the coordinator and Redis).
 */
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { JobEvents, streamIdAfter, type JobEvent } from "../src/adapters/bullmq/job-events.js";
import { describeRedis, dropPrefix, eventually, REDIS_URL, uniquePrefix } from "./support/redis.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A reader of a fresh stream, counting its `XREAD`s, and a client to write the stream. */
function setUp(label: string, paceMs: number) {
  const prefix = uniquePrefix(label);
  const key = `${prefix}:q:events`;
  const writer = new Redis(REDIS_URL);
  const reader = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  reader.on("error", () => undefined);
  let reads = 0;
  const xread = reader.xread.bind(reader) as (...args: unknown[]) => Promise<unknown>;
  (reader as unknown as { xread: (...args: unknown[]) => Promise<unknown> }).xread = (...args) => {
    reads += 1;
    return xread(...args);
  };
  const seen: JobEvent[] = [];
  closers.push(() => dropPrefix(prefix));
  closers.push(async () => writer.disconnect());
  const add = (...fields: string[]) => writer.xadd(key, "*", ...fields);
  /** Starts the reader (after what `add` wrote so far). */
  const start = (): JobEvents => {
    const events = new JobEvents(reader, key, (e) => seen.push(e), paceMs);
    closers.push(() => events.close());
    return events;
  };
  return { start, seen, add, reads: () => reads };
}

describeRedis("JobEvents", () => {
  it("hands on added, completed and failed events written after it was ready, in order, and no others", async () => {
    const { start, seen, add } = setUp("events-kinds", 10);
    await add("event", "completed", "jobId", "before", "returnvalue", "1");
    await start().ready;
    const ids = [
      await add("event", "added", "jobId", "j1", "name", "g"),
      await add("event", "active", "jobId", "j1", "prev", "waiting"),
      await add("event", "completed", "jobId", "j1", "returnvalue", '"x"', "prev", "active"),
      await add("event", "failed", "jobId", "j2", "failedReason", "job stalled more than allowable limit", "prev", "active"),
      await add("event", "drained"),
      await add("event", "duplicated", "jobId", "j2"),
      await add("event", "completed", "jobId", "j3"),
    ];
    await eventually("five events", async () => (seen.length >= 5 ? true : undefined));
    // Each with its stream entry id: the coordinator tells an earlier job's events from a later one's of the same id by it.
    expect(seen).toEqual([
      { event: "added", jobId: "j1", id: ids[0] },
      { event: "completed", jobId: "j1", id: ids[2] },
      { event: "failed", jobId: "j2", id: ids[3], failedReason: "job stalled more than allowable limit" },
      { event: "added", jobId: "j2", id: ids[5] },
      { event: "completed", jobId: "j3", id: ids[6] },
    ]);
    for (let i = 1; i < ids.length; i++) expect(streamIdAfter(ids[i]!, ids[i - 1]!)).toBe(true);
    expect(streamIdAfter("1700000000001-0", "1700000000000-5")).toBe(true);
    expect(streamIdAfter("1700000000000-10", "1700000000000-9")).toBe(true);
    expect(streamIdAfter("1700000000000-9", "1700000000000-9")).toBe(false);
    expect(streamIdAfter("0-0", "1-0")).toBe(false);
  }, 30_000);

  it("takes the events written during its pause in one read", async () => {
    const pace = 3_000; // far longer than the 40 writes below take
    const { start, seen, add, reads } = setUp("events-pace", pace);
    await start().ready;
    await add("event", "completed", "jobId", "first");
    await eventually("the first event", async () => (seen.length === 1 ? true : undefined));
    const readsAfterFirst = reads();
    for (let i = 0; i < 40; i++) await add("event", "completed", "jobId", `j${i}`);
    await eventually("the 40 events", async () => (seen.length === 41 ? true : undefined));
    expect(reads() - readsAfterFirst).toBe(1);
  }, 30_000);
});
