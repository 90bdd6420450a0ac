/**
 * Callback delivery of a scheduler: when a slot's run row is closed with a
 * callback, its result is POSTed (`callback.ts`) and each attempt is
 * recorded in that row of the schedule's history, so a scheduler that
 * takes the schedule over continues an unfinished delivery.
 *
 * Invariants: one delivery per run row at a time (keyed by run id); a
 * delivery stops between attempts when the scheduler stops (its signal);
 * the URL is checked again before each delivery (the stored file may have
 * been edited); a delivery's failure is an `error` event, never a throw.
 * Only the holder of the schedule's lease delivers: a scheduler that lost
 * it during a backoff (stalled past the lease, or stopped being its holder)
 * sends nothing more and records nothing, since the new holder continues
 * the delivery from the recorded attempts; without this check both sent
 * the same callback.
 *
 * @module
 */
import type { Clock } from "../core/clock.js";
import { callbackBody, deliverCallback, payloadError } from "./callback.js";
import { withRunRow, type RunRow, type ScheduleRecord } from "./schedule-record.js";
import { callbackUrlProblem } from "./schedule-options.js";
import { holdsLease } from "./schedule-lease.js";
import { LeaseLost } from "./slot-firing.js";
import type { ResolvedStores } from "./store-options.js";
import type { SchedulerEmit } from "./scheduler-events.js";

/** What delivering callbacks needs from its scheduler. */
export interface DeliveryHost {
  readonly stores: ResolvedStores;
  readonly clock: Clock;
  /** Aborted when the scheduler stops. */
  readonly signal: AbortSignal;
  readonly emit: SchedulerEmit;
  /** The scheduler's lease owner: only while it holds a schedule's lease does it deliver that schedule's callbacks. */
  readonly owner: string;
  /** An attempt was recorded: `updated` is the schedule as stored now. */
  recorded(id: string, updated: ScheduleRecord): void;
}

/** The callback deliveries in progress, one per run row. */
export class CallbackDeliveries {
  readonly #host: DeliveryHost;
  readonly #delivering = new Map<string, Promise<void>>();

  constructor(host: DeliveryHost) {
    this.#host = host;
  }

  /** Whether a delivery with this key (a run id) is in progress. */
  has(key: string): boolean {
    return this.#delivering.has(key);
  }

  /** Resolves when every delivery in progress has ended. */
  async settled(): Promise<void> {
    await Promise.all([...this.#delivering.values()]);
  }

  /** Delivers (or continues delivering) a run row's callback, once per row at a time. */
  deliver(record: ScheduleRecord, row: RunRow, outputs?: unknown): void {
    const key = row.runId;
    if (this.#delivering.has(key) || row.callback === undefined || row.callback.done || record.callbackUrl === undefined) return;
    const id = record.id;
    const task = (async () => {
      let out = outputs;
      if (out === undefined && row.status === "succeeded") {
        out = (await this.#host.stores.runs.load(row.runId))?.state.meta.outputs;
      }
      const body = callbackBody({
        scheduleId: id,
        runId: row.runId,
        slot: new Date(row.slot).toISOString(),
        status: row.status === "running" ? "failed" : row.status,
        ...(row.status === "succeeded" && { outputs: out }),
        ...(row.error !== undefined && { error: payloadError(row.error) }),
        durationMs: row.durationMs ?? 0,
        ...(record.metadata !== undefined && { metadata: record.metadata }),
      });
      let number = row.callback?.attempts.length ?? 0;
      const url = record.callbackUrl ?? "";
      await deliverCallback({
        url,
        refused: callbackUrlProblem(url),
        body,
        secret: record.callbackSecret,
        retry: record.callbackRetry,
        clock: this.#host.clock,
        previous: row.callback?.attempts ?? [],
        signal: this.#host.signal,
        headers: { "X-Taskloom-Schedule": id, "X-Taskloom-Run": row.runId },
        mayAttempt: async () => {
          const current = await this.#host.stores.schedules.get(id);
          return current !== undefined && holdsLease(current, this.#host.owner, this.#host.clock.now());
        },
        onAttempt: async (attempt, done, delivered) => {
          number += 1;
          const updated = await this.#host.stores.schedules.update(id, (r) => {
            // Lost meanwhile (between the look before the attempt and its record): the new holder records its own.
            if (!holdsLease(r, this.#host.owner, this.#host.clock.now())) throw new LeaseLost();
            return withRunRow(
              r,
              row.runId,
              (x) => ({
                ...x,
                callback: { url: x.callback?.url ?? record.callbackUrl ?? "", delivered, done, attempts: [...(x.callback?.attempts ?? []), attempt] },
              }),
              this.#host.clock.now(),
            );
          });
          this.#host.recorded(id, updated);
          this.#host.emit("callback:attempt", { scheduleId: id, at: this.#host.clock.now(), runId: row.runId, attempt, number, delivered, done });
        },
      });
    })()
      .catch((error: unknown) => {
        if (!(error instanceof LeaseLost)) this.#host.emit("error", { scheduleId: id, at: this.#host.clock.now(), error });
      })
      .finally(() => this.#delivering.delete(key));
    this.#delivering.set(key, task);
  }
}
