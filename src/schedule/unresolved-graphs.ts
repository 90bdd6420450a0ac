/**
 * A due schedule whose graph this scheduler was not given: unless a live
 * scheduler holds the schedule (it has the graph, or reports it itself),
 * one `error` row is written to the schedule's history per due slot, and a
 * `schedule:unresolved` event is emitted. The slot stays due until a
 * scheduler with the graph takes it.
 *
 * Invariants: each slot is reported at most once by this scheduler, and
 * written at most once into a history (the update checks under the
 * store's lock); reporting never takes the schedule's lease (it only
 * probes whether a live scheduler holds it).
 *
 * @module
 */
import type { LeaseRequest } from "../persistence/run-store.js";
import type { ErrorRecord } from "../state/records.js";
import type { ExecutorNotRegisteredError } from "./errors.js";
import { withLease } from "./schedule-lease.js";
import { withRow, type ScheduleRecord } from "./schedule-record.js";
import type { ScheduleStore } from "./schedule-store.js";
import type { SchedulerEmit } from "./scheduler-events.js";

/** What reporting unresolved graphs needs from its scheduler. */
export interface UnresolvedHost {
  readonly owner: string;
  /** The graphs the scheduler was given, by name. */
  readonly graphs: ReadonlyMap<string, unknown>;
  readonly schedules: ScheduleStore;
  /** The scheduler's lease request, now. */
  request(): LeaseRequest;
  readonly emit: SchedulerEmit;
}

/** Reports the due slots whose graph no live scheduler has. */
export class UnresolvedGraphs {
  readonly #host: UnresolvedHost;
  readonly #reported = new Set<string>();

  constructor(host: UnresolvedHost) {
    this.#host = host;
  }

  /**
   * Writes one history row per due slot whose graph (or, given
   * `missingExecutor`, whose executor) no live scheduler has.
   */
  async report(record: ScheduleRecord, now: number, missingExecutor?: ExecutorNotRegisteredError): Promise<void> {
    if (record.status !== "active" || record.nextRunAt === undefined || record.nextRunAt > now) return;
    const slot = record.nextRunAt;
    const key = `${record.id}@${slot}${missingExecutor ? "@executor" : ""}`;
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    const probe = withLease(record, { ...this.#host.request(), owner: `probe-${this.#host.owner}` });
    if (probe === record) return; // a live scheduler holds it: it has the graph, or reports it itself
    const known = [...this.#host.graphs.keys()];
    const error: ErrorRecord = missingExecutor
      ? { name: "ScheduleError", code: missingExecutor.code, message: missingExecutor.message }
      : {
          name: "ScheduleError",
          code: "GRAPH_NOT_REGISTERED",
          message:
            `schedule "${record.id}" runs graph "${record.graphName}", which this scheduler was not given (it has ${known.length ? known.map((k) => `"${k}"`).join(", ") : "none"}). ` +
            `Pass the graph in new Scheduler({ graphs: [...] })${record.modulePath ? `, or run taskloom scheduler start ${record.modulePath}` : ""}; the slot stays due until then.`,
        };
    await this.#host.schedules.update(record.id, (r) =>
      r.history.some((x) => x.kind === "error" && x.slot === slot) ? r : withRow(r, { kind: "error", slot, at: now, error }, now),
    );
    this.#host.emit("schedule:unresolved", {
      scheduleId: record.id,
      at: now,
      graphName: record.graphName,
      slot,
      ...(missingExecutor && { executor: missingExecutor.executorName }),
    });
  }
}
