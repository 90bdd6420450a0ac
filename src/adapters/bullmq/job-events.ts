/**
 * The coordinator's reader of BullMQ's events stream, for the two events
 * it acts on: a job `completed` (its result is in the run's results hash;
 * read it when the `up` list did not bring it: a live takeover) and a job
 * `failed` outside its body (a worker that stalled too often).
 *
 * Why not BullMQ's `QueueEvents`: both events are for rare paths, where a
 * few tens of milliseconds do not matter, but `QueueEvents` reads the
 * stream as each event comes (about one blocking `XREAD` per job, its
 * reply parsed into objects and emitted twice per event), which costs the
 * coordinator and Redis a round trip per job in the common case. This
 * reader waits `paceMs` after each read that brought events, so one read
 * takes every event of that time, and looks at two fields of each.
 *
 * It starts at the stream's last entry (read before it is ready), so an
 * event written after `ready` resolves is seen, in the stream's order,
 * unless the stream lost it first: BullMQ trims the stream to about
 * 10,000 entries at each write, and one `addBulk` of 5,000 jobs writes
 * that many (`added` and `waiting` for each) before any reader can read
 * them. So each read also looks, in the same transaction, at how many
 * entries the stream had added (`XINFO STREAM`, Redis 7; before 7, at its
 * first entry: {@link entriesLost}), and when entries were deleted unread,
 * calls `onMissed`: the coordinator then asks Redis about each job it
 * waits for instead (`executor.ts`). So it does after BullMQ's `cleaned`
 * (jobs removed in bulk by `Queue.clean`, with no event of their own); a
 * job removed alone comes as `removed`.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { untilHalted } from "./connection.js";

/**
 * What the coordinator hears of one job: added (BullMQ's `added`, or
 * `duplicated` for an add that found the job there and attached to it),
 * completed, failed with BullMQ's reason, or removed (`Job.remove`). Job ids repeat (an attempt's
 * id is the same when a stopped run resumes), so the stream's order is
 * what tells an event of the job added now from one of an earlier job
 * with the same id: only events after the add belong to it.
 */
export type JobEvent =
  | { readonly event: "added"; readonly jobId: string; readonly id: string }
  | { readonly event: "completed"; readonly jobId: string; readonly id: string }
  | { readonly event: "failed"; readonly jobId: string; readonly id: string; readonly failedReason: string }
  | { readonly event: "removed"; readonly jobId: string; readonly id: string };

/**
 * Whether the stream entry id `a` (`<ms>-<seq>`) comes after `b` in the
 * stream.
 *
 * @example
 * ```ts
 * streamIdAfter("1700000000001-0", "1700000000000-5"); // true
 * ```
 */
export function streamIdAfter(a: string, b: string): boolean {
  const [aMs = 0, aSeq = 0] = a.split("-").map(Number);
  const [bMs = 0, bSeq = 0] = b.split("-").map(Number);
  return aMs > bMs || (aMs === bMs && aSeq > bSeq);
}

/** The pause after a read that brought events (ms): later events wait for the next read, together. */
export const EVENTS_PACE_MS = 50;

/** How long one blocking read waits for an event (ms) before it is sent again. */
const BLOCK_MS = 5_000;

/** One entry of an `XREAD` reply: its id and its fields as a flat name, value list. */
type StreamEntry = [id: string, fields: string[]];

/** What an `XINFO STREAM` reply tells of a stream: how many entries were ever added to it (Redis 7 and later), and its first entry's id. */
export interface StreamFacts {
  readonly added: number | undefined;
  readonly first: string | undefined;
}

/**
 * The {@link StreamFacts} of an `XINFO STREAM` reply (a flat name, value
 * list); of no reply (no such stream), none added and no first entry.
 *
 * @example
 * ```ts
 * streamFacts(["length", 1, "entries-added", 7, "first-entry", ["6-0", []]]); // { added: 7, first: "6-0" }
 * ```
 */
export function streamFacts(info: unknown): StreamFacts {
  if (!Array.isArray(info)) return { added: 0, first: undefined };
  let added: number | undefined;
  let first: string | undefined;
  for (let i = 0; i + 1 < info.length; i += 2) {
    const name: unknown = info[i];
    const value: unknown = info[i + 1];
    if (name === "entries-added" && typeof value === "number") added = value;
    else if (name === "first-entry" && Array.isArray(value) && typeof value[0] === "string") first = value[0];
  }
  return { added, first };
}

/**
 * Whether the stream deleted entries that were never read, between a read
 * that left off at entry `before.id` with `before.added` entries ever
 * added, and a read that found `now` and got `got` entries after that id
 * (the two reads each in one transaction with their `XINFO STREAM`).
 * Since Redis 7 the stream counts its entries: fewer got than were added
 * is a loss (BullMQ trims the oldest entries at each write). Before 7, a
 * first entry after `before.id` says that everything between was deleted,
 * which may have held nothing (then no event was lost, and the
 * coordinator looks at its jobs once for nothing); from `0-0` (a stream
 * that did not exist when reading began) that cannot be told.
 *
 * @example
 * ```ts
 * entriesLost({ id: "5-0", added: 10 }, { added: 14, first: "3-0" }, 4); // false: the 4 added were read
 * entriesLost({ id: "5-0", added: 10 }, { added: 14, first: "8-0" }, 2); // true
 * ```
 */
export function entriesLost(before: { readonly id: string; readonly added: number | undefined }, now: StreamFacts, got: number): boolean {
  // A count that went down is a stream made again (deleted meanwhile): what the old one held after `id` is gone too.
  if (now.added !== undefined && before.added !== undefined) return now.added - before.added !== got;
  return now.first !== undefined && before.id !== "0-0" && streamIdAfter(now.first, before.id);
}

/** Reads `key` (a BullMQ queue's `events` stream) on `client` (a blocking client of its own) until `close`. */
export class JobEvents {
  readonly #client: Redis;
  readonly #key: string;
  readonly #onEvent: (event: JobEvent) => void;
  readonly #onMissed: () => void;
  readonly #paceMs: number;
  #stopped = false;
  /** Aborted by `close`: ends a read that the disconnected client would leave pending forever (Redis was away). */
  readonly #halt = new AbortController();
  #wake: (() => void) | undefined;
  #started!: () => void;
  readonly #loop: Promise<void>;
  /** Resolves once the reader knows where the stream ends: events from then on are seen. */
  readonly ready: Promise<void>;

  /**
   * `onEvent` is called for each event read, in the stream's order;
   * `onMissed` when events of some jobs may never come: the stream
   * deleted entries that were not read, or jobs were removed in bulk (see
   * the module comment).
   */
  constructor(client: Redis, key: string, onEvent: (event: JobEvent) => void, paceMs = EVENTS_PACE_MS, onMissed: () => void = () => undefined) {
    this.#client = client;
    this.#key = key;
    this.#onEvent = onEvent;
    this.#onMissed = onMissed;
    this.#paceMs = paceMs;
    this.ready = new Promise((resolve) => (this.#started = resolve));
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    // Where reading left off: the last entry read, and how many entries the stream had had added then.
    let id: string | undefined;
    let added: number | undefined;
    while (!this.#stopped) {
      try {
        if (id === undefined) {
          const [info, last] =
            (await untilHalted(this.#client.multi().xinfo("STREAM", this.#key).xrevrange(this.#key, "+", "-", "COUNT", 1).exec(), this.#halt.signal)) ?? [];
          if (last?.[0]) throw last[0];
          id = (last?.[1] as StreamEntry[] | undefined)?.[0]?.[0] ?? "0-0";
          // No stream yet: XINFO fails with "no such key" (none added).
          added = streamFacts(info?.[0] ? undefined : info?.[1]).added;
          this.#started();
          continue;
        }
        // What the stream holds after `id`, and what it had added, at one instant (a transaction).
        const [info, read] =
          (await untilHalted(this.#client.multi().xinfo("STREAM", this.#key).xread("STREAMS", this.#key, id).exec(), this.#halt.signal)) ?? [];
        if (read?.[0]) throw read[0];
        const now = streamFacts(info?.[0] ? undefined : info?.[1]);
        const entries = (read?.[1] as [string, StreamEntry[]][] | null)?.[0]?.[1] ?? [];
        const lost = entriesLost({ id, added }, now, entries.length);
        added = now.added;
        for (const [entryId, fields] of entries) {
          id = entryId;
          this.#dispatch(entryId, fields);
        }
        if (lost) this.#onMissed();
        if (entries.length > 0) {
          await this.#pause(this.#paceMs);
          continue;
        }
        // Nothing new: wait for an entry (its id only; the next read takes it, with the stream's count).
        await untilHalted(this.#client.xread("COUNT", 1, "BLOCK", BLOCK_MS, "STREAMS", this.#key, id), this.#halt.signal);
      } catch {
        if (this.#stopped) return;
        await this.#pause(200);
      }
    }
  }

  #dispatch(id: string, fields: readonly string[]): void {
    let event: string | undefined;
    let jobId: string | undefined;
    let failedReason = "";
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i];
      if (name === "event") event = fields[i + 1];
      else if (name === "jobId") jobId = fields[i + 1];
      else if (name === "failedReason") failedReason = fields[i + 1] ?? "";
    }
    // Jobs removed in bulk (`Queue.clean`), with no event of their own: as for events lost.
    if (event === "cleaned") this.#onMissed();
    if (jobId === undefined) return;
    if (event === "completed") this.#onEvent({ event, jobId, id });
    else if (event === "failed") this.#onEvent({ event, jobId, id, failedReason });
    else if (event === "added" || event === "duplicated") this.#onEvent({ event: "added", jobId, id });
    else if (event === "removed") this.#onEvent({ event, jobId, id });
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Stops reading and disconnects the client (and lets whoever awaits `ready` go on, to fail on the closed client). */
  async close(): Promise<void> {
    this.#stopped = true;
    this.#started();
    this.#halt.abort(new Error("taskloom: the events reader was closed"));
    this.#client.disconnect();
    this.#wake?.();
    await this.#loop;
  }
}
