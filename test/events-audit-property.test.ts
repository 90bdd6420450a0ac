/**
 * Events audit: random graphs (plain joins, a routing node, a map fan-out,
 * a node that waits), failing attempts under random retry policies and
 * concurrency limits, bodies that finish in an order fast-check picks, and
 * a cancel or the run's deadline at a random point, against what a run's
 * events promise:
 *
 * - `run:start` first; the run's end event last and exactly once;
 * - each attempt's `node:start` before its end, attempt numbers counting up
 *   by one, at most one end per attempt, nothing about a node after its
 *   success or failure;
 * - `node:success` exactly once per activation the store holds succeeded;
 * - `result()` and `status` agree with the end event (same status, same
 *   error, same outputs);
 * - listeners that throw are reported to `onListenerError` and break nothing;
 *   a `once` listener hears one event; no payload changes after it was emitted.
 *
 * A cancelled or failed run is then resumed, and its events are held to
 * the same promises (a resume runs what did not succeed with fresh
 * attempts, counted from 1 again).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  GraphHasPendingWaits,
  ManualClock,
  MemoryStore,
  RunCancelledError,
  RunTimeoutError,
  getRun,
  resolveWait,
  route,
  run,
  type RunEventName,
  type RunHandle,
  type TaskGraph,
} from "../src/index.js";
import { graphShapeFields, graphShapeOf, shapeBuilder, type GraphShape } from "./support/random-graph-shape.js";
import { RUN_EVENT_NAMES } from "./support/run-event-names.js";

interface Ctx {
  readonly nodeId: string;
  readonly attempt: number;
  readonly item?: unknown;
  readonly waitFor: (key: string) => Promise<unknown>;
  readonly emit: (name: string, data?: unknown) => void;
}

const NAMES = RUN_EVENT_NAMES;
const ENDS = new Set<string>(["run:success", "run:error", "run:cancel", "run:waiting"]);

interface Shape extends GraphShape {
  /** Node 0 routes to node 1 or node 2 (the other is skipped); -1: no routing. */
  readonly routeTo: number;
  /** A node "w" that waits for an event. */
  readonly waits: boolean;
  readonly doom: readonly boolean[];
  readonly maxAttempts: number;
  readonly continueOnError: boolean;
  /** Bodies finished before the stop (a cancel, or the deadline), or -1 for none. */
  readonly stopAfter: number;
  readonly byDeadline: boolean;
  /** Event names whose listeners throw. */
  readonly throwing: readonly boolean[];
  /** A listener cancels the run as it hears this event (by index in the run's events), or -1. */
  readonly cancelAtEvent: number;
  /** Bodies finished before the event "w" waits for is delivered (while the run is live), or -1 for never. */
  readonly deliverAfter: number;
}

const shapes: fc.Arbitrary<Shape> = fc
  .record({
    ...graphShapeFields,
    routeTo: fc.integer({ min: -1, max: 2 }),
    waits: fc.boolean(),
    doom: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 11, maxLength: 11 }),
    maxAttempts: fc.integer({ min: 1, max: 3 }),
    continueOnError: fc.boolean(),
    stopAfter: fc.integer({ min: -1, max: 12 }),
    byDeadline: fc.boolean(),
    throwing: fc.array(fc.boolean(), { minLength: NAMES.length, maxLength: NAMES.length }),
    cancelAtEvent: fc.integer({ min: -1, max: 30 }),
    deliverAfter: fc.integer({ min: -1, max: 8 }),
  })
  .map((s) => {
    const routing = s.routeTo > 0 && s.size >= 3;
    return {
      // A routed target reads nothing but what its routing node reads (here: nothing).
      ...graphShapeOf(s, { mapFrom: 3, root: (i) => routing && i <= 2 }),
      routeTo: routing ? s.routeTo : -1,
      waits: s.waits,
      doom: s.doom.map((d) => d === 0),
      maxAttempts: s.maxAttempts,
      continueOnError: s.continueOnError,
      stopAfter: s.stopAfter,
      byDeadline: s.byDeadline,
      throwing: s.throwing,
      cancelAtEvent: s.cancelAtEvent,
      deliverAfter: s.deliverAfter,
    };
  });

interface Seen {
  readonly name: RunEventName;
  readonly payload: Record<string, unknown>;
  /** The payload's own fields as emitted (to find later changes). */
  readonly copy: Record<string, unknown>;
}

/** One run of a shape's graph, its bodies waiting for the test. */
class Harness {
  readonly waiting: { readonly id: string; readonly finish: () => void }[] = [];
  readonly tries = new Map<string, number>();
  #pick = 0;

  constructor(readonly shape: Shape) {}

  failsOf(id: string): number {
    const element = /^n(\d+)\[(\d+)\]$/.exec(id);
    const at = (element ? this.shape.after.length + Number(element[2]) : id === "w" ? 0 : Number(id.slice(1))) % this.shape.fails.length;
    return this.shape.doom[at]! ? Infinity : this.shape.fails[at]!;
  }

  body(i: number): (ctx: Ctx) => Promise<unknown> {
    return async (ctx) => {
      const id = ctx.nodeId;
      const tries = (this.tries.get(id) ?? 0) + 1;
      this.tries.set(id, tries);
      await new Promise<void>((resolve) => this.waiting.push({ id, finish: resolve }));
      // A body the run's stop abandoned gets here after the run's end: its event must not be heard.
      ctx.emit("finished", tries);
      if (tries <= this.failsOf(id)) throw new Error(`${id} fails try ${tries}`);
      if (i === 0) {
        const items = Array.from({ length: this.shape.items }, (_, k) => `item${k}`);
        return this.shape.routeTo > 0 ? route(`r${this.shape.routeTo}`, items) : items;
      }
      if (i === this.shape.mapAt) return `${String(ctx.item)}!`;
      return `out${i}`;
    };
  }

  graph(): TaskGraph<undefined, Record<string, unknown>> {
    const { shape } = this;
    let b = shapeBuilder("events-audit", shape, (i) => this.body(i), shape.routeTo > 0 ? { r1: ["n1"], r2: ["n2"] } : undefined);
    if (shape.waits) b = b.node("w", (ctx) => ctx.waitFor("audit-key"), {});
    return b.build();
  }

  /** Finishes waiting bodies in the picked order until `done` settles; calls `stop` once `stopAfter` bodies finished. */
  async drive(done: Promise<unknown>, clock: ManualClock, stopAfter: number, stop: () => Promise<void>, deliver?: () => Promise<void>): Promise<void> {
    let over = false;
    void done.then(
      () => (over = true),
      () => (over = true),
    );
    let finished = 0;
    let stopped = stopAfter < 0;
    let delivered = deliver === undefined || !this.shape.waits || this.shape.deliverAfter < 0;
    // Bounded by turns and real time, as `until` is: on a loaded machine a turn count alone can run out first.
    const started = process.hrtime.bigint();
    for (let turns = 0; turns < 2_000 || process.hrtime.bigint() - started < 10_000_000_000n; turns++) {
      for (let k = 0; k < 3; k++) await new Promise<void>((resolve) => setImmediate(resolve));
      // Retry sleeps are 0 ms: due at once on the manual clock.
      await clock.advance(0);
      if (over) return;
      if (!delivered && finished >= this.shape.deliverAfter) {
        delivered = true;
        await deliver!();
        continue;
      }
      if (!stopped && finished >= stopAfter) {
        stopped = true;
        await stop();
        continue;
      }
      if (this.waiting.length === 0) continue;
      const picks = this.shape.picks;
      const at = picks[this.#pick++ % picks.length]! % this.waiting.length;
      const [body] = this.waiting.splice(at, 1);
      body!.finish();
      finished += 1;
    }
    throw new Error("the run did not end");
  }
}

/** Records every event of `handle`, with throwing listeners on the names `throwing` picks. */
function record(handle: RunHandle<unknown>, throwing: readonly boolean[], cancelAtEvent = -1): { seen: Seen[]; thrown: number; onces: number } {
  const out = { seen: [] as Seen[], thrown: 0, onces: 0 };
  NAMES.forEach((name, k) => {
    handle.events.on(name, (payload: unknown) => {
      const p = payload as Record<string, unknown>;
      out.seen.push({ name, payload: p, copy: { ...p } });
      if (out.seen.length - 1 === cancelAtEvent) handle.cancel("a listener cancels");
    });
    if (throwing[k]) {
      handle.events.on(name, () => {
        out.thrown += 1;
        throw new Error(`listener of ${name} throws`);
      });
    }
  });
  handle.events.once("node:start", () => (out.onces += 1));
  return out;
}

/** The problems of one run's events (empty when they keep every promise above). */
function problems(seen: readonly Seen[], stored: ReadonlyMap<string, { status: string }>, keptBefore: ReadonlySet<string>): string[] {
  const found: string[] = [];
  const names = seen.map((e) => e.name);
  if (names[0] !== "run:start") found.push(`first event ${names[0]}`);
  const ends = names.filter((n) => ENDS.has(n));
  if (ends.length !== 1) found.push(`end events ${ends.join(",")}`);
  if (!ENDS.has(names[names.length - 1] ?? "")) found.push(`last event ${names[names.length - 1]}`);
  const endAt = names.findIndex((n) => ENDS.has(n));
  // Per activation: the open attempt (or undefined), the last attempt number, whether it ended for good.
  const open = new Map<string, number | undefined>();
  const last = new Map<string, number>();
  const over = new Set<string>();
  const successes = new Map<string, number>();
  seen.forEach((e, at) => {
    for (const [k, v] of Object.entries(e.copy)) if (e.payload[k] !== v) found.push(`${e.name} payload field ${k} changed`);
    if (Object.keys(e.payload).length !== Object.keys(e.copy).length) found.push(`${e.name} payload gained fields`);
    if (!e.name.startsWith("node:")) return;
    const id = e.payload.nodeId as string;
    if (endAt >= 0 && at > endAt) found.push(`${e.name} of ${id} after the run's end`);
    if (e.name === "node:skip" || e.name === "node:event" || e.name === "node:wait") return;
    const attempt = e.payload.attempt as number;
    if (over.has(id)) found.push(`${e.name} of ${id} after it succeeded or failed`);
    if (e.name === "node:start") {
      const prev = last.get(id) ?? 0;
      if (attempt !== prev + 1) found.push(`${id} started attempt ${attempt} after ${prev}`);
      last.set(id, attempt);
      open.set(id, attempt);
      return;
    }
    if (open.get(id) !== attempt) found.push(`${e.name} of ${id} attempt ${attempt} while ${String(open.get(id))} was open`);
    open.set(id, undefined);
    if (e.name === "node:success") successes.set(id, (successes.get(id) ?? 0) + 1);
    if (e.name !== "node:retry") over.add(id);
  });
  for (const [id, n] of successes) if (n !== 1) found.push(`${id} succeeded ${n} times`);
  for (const [id, r] of stored) {
    const said = successes.has(id);
    // A record saved succeeded by an earlier run is no success of this one.
    if (r.status === "succeeded" && !said && !keptBefore.has(id)) found.push(`${id} stored succeeded without node:success`);
    if (r.status !== "succeeded" && said) found.push(`${id} said node:success but is stored ${r.status}`);
  }
  return found;
}

/** The problems of `result()` and `status` against the end event. */
async function settleProblems(handle: RunHandle<unknown>, seen: readonly Seen[]): Promise<string[]> {
  const settled = await handle.result().then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const end = [...seen].reverse().find((e) => ENDS.has(e.name));
  const found: string[] = [];
  const status = handle.status;
  if (!end) return [`no end event; result ${settled.ok ? "resolved" : String(settled.error)}, status ${status}`];
  switch (end.name) {
    case "run:success":
      if (!settled.ok) found.push(`run:success but result rejected with ${String(settled.error)}`);
      else if (settled.value !== end.payload.outputs) found.push("run:success outputs differ from result()");
      if (status !== "succeeded") found.push(`run:success with status ${status}`);
      break;
    case "run:error":
      if (settled.ok || settled.error !== end.payload.error)
        found.push(`run:error (${String(end.payload.error)}) but result ${settled.ok ? "resolved" : String(settled.error)}`);
      if (status !== "failed") found.push(`run:error with status ${status}`);
      break;
    case "run:cancel": {
      const e = settled.ok ? undefined : settled.error;
      if (!(e instanceof RunCancelledError || e instanceof RunTimeoutError)) found.push(`run:cancel but result ${String(e)}`);
      if (e instanceof RunCancelledError && e.message.indexOf(end.payload.reason as string) < 0)
        found.push(`run:cancel reason ${String(end.payload.reason)} but ${e.message}`);
      if (status !== "cancelled") found.push(`run:cancel with status ${status}`);
      break;
    }
    case "run:waiting":
      if (settled.ok || !(settled.error instanceof GraphHasPendingWaits))
        found.push(`run:waiting but result ${settled.ok ? "resolved" : String(settled.error)}`);
      if (status !== "waiting") found.push(`run:waiting with status ${status}`);
      break;
  }
  return found;
}

async function storedNodes(store: MemoryStore, runId: string): Promise<Map<string, { status: string }>> {
  const r = await getRun(runId, { store });
  return new Map(r.nodes.map((n) => [n.id, { status: n.status }]));
}

describe("run events over random graphs (property)", () => {
  it("form a valid sequence, agree with result() and status, and survive throwing listeners, through a stop and a resume", async () => {
    await fc.assert(
      fc.asyncProperty(shapes, async (shape) => {
        const h = new Harness(shape);
        let g: TaskGraph<undefined, Record<string, unknown>>;
        try {
          g = h.graph();
        } catch {
          fc.pre(false);
          return;
        }
        const store = new MemoryStore();
        const clock = new ManualClock(1_000_000);
        const reported: unknown[] = [];
        const options = {
          store,
          clock,
          runId: "events-audit",
          maxConcurrency: shape.maxConcurrency,
          continueOnError: shape.continueOnError,
          retry: { maxAttempts: shape.maxAttempts, backoff: { initialMs: 0, jitter: false } },
          onListenerError: (error: unknown) => void reported.push(error),
        };
        const first = run(g, undefined, { ...options, ...(shape.byDeadline && { timeoutMs: 60_000 }) });
        const rec = record(first, shape.throwing, shape.cancelAtEvent);
        await h.drive(
          first.result(),
          clock,
          shape.stopAfter,
          async () => {
            if (shape.byDeadline) await clock.advance(60_000);
            else first.cancel("audit");
          },
          // A wait not open yet (or closed by the stop) refuses the event: that is no concern here.
          () => resolveWait("events-audit", "audit-key", "delivered", { store, clock }).catch(() => undefined),
        );
        const firstProblems = [...problems(rec.seen, await storedNodes(store, "events-audit"), new Set()), ...(await settleProblems(first, rec.seen))];
        expect(firstProblems).toEqual([]);
        expect(reported.length).toBe(rec.thrown);
        expect(rec.onces).toBe(rec.seen.some((e) => e.name === "node:start") ? 1 : 0);
        if (first.status === "succeeded" || first.status === "waiting") return;
        // Bodies the stop left waiting are abandoned: finish them, as a real body would end some time.
        for (const body of h.waiting.splice(0)) body.finish();
        const kept = new Set([...(await storedNodes(store, "events-audit"))].filter(([, r]) => r.status === "succeeded").map(([id]) => id));
        const second = run(g, undefined, options);
        const rec2 = record(second, shape.throwing);
        await h.drive(second.result(), clock, -1, () => Promise.resolve());
        const secondProblems = [...problems(rec2.seen, await storedNodes(store, "events-audit"), kept), ...(await settleProblems(second, rec2.seen))];
        expect(secondProblems).toEqual([]);
      }),
      { numRuns: 300 },
    );
  }, 120_000);
});
