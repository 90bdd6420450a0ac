/**
 * Map fan-out. A map node does not run its body itself: when it starts it
 * appends one activation per element of its source's array (`id[i]`),
 * queues them (at most its own `maxConcurrency` at a time, within the
 * run's), and succeeds with their outputs in order once all have.
 *
 * States of one map node: running (elements queued in waves as earlier
 * ones settle) → done (succeeded with every element's output, or failed
 * or cancelled with its first element that did).
 *
 * Invariants:
 * - Elements retry on their own; the map node is never retried as a whole.
 * - An element that succeeded durably before (a resume) does not run again.
 * - A map node's slot is given back at once: only elements hold slots.
 *
 * @module
 */
import { elementId } from "../core/ids.js";
import type { Clock } from "../core/clock.js";
import type { RunEvents } from "../events/run-events.js";
import type { NodeRecord } from "../state/records.js";
import { markRunning } from "../state/node-transitions.js";
import type { ActivationDefs } from "./activation-defs.js";
import type { ActivationNames } from "./activation-names.js";
import type { MapStarter } from "./attempts.js";
import type { RecordBuffer } from "./record-buffer.js";
import type { ActivationEnd, ActivationOwner, AttemptResult, ElementOf, MapNodes, Stop } from "./loop-types.js";
import { NonRetryableError } from "../graph/errors.js";
import { type MapSpec, type NodeDefinition } from "../graph/definition.js";

/** The progress of one map node's elements. */
interface MapRun {
  readonly id: string;
  readonly attempt: number;
  readonly startedAt: number;
  readonly elements: readonly string[];
  /** Elements still to run (not succeeded before), in order. */
  readonly todo: readonly string[];
  readonly limit: number;
  next: number;
  inflight: number;
  remaining: number;
  done: boolean;
}

/** What map fan-out needs from the run loop. */
export interface MapLoop {
  readonly stopping: Stop | undefined;
  dispatch(ids: readonly string[]): void;
  settle(id: string, result: AttemptResult): Promise<void>;
}

/** What map fan-out works with. */
export interface MapFanoutEnv {
  readonly runId: string;
  readonly clock: Clock;
  readonly events: RunEvents;
  readonly names: ActivationNames;
  readonly buffer: RecordBuffer;
  readonly defs: ActivationDefs;
  readonly loop: MapLoop;
}

/** The map nodes of one run and their elements. */
export class MapFanout implements MapStarter, ActivationOwner, MapNodes {
  readonly #env: MapFanoutEnv;
  /** Map nodes whose elements are running, by map node id. */
  readonly #maps = new Map<string, MapRun>();
  /** For each map element activation: its map node, element and index. */
  readonly #elementOf = new Map<string, ElementOf>();

  constructor(env: MapFanoutEnv) {
    this.#env = env;
  }

  element(id: string): ElementOf | undefined {
    return this.#elementOf.get(id);
  }

  /** Map nodes whose elements run (started, not settled). */
  get running(): number {
    return this.#maps.size;
  }

  /** Starts a map node: queues its elements and gives its own slot back at once. */
  start(id: string, node: NodeDefinition, spec: MapSpec): Promise<void> {
    const { buffer, events, loop } = this.#env;
    const startedAt = this.#env.clock.now();
    // The attempt's number is the one the record now counts (from 1).
    const attempt = buffer.transition(markRunning(startedAt), id, false).attempts;
    events.emit("node:start", this.#env.names.tag(id, { runId: this.#env.runId, at: startedAt, nodeId: id, attempt }));
    const items = buffer.output(spec.source);
    if (!Array.isArray(items)) {
      const got = items === null ? "null" : typeof items;
      const error = new NonRetryableError(`map node "${id}" needs an array from "${spec.source}", which returned ${got}`);
      void loop.settle(id, { kind: "error", error, attempt });
      return Promise.resolve();
    }
    // An index loop, not `items.map`/`forEach`: those skip the holes of a sparse array, whose elements then never ran.
    const elements: string[] = [];
    const missing: NodeRecord[] = [];
    for (let index = 0; index < items.length; index++) {
      const element = elementId(id, index);
      elements.push(element);
      this.#elementOf.set(element, { map: id, item: items[index], index });
      this.#env.defs.add(element, { ...node, id: element });
      if (!buffer.get(element)) missing.push({ id: element, nodeId: id, status: "pending", attempts: 0 });
    }
    if (missing.length > 0) buffer.append(missing);
    const todo = elements.filter((element) => {
      const record = buffer.get(element);
      return !(record?.status === "succeeded" && record.durable !== false);
    });
    const run: MapRun = {
      id,
      attempt,
      startedAt,
      elements,
      todo,
      limit: spec.maxConcurrency ?? Infinity,
      next: 0,
      inflight: 0,
      remaining: todo.length,
      done: false,
    };
    this.#maps.set(id, run);
    if (run.remaining === 0) this.#finish(run);
    else this.#pump(run);
    return Promise.resolve();
  }

  /** Tells a map node one of its elements settled; false when `id` is not a map element. */
  settled(id: string, end: ActivationEnd): boolean {
    const element = this.#elementOf.get(id);
    if (!element) return false;
    const run = this.#maps.get(element.map);
    if (!run || run.done) return true;
    run.inflight -= 1;
    if (end.kind === "ok") {
      run.remaining -= 1;
      if (run.remaining === 0) this.#finish(run);
      else this.#pump(run);
    } else {
      run.done = true;
      this.#maps.delete(run.id);
      void this.#env.loop.settle(run.id, end.kind === "cancelled" ? { kind: "cancelled" } : { kind: "error", error: end.error, attempt: run.attempt });
    }
    return true;
  }

  #pump(run: MapRun): void {
    const batch: string[] = [];
    while (run.next < run.todo.length && run.inflight < run.limit && !this.#env.loop.stopping) {
      batch.push(run.todo[run.next++] as string);
      run.inflight += 1;
    }
    this.#env.loop.dispatch(batch);
  }

  #finish(run: MapRun): void {
    run.done = true;
    this.#maps.delete(run.id);
    const value = run.elements.map((element) => this.#env.buffer.output(element));
    void this.#env.loop.settle(run.id, { kind: "ok", value, attempt: run.attempt, startedAt: run.startedAt });
  }
}
