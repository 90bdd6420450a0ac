/**
 * The coordinator's reader of BullMQ's events stream (`job-events.ts`):
 * it hands on `added` (BullMQ's `added` and `duplicated`), `completed`,
 * `failed` (with BullMQ's reason) and `removed` of jobs whose events were written after
 * it was ready, in the stream's order, nothing else, and after a
 * read that brought events it waits its pace, so the events written
 * meanwhile come in one read, not one read per event as BullMQ's
 * `QueueEvents` does (a round trip per job for the coordinator and Redis).
 * When the stream deleted entries it had not read (BullMQ trims it at each
 * write), it tells so once (`onMissed`), and reads on after them, as it does
 * after BullMQ's `cleaned` (jobs removed in bulk).
 */
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { entriesLost, JobEvents, streamFacts, streamIdAfter, type JobEvent } from "../src/adapters/bullmq/job-events.js";
import { describeRedis, dropPrefix, eventually, REDIS_URL, uniquePrefix } from "./support/redis.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A reader of a fresh stream, counting its reads (a transaction with `XREAD`, or a blocking `XREAD`) and the losses it tells, and a client to write the stream. */
function setUp(label: string, paceMs: number) {
  const prefix = uniquePrefix(label);
  const key = `${prefix}:q:events`;
  const writer = new Redis(REDIS_URL);
  const reader = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  reader.on("error", () => undefined);
  let reads = 0;
  let losses = 0;
  const xread = reader.xread.bind(reader) as (...args: unknown[]) => Promise<unknown>;
  (reader as unknown as { xread: (...args: unknown[]) => Promise<unknown> }).xread = (...args) => {
    reads += 1;
    return xread(...args);
  };
  const multi = reader.multi.bind(reader) as () => ReturnType<Redis["multi"]>;
  (reader as unknown as { multi: () => ReturnType<Redis["multi"]> }).multi = () => {
    reads += 1;
    return multi();
  };
  const seen: JobEvent[] = [];
  closers.push(() => dropPrefix(prefix));
  closers.push(async () => writer.disconnect());
  const add = (...fields: string[]) => writer.xadd(key, "*", ...fields);
  /** Starts the reader (after what `add` wrote so far). */
  const start = (): JobEvents => {
    const events = new JobEvents(
      reader,
      key,
      (e) => seen.push(e),
      paceMs,
      () => void losses++,
    );
    closers.push(() => events.close());
    return events;
  };
  /** Deletes every entry of the stream, as BullMQ's trimming does to the oldest. */
  const trimAll = () => writer.xtrim(key, "MAXLEN", 0);
  return { start, seen, add, trimAll, reads: () => reads, losses: () => losses };
}

describeRedis("JobEvents", () => {
  it("hands on added, completed, failed and removed events written after it was ready, in order, and no others", async () => {
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
      await add("event", "removed", "jobId", "j4", "prev", "wait"),
    ];
    await eventually("six events", async () => (seen.length >= 6 ? true : undefined));
    // Each with its stream entry id: the coordinator tells an earlier job's events from a later one's of the same id by it.
    expect(seen).toEqual([
      { event: "added", jobId: "j1", id: ids[0] },
      { event: "completed", jobId: "j1", id: ids[2] },
      { event: "failed", jobId: "j2", id: ids[3], failedReason: "job stalled more than allowable limit" },
      { event: "added", jobId: "j2", id: ids[5] },
      { event: "completed", jobId: "j3", id: ids[6] },
      { event: "removed", jobId: "j4", id: ids[7] },
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

  it("tells once of entries the stream deleted before it read them, and reads on after them", async () => {
    const pace = 3_000; // the deletes below land in the pause after the first read
    const { start, seen, add, trimAll, losses } = setUp("events-lost", pace);
    await start().ready;
    await add("event", "completed", "jobId", "first");
    await eventually("the first event", async () => (seen.length === 1 ? true : undefined));
    await add("event", "added", "jobId", "j1");
    await add("event", "failed", "jobId", "j1", "failedReason", "job stalled more than allowable limit");
    await trimAll();
    await eventually("the loss", async () => (losses() === 1 ? true : undefined));
    await add("event", "completed", "jobId", "after");
    await eventually("the event after the loss", async () => (seen.length === 2 ? true : undefined));
    expect(seen.map((e) => [e.event, e.jobId])).toEqual([
      ["completed", "first"],
      ["completed", "after"],
    ]);
    expect(losses()).toBe(1);
  }, 30_000);

  it("tells of jobs removed in bulk (BullMQ's `cleaned`, which names none) as of events lost", async () => {
    const { start, seen, add, losses } = setUp("events-cleaned", 10);
    await start().ready;
    await add("event", "cleaned", "count", "3");
    await add("event", "completed", "jobId", "after");
    await eventually("the event after", async () => (seen.length === 1 ? true : undefined));
    expect(losses()).toBe(1);
    expect(seen.map((e) => e.jobId)).toEqual(["after"]);
  }, 30_000);

  it("tells of no loss when the stream deletes only entries it has read", async () => {
    const { start, seen, add, trimAll, losses } = setUp("events-trimmed-read", 10);
    await start().ready;
    for (let i = 0; i < 3; i++) {
      await add("event", "completed", "jobId", `j${i}`);
      await eventually(`event ${i}`, async () => (seen.length === i + 1 ? true : undefined));
      await trimAll();
    }
    await add("event", "completed", "jobId", "last");
    await eventually("the last event", async () => (seen.length === 4 ? true : undefined));
    expect(losses()).toBe(0);
  }, 30_000);
});

describe("entriesLost", () => {
  it("since Redis 7, compares the entries added between two reads with those the second read got", () => {
    const info = (added: number, first: string) => [
      "length",
      2,
      "last-generated-id",
      "9-0",
      "max-deleted-entry-id",
      "0-0",
      "entries-added",
      added,
      "first-entry",
      [first, ["event", "x"]],
    ];
    expect(streamFacts(info(14, "8-0"))).toEqual({ added: 14, first: "8-0" });
    expect(entriesLost({ id: "5-0", added: 10 }, streamFacts(info(14, "3-0")), 4)).toBe(false);
    expect(entriesLost({ id: "5-0", added: 10 }, streamFacts(info(14, "8-0")), 3)).toBe(true);
    expect(entriesLost({ id: "5-0", added: 10 }, streamFacts(info(10, "3-0")), 0)).toBe(false);
    // A stream made again since (its count started over): a loss, whatever was got.
    expect(entriesLost({ id: "5-0", added: 10 }, streamFacts(info(2, "8-0")), 2)).toBe(true);
    // From a stream that did not exist (none added): the count tells.
    expect(entriesLost({ id: "0-0", added: streamFacts(undefined).added }, streamFacts(info(20_000, "9-0")), 10_000)).toBe(true);
    expect(entriesLost({ id: "0-0", added: streamFacts(undefined).added }, streamFacts(info(3, "1-0")), 3)).toBe(false);
  });

  it("before Redis 7, takes a first entry after the last entry read for a loss, but not from 0-0", () => {
    const info = (first: string | null) => ["length", 2, "last-generated-id", "9-0", "first-entry", first === null ? null : [first, ["event", "x"]]];
    const lost = (first: string | null, id: string) => entriesLost({ id, added: undefined }, streamFacts(info(first)), 1);
    expect(streamFacts(info("8-0"))).toEqual({ added: undefined, first: "8-0" });
    expect(lost("8-0", "3-0")).toBe(true);
    expect(lost("3-0", "3-0")).toBe(false);
    expect(lost("2-0", "3-0")).toBe(false);
    expect(lost("8-0", "0-0")).toBe(false);
    expect(lost(null, "3-0")).toBe(false);
  });

  it("reads nothing from a reply it does not know", () => {
    for (const reply of ["OK", 3, [], ["entries-added"], ["entries-added", "7"], ["first-entry", "x"], ["first-entry", [4]]]) {
      const facts = streamFacts(reply);
      expect(facts.first).toBeUndefined();
      if (Array.isArray(reply)) expect(facts.added).toBeUndefined();
    }
    // No reply at all is no stream: none added.
    expect(streamFacts(null)).toEqual({ added: 0, first: undefined });
  });
});
