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
 * event written after `ready` resolves is always seen, in the stream's
 * order.
 *
 * @module
 */
import type { Redis } from "ioredis";

/**
 * What the coordinator hears of one job: added (BullMQ's `added`, or
 * `duplicated` for an add that found the job there and attached to it),
 * completed, or failed with BullMQ's reason. Job ids repeat (an attempt's
 * id is the same when a stopped run resumes), so the stream's order is
 * what tells an event of the job added now from one of an earlier job
 * with the same id: only events after the add belong to it.
 */
export type JobEvent =
  | { readonly event: "added"; readonly jobId: string; readonly id: string }
  | { readonly event: "completed"; readonly jobId: string; readonly id: string }
  | { readonly event: "failed"; readonly jobId: string; readonly id: string; readonly failedReason: string };

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

/** Reads `key` (a BullMQ queue's `events` stream) on `client` (a blocking client of its own) until `close`. */
export class JobEvents {
  readonly #client: Redis;
  readonly #key: string;
  readonly #onEvent: (event: JobEvent) => void;
  readonly #paceMs: number;
  #stopped = false;
  #wake: (() => void) | undefined;
  #started!: () => void;
  readonly #loop: Promise<void>;
  /** Resolves once the reader knows where the stream ends: events from then on are seen. */
  readonly ready: Promise<void>;

  constructor(client: Redis, key: string, onEvent: (event: JobEvent) => void, paceMs = EVENTS_PACE_MS) {
    this.#client = client;
    this.#key = key;
    this.#onEvent = onEvent;
    this.#paceMs = paceMs;
    this.ready = new Promise((resolve) => (this.#started = resolve));
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    let id: string | undefined;
    while (!this.#stopped) {
      try {
        if (id === undefined) {
          const last = (await this.#client.xrevrange(this.#key, "+", "-", "COUNT", 1)) as StreamEntry[];
          id = last[0]?.[0] ?? "0-0";
          this.#started();
          continue;
        }
        const reply = await this.#client.xread("BLOCK", BLOCK_MS, "STREAMS", this.#key, id);
        const entries = reply?.[0]?.[1] ?? [];
        for (const [entryId, fields] of entries) {
          id = entryId;
          this.#dispatch(entryId, fields);
        }
        if (entries.length > 0) await this.#pause(this.#paceMs);
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
    if (jobId === undefined) return;
    if (event === "completed") this.#onEvent({ event, jobId, id });
    else if (event === "failed") this.#onEvent({ event, jobId, id, failedReason });
    else if (event === "added" || event === "duplicated") this.#onEvent({ event: "added", jobId, id });
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
    this.#client.disconnect();
    this.#wake?.();
    await this.#loop;
  }
}
