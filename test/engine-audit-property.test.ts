/**
 * Engine audit: random graphs with a map fan-out, failing attempts and
 * bodies that finish in a random order, under a small `maxConcurrency`,
 * against the engine's promises:
 *
 * - never more bodies running at once than `maxConcurrency`;
 * - each activation (a node, a map element) succeeds once, after as many
 *   attempts as its plan says, and reads its dependencies' outputs;
 * - a map node's output is its elements' outputs in element order;
 * - after a cancel nothing starts, and a resume of the cancelled run runs
 *   no activation whose success was saved.
 *
 * Bodies wait for the test to let them finish (no timers), in an order
 * fast-check picks; retries have no backoff.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { getRun, MemoryStore, NodeFailedError, run, type TaskGraph } from "../src/index.js";
import { graphShapeFields, graphShapeOf, shapeBuilder, type GraphShape } from "./support/random-graph-shape.js";

interface Ctx {
  readonly nodeId: string;
  readonly attempt: number;
  readonly deps: Record<string, unknown>;
  readonly item?: unknown;
}

interface Shape extends GraphShape {
  /** By activation as `fails`: fails every attempt (only where a test says so). */
  readonly doom: readonly boolean[];
}

const shapes: fc.Arbitrary<Shape> = fc
  .record({ ...graphShapeFields, doom: fc.array(fc.boolean(), { minLength: 11, maxLength: 11 }) })
  .map((s) => ({ ...graphShapeOf(s, { mapFrom: 1 }), doom: s.doom }));

/** What one or more runs of a shape saw. */
class Harness {
  running = 0;
  maxRunning = 0;
  /** Bodies waiting for the test to finish them. */
  readonly waiting: { readonly id: string; readonly finish: () => void }[] = [];
  readonly starts = new Map<string, number>();
  readonly successes = new Map<string, number>();
  readonly problems: string[] = [];
  /** Bodies started since the cancel (must stay 0). */
  startedAfterCancel = 0;
  cancelled = false;
  #pick = 0;

  constructor(readonly shape: Shape) {}

  /** Activations that fail every attempt (`withDoom`). */
  doomed = false;

  /** The failures planned for activation `id` before it succeeds (Infinity: it never does). */
  failsOf(id: string): number {
    const element = /^n(\d+)\[(\d+)\]$/.exec(id);
    const at = (element ? this.shape.after.length + Number(element[2]) : Number(id.slice(1))) % this.shape.fails.length;
    return this.doomed && this.shape.doom[at]! ? Infinity : this.shape.fails[at]!;
  }

  expected(i: number): unknown {
    if (i === 0) return Array.from({ length: this.shape.items }, (_, k) => `item${k}`);
    if (i === this.shape.mapAt) return Array.from({ length: this.shape.items }, (_, k) => `item${k}!`);
    return `out${i}`;
  }

  body(i: number): (ctx: Ctx) => Promise<unknown> {
    return async (ctx) => {
      const id = ctx.nodeId;
      if (this.cancelled) this.startedAfterCancel += 1;
      this.starts.set(id, (this.starts.get(id) ?? 0) + 1);
      for (const d of i === this.shape.mapAt ? [] : this.shape.after[i]!) {
        if (JSON.stringify(ctx.deps[`n${d}`]) !== JSON.stringify(this.expected(d)))
          this.problems.push(`${id} read n${d} as ${JSON.stringify(ctx.deps[`n${d}`])}`);
      }
      this.running += 1;
      this.maxRunning = Math.max(this.maxRunning, this.running);
      try {
        await new Promise<void>((resolve) => this.waiting.push({ id, finish: resolve }));
      } finally {
        this.running -= 1;
      }
      if (ctx.attempt <= this.failsOf(id)) throw new Error(`${id} fails attempt ${ctx.attempt}`);
      this.successes.set(id, (this.successes.get(id) ?? 0) + 1);
      return i === this.shape.mapAt ? `${String(ctx.item)}!` : this.expected(i);
    };
  }

  graph(): TaskGraph<undefined, Record<string, unknown>> {
    return shapeBuilder("audit-property", this.shape, (i) => this.body(i)).build();
  }

  /** Finishes waiting bodies in the picked order until `done` settles (or `stopAfter` bodies finished: returns false). */
  async drive(done: Promise<unknown>, stopAfter = Infinity): Promise<boolean> {
    let over = false;
    void done.then(
      () => (over = true),
      () => (over = true),
    );
    let finished = 0;
    for (let turns = 0; turns < 100_000; turns++) {
      for (let k = 0; k < 3; k++) await new Promise<void>((resolve) => setImmediate(resolve));
      if (over) return true;
      if (this.waiting.length === 0) continue;
      if (finished >= stopAfter) return false;
      const picks = this.shape.picks;
      const at = picks[this.#pick++ % picks.length]! % this.waiting.length;
      const [body] = this.waiting.splice(at, 1);
      body!.finish();
      finished += 1;
    }
    throw new Error("the run did not end");
  }
}

const retry = { maxAttempts: 3, backoff: { initialMs: 0, jitter: false } } as const;

describe("engine promises over random graphs (property)", () => {
  it("concurrency stays within the limit, each activation succeeds once, map outputs keep element order", async () => {
    await fc.assert(
      fc.asyncProperty(shapes, async (shape) => {
        const h = new Harness(shape);
        const handle = run(h.graph(), undefined, { store: new MemoryStore(), maxConcurrency: shape.maxConcurrency, retry });
        const result = handle.result();
        await h.drive(result);
        const outputs = await result;
        expect(h.problems).toEqual([]);
        expect(h.maxRunning).toBeLessThanOrEqual(shape.maxConcurrency);
        shape.after.forEach((_, i) => expect(outputs[`n${i}`]).toEqual(h.expected(i)));
        for (const [id, n] of h.successes) expect([id, n]).toEqual([id, 1]);
        for (const [id, n] of h.starts) expect([id, n]).toEqual([id, h.failsOf(id) + 1]);
      }),
      { numRuns: 150 },
    );
  });

  it("after a cancel nothing starts, and the resume runs no activation whose success was saved", async () => {
    await fc.assert(
      fc.asyncProperty(shapes, fc.nat({ max: 12 }), async (shape, cancelAfter) => {
        const h = new Harness(shape);
        const store = new MemoryStore();
        const g = h.graph();
        const first = run(g, undefined, { store, runId: "audit-cancel", maxConcurrency: shape.maxConcurrency, retry });
        const firstResult = first.result();
        const ended = await h.drive(firstResult, cancelAfter);
        if (!ended) {
          h.cancelled = true;
          first.cancel("audit");
          await h.drive(firstResult);
        }
        await firstResult.catch(() => undefined);
        expect(h.startedAfterCancel).toBe(0);
        // Bodies the cancel left waiting are abandoned: finish them, as a real body would end some time.
        for (const body of h.waiting.splice(0)) body.finish();
        h.cancelled = false;
        const saved = new Set((await getRun("audit-cancel", { store })).nodes.filter((n) => n.status === "succeeded").map((n) => n.id));
        const startsBefore = new Map(h.starts);
        h.maxRunning = 0;
        const second = run(g, undefined, { store, runId: "audit-cancel", maxConcurrency: shape.maxConcurrency, retry });
        const secondResult = second.result();
        await h.drive(secondResult);
        const outputs = await secondResult;
        expect(h.problems).toEqual([]);
        expect(h.maxRunning).toBeLessThanOrEqual(shape.maxConcurrency);
        for (const id of saved) expect([id, h.starts.get(id)]).toEqual([id, startsBefore.get(id)]);
        shape.after.forEach((_, i) => expect(outputs[`n${i}`]).toEqual(h.expected(i)));
      }),
      { numRuns: 150 },
    );
  });

  it("a node that runs out of attempts stops the run (nothing starts after it), or with continueOnError lets every branch it does not feed finish", async () => {
    await fc.assert(
      fc.asyncProperty(shapes, fc.boolean(), async (shape, continueOnError) => {
        const h = new Harness(shape);
        h.doomed = true;
        const ids = shape.after.map((_, i) => `n${i}`);
        const elements = Array.from({ length: shape.items }, (_, k) => `n${shape.mapAt}[${k}]`);
        // Doomed: an activation that never succeeds, a map node with such an element, and every node after one.
        const doomed = new Set<string>();
        shape.after.forEach((after, i) => {
          const own = i === shape.mapAt ? elements.some((e) => h.failsOf(e) === Infinity) : h.failsOf(`n${i}`) === Infinity;
          if (own || after.some((d) => doomed.has(`n${d}`)) || (i === shape.mapAt && doomed.has("n0"))) doomed.add(`n${i}`);
        });
        const store = new MemoryStore();
        const handle = run(h.graph(), undefined, { store, runId: "audit-doom", maxConcurrency: shape.maxConcurrency, retry, continueOnError });
        let failedAt = -1;
        let startsAfterFailure = 0;
        handle.events.on("node:error", () => {
          if (failedAt < 0) failedAt = 1;
        });
        handle.events.on("node:start", () => {
          if (failedAt >= 0) startsAfterFailure += 1;
        });
        const result = handle.result();
        await h.drive(result);
        const error = await result.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(h.maxRunning).toBeLessThanOrEqual(shape.maxConcurrency);
        if (doomed.size === 0) {
          expect(error).toBeUndefined();
          return;
        }
        expect(error).toBeInstanceOf(NodeFailedError);
        const status = new Map((await getRun("audit-doom", { store })).nodes.map((n) => [n.id, n.status]));
        if (continueOnError) {
          for (const id of ids) if (!doomed.has(id)) expect([id, status.get(id)]).toEqual([id, "succeeded"]);
        } else {
          expect(startsAfterFailure).toBe(0);
        }
        for (const id of ids) if (doomed.has(id)) expect([id, status.get(id)]).not.toEqual([id, "succeeded"]);
      }),
      { numRuns: 150 },
    );
  });
});
