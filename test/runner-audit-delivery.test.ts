/**
 * Audit: `resolveWait` in the thread that is starting the run. The driver's
 * lease may be visible in the store before the store's `acquireLease`
 * returns to it (a store that writes the lease, then syncs): a delivery in
 * that window finds the lease held by this very process and no run
 * registered yet. The event must not be refused (`RunLockedError`): the
 * run waits for it, and it is delivered once the run is live.
 */
import { describe, expect, it } from "vitest";
import { GraphHasPendingWaits, InputValidationError, MemoryStore, getRun, graph, resolveWait, run, runAsync } from "../src/index.js";
import type { Lease, LeaseRequest } from "../src/persistence/run-store.js";
import { DELIVERY_OWNER_PREFIX } from "../src/runner/delivery-lease.js";
import { deferred, rejection, until } from "./support/async.js";

/** A MemoryStore whose driver lease, once armed, is taken at once and returned only when `release` is called. */
class SlowLeaseStore extends MemoryStore {
  armed = false;
  taken = false;
  readonly #gate = deferred();
  release(): void {
    this.#gate.resolve();
  }
  override async acquireLease(runId: string, request: LeaseRequest): Promise<Lease> {
    const lease = await super.acquireLease(runId, request);
    if (this.armed && !request.owner.startsWith(DELIVERY_OWNER_PREFIX)) {
      this.armed = false;
      this.taken = true;
      await this.#gate.promise;
    }
    return lease;
  }
}

const review = graph("review")
  .node("ask", ({ waitFor }) => waitFor<string>("ok"))
  .node("ship", ({ deps }) => `shipped ${deps.ask}`, { after: ["ask"] })
  .build();

describe("resolveWait while this thread takes the run's lease", () => {
  it("is not refused: the event reaches the run once it is live", async () => {
    const store = new SlowLeaseStore();
    expect(await rejection(runAsync(review, undefined, { runId: "slow-lease", store }))).toBeInstanceOf(GraphHasPendingWaits);
    store.armed = true;
    const handle = run(review, undefined, { runId: "slow-lease", store });
    await until(() => store.taken, "the driver to take the lease");
    const delivered = resolveWait("slow-lease", "ok", "yes", { store }).then(
      () => "delivered",
      (error: unknown) => error,
    );
    // Let the delivery meet the held lease before the driver goes on.
    await new Promise<void>((resolve) => setImmediate(resolve));
    store.release();
    expect(await delivered).toBe("delivered");
    expect(await handle.result()).toEqual({ ask: "yes", ship: "shipped yes" });
    expect((await getRun("slow-lease", { store })).status).toBe("succeeded");
  });
});

describe("resolveWait refuses a payload that cannot be stored, saying why", () => {
  class Point {
    x = 1;
  }
  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;
  const sparse: number[] = [1];
  sparse[2] = 3;
  const cases: [string, unknown, string][] = [
    ["a sparse array", sparse, "a sparse array (a hole at [1])"],
    ["a nested function", { f: () => 1 }, "a function at .f"],
    ["a class instance", new Point(), "an instance of Point"],
    ["a cycle", cycle, "a cycle at .self"],
    ["a symbol-keyed property", { [Symbol("k")]: 1 }, "a symbol-keyed property"],
  ];
  for (const [what, payload, reason] of cases) {
    it(`${what}: InputValidationError naming it, nothing written (stored run and live run)`, async () => {
      const store = new MemoryStore();
      expect(await rejection(runAsync(review, undefined, { runId: "bad-payload", store }))).toBeInstanceOf(GraphHasPendingWaits);
      const stored = await rejection(resolveWait("bad-payload", "ok", payload, { store }));
      expect(stored).toBeInstanceOf(InputValidationError);
      expect((stored as Error).message).toContain(reason);
      expect((await store.load("bad-payload"))?.state.meta.inbox).toBeUndefined();

      // Live: refused the same way, and the node keeps waiting for a good one.
      const handle = run(review, undefined, { runId: "bad-payload", store });
      let live: unknown;
      handle.events.on("node:wait", () => {
        void resolveWait("bad-payload", "ok", payload, { store })
          .then(
            () => "accepted",
            (error: unknown) => error,
          )
          .then((answer) => {
            live = answer;
            return resolveWait("bad-payload", "ok", "fine", { store });
          });
      });
      expect(await handle.result()).toEqual({ ask: "fine", ship: "shipped fine" });
      expect(live).toBeInstanceOf(InputValidationError);
      expect((live as Error).message).toContain(reason);
    });
  }
});

describe("resolveWait with the wait's own schema, when the schema transforms", () => {
  /** Takes a string, gives its length: parsing its own output again fails. */
  const lengthOf = {
    parse(value: unknown): number {
      if (typeof value !== "string") throw new Error("expected a string");
      return value.length;
    },
  };
  const measured = graph("measured")
    .node("ask", ({ waitFor }) => waitFor<number>("text", { schema: lengthOf }))
    .build();

  it("stored: the node gets the schema's output of the payload sent, not a parse of a parse", async () => {
    const store = new MemoryStore();
    expect(await rejection(runAsync(measured, undefined, { runId: "schema-stored", store }))).toBeInstanceOf(GraphHasPendingWaits);
    await resolveWait<unknown>("schema-stored", "text", "abcd", { store, schema: lengthOf });
    expect(await runAsync(measured, undefined, { runId: "schema-stored", store })).toEqual({ ask: 4 });
  });

  it("live: the same, and the event is not refused", async () => {
    const store = new MemoryStore();
    const handle = run(measured, undefined, { runId: "schema-live", store });
    let answer: unknown;
    handle.events.on("node:wait", () => {
      void resolveWait<unknown>("schema-live", "text", "abcd", { store, schema: lengthOf }).then(
        () => (answer = "delivered"),
        (error: unknown) => {
          answer = error;
          return resolveWait("schema-live", "text", "abcd", { store });
        },
      );
    });
    expect(await handle.result()).toEqual({ ask: 4 });
    expect(answer).toBe("delivered");
  });

  it("a payload the schema refuses is still refused, nothing written", async () => {
    const store = new MemoryStore();
    expect(await rejection(runAsync(measured, undefined, { runId: "schema-bad", store }))).toBeInstanceOf(GraphHasPendingWaits);
    expect(await rejection(resolveWait<unknown>("schema-bad", "text", 12, { store, schema: lengthOf }))).toBeInstanceOf(InputValidationError);
    expect((await store.load("schema-bad"))?.state.meta.inbox).toBeUndefined();
  });
});
