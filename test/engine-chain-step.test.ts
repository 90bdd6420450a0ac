/**
 * One step of a chain (issue 16, target 3): the node's result is written
 * and only then does its dependent start, whatever the store's speed; the
 * barrier's write starts without waiting for a turn of the event loop,
 * yet a long chain on a store that writes in microtasks still lets timers
 * and I/O in; and the `deps` a node gets is a plain object, however it is
 * built.
 */
import { describe, expect, it } from "vitest";
import { graph, MemoryStore, PersistenceError, runAsync, type GraphBuilder, type JournalRecord, type Lease } from "../src/index.js";
import { ForwardScheduler, type RunJournal } from "../src/index.js";
import { systemClock } from "../src/core/clock.js";
import { RunEvents } from "../src/events/run-events.js";
import { createRunState } from "../src/state/run-state.js";
import { rejection } from "./support/async.js";

type LooseBuilder = GraphBuilder<undefined, Record<string, unknown>, never>;
type Body = (ctx: { deps: Record<string, unknown> }) => unknown;

/** A chain n0 → n1 → … of `length` nodes; `body(i)` makes node i's body. */
function chain(length: number, body: (i: number) => Body): ReturnType<LooseBuilder["build"]> {
  let b = (graph("chain") as unknown as LooseBuilder).node("n0", body(0));
  for (let i = 1; i < length; i++) b = b.node(`n${i}`, body(i), { after: [`n${i - 1}`] as never });
  return b.build();
}

/** A MemoryStore whose appends take a few milliseconds, and which notes each success once its append resolved. */
class SlowAppends extends MemoryStore {
  readonly stored = new Set<string>();
  override async append(runId: string, records: readonly JournalRecord[], lease?: Lease): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 2));
    await super.append(runId, records, lease);
    for (const r of records) if (r.kind === "node" && r.node.status === "succeeded") this.stored.add(r.node.id);
  }
}

/** Counts turns of the event loop (one `setImmediate` per turn) until stopped. */
function turnCounter(): { stop(): number } {
  let turns = 0;
  let on = true;
  const tick = (): void => {
    if (!on) return;
    turns += 1;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop: () => {
      on = false;
      return turns;
    },
  };
}

describe("a chain step", () => {
  it("starts a dependent only once its parent's append resolved, on a store whose append is slow", async () => {
    const store = new SlowAppends();
    const early: string[] = [];
    const g = chain(25, (i) => () => {
      if (i > 0 && !store.stored.has(`n${i - 1}`)) early.push(`n${i}`);
      return i;
    });
    await runAsync(g, undefined, { store, runId: "slow-chain" });
    expect(early).toEqual([]);
    // The last node is a leaf: its record goes with the next write, an append or the final snapshot.
    expect(store.stored.size).toBeGreaterThanOrEqual(24);
  });

  it("does the same when several barriers wait while a write is in flight (20 pairs a→b, concurrency 3)", async () => {
    const store = new SlowAppends();
    const early: string[] = [];
    let b = graph("pairs") as unknown as LooseBuilder;
    for (let i = 0; i < 20; i++) {
      b = b.node(`a${i}`, async () => i);
      b = b.node(
        `b${i}`,
        () => {
          if (!store.stored.has(`a${i}`)) early.push(`b${i}`);
          return i;
        },
        { after: [`a${i}`] as never },
      );
    }
    await runAsync(b.build(), undefined, { store, runId: "pairs", maxConcurrency: 3 });
    expect(early).toEqual([]);
  });

  it("takes no turn of the event loop when the store writes in microtasks (600 steps on MemoryStore)", async () => {
    const g = chain(600, (i) => async () => i);
    const turns = turnCounter();
    await runAsync(g, undefined, { store: new MemoryStore(), runId: "quick-chain" });
    // Each step waited for a turn before its write once: some 600 turns.
    const n = turns.stop();
    expect(n).toBeLessThan(60);
  });

  it("still lets the event loop turn every 1,024 writes (3,000 steps on MemoryStore)", async () => {
    const g = chain(3_000, (i) => async () => i);
    let timerFired = false;
    const timer = setTimeout(() => (timerFired = true), 0);
    const turns = turnCounter();
    const immediateSeen = new Promise<boolean>((resolve) => setImmediate(() => resolve(true)));
    let doneBeforeImmediate = true;
    void immediateSeen.then(() => (doneBeforeImmediate = false));
    await runAsync(g, undefined, { store: new MemoryStore(), runId: "long-chain" });
    clearTimeout(timer);
    expect(turns.stop()).toBeGreaterThanOrEqual(2);
    expect(doneBeforeImmediate).toBe(false);
    expect(timerFired).toBe(true);
  });

  it("fails the run with PersistenceError when the store's append throws before returning a promise", async () => {
    class ThrowingAppends extends MemoryStore {
      override append(runId: string, records: readonly JournalRecord[], lease?: Lease): Promise<void> {
        if (records.some((r) => r.kind === "node" && r.node.id === "n2" && r.node.status === "succeeded")) {
          throw Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
        }
        return super.append(runId, records, lease);
      }
    }
    const ran: number[] = [];
    const g = chain(6, (i) => () => {
      ran.push(i);
      return i;
    });
    const error = await rejection(runAsync(g, undefined, { store: new ThrowingAppends(), runId: "eio" }));
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as Error).cause).toMatchObject({ code: "EIO" });
    // n3 reads n2's result, which was never stored: it never starts.
    expect(ran).toEqual([0, 1, 2]);
  });
});

describe("deps", () => {
  it("is a plain object with exactly the after nodes' outputs, in a chain, at a join and in a fan-out", async () => {
    const seen = new Map<string, Record<string, unknown>>();
    const keep =
      (id: string, value: unknown): Body =>
      ({ deps }) => {
        seen.set(id, deps);
        return value;
      };
    let b = (graph("shapes") as unknown as LooseBuilder).node("root", keep("root", 1));
    b = b.node("c1", keep("c1", 2), { after: ["root"] as never });
    b = b.node("c2", keep("c2", 3), { after: ["c1"] as never });
    for (let i = 0; i < 4; i++) b = b.node(`f${i}`, keep(`f${i}`, 10 + i), { after: ["root"] as never });
    b = b.node("join", keep("join", 0), { after: ["c2", "f0", "f3"] as never });
    await runAsync(b.build(), undefined, { store: new MemoryStore(), runId: "shapes", maxConcurrency: 2 });
    const expected: Record<string, Record<string, unknown>> = {
      root: {},
      c1: { root: 1 },
      c2: { c1: 2 },
      f0: { root: 1 },
      f1: { root: 1 },
      f2: { root: 1 },
      f3: { root: 1 },
      join: { c2: 3, f0: 10, f3: 13 },
    };
    for (const [id, deps] of Object.entries(expected)) {
      const got = seen.get(id);
      expect(got, id).toStrictEqual(deps);
      expect(Object.getPrototypeOf(got), id).toBe(Object.prototype);
      expect(Object.keys(got ?? {}), id).toEqual(Object.keys(deps));
      // eslint-disable-next-line no-prototype-builtins -- the point: deps inherits from Object.prototype
      for (const key of Object.keys(deps)) expect(got?.hasOwnProperty(key), `${id}.${key}`).toBe(true);
      expect(JSON.stringify(got), id).toBe(JSON.stringify(deps));
    }
  });
});

describe("a journal with barrier() only (no whenDurable)", () => {
  it("still starts a dependent only once the barrier after its parent's success resolved", async () => {
    const g = chain(8, (i) => () => i);
    const state = createRunState({ runId: "bare", graphName: g.name, fingerprint: g.fingerprint, inputs: undefined, nodeIds: g.order, now: 0 });
    const log: string[] = [];
    let pending: string[] = [];
    const journal: RunJournal = {
      put: (record) => {
        if (record.status === "succeeded") pending.push(record.id);
      },
      revise: () => {},
      barrier: async () => {
        const covered = pending;
        pending = [];
        await new Promise((resolve) => setTimeout(resolve, 1));
        for (const id of covered) log.push(`durable ${id}`);
      },
    };
    const events = new RunEvents();
    events.on("node:start", (e) => log.push(`start ${e.nodeId}`));
    const engine = new ForwardScheduler(g, state, undefined, journal, events, {
      maxConcurrency: 2,
      continueOnError: false,
      clock: systemClock,
      random: Math.random,
    });
    const outcome = await engine.execute();
    expect(outcome.status).toBe("succeeded");
    // Each step's record made durable (present: an absent one, -1, would pass the order check) before its dependent starts.
    for (let i = 1; i < 8; i++) {
      const durable = log.indexOf(`durable n${i - 1}`);
      expect(durable, `n${i - 1} made durable`).toBeGreaterThanOrEqual(0);
      expect(durable, `n${i}`).toBeLessThan(log.indexOf(`start n${i}`));
    }
  });
});
