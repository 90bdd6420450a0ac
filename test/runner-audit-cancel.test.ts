/**
 * Audit: `cancelRun` on a run this thread drives, when the cancel reaches
 * the session before its engine runs (it is loading the run) or after the
 * engine stopped (it is saving the run as `waiting`): the cancel must not
 * be lost, the run ends saved `cancelled`.
 */
import { describe, expect, it } from "vitest";
import { GraphHasPendingWaits, MemoryStore, RunCancelledError, cancelRun, getRun, graph, run, runAsync } from "../src/index.js";
import { deferred, rejection, until } from "./support/async.js";

/**
 * A MemoryStore whose next `load` (once armed) waits until the load after
 * it has returned and the event loop turned (by then `cancelRun`, which
 * made that load, has called the session's `cancel`).
 */
class GatedStore extends MemoryStore {
  armed = false;
  hit = false;
  readonly #gate = deferred();
  override async load(...args: Parameters<MemoryStore["load"]>): ReturnType<MemoryStore["load"]> {
    if (this.armed) {
      this.armed = false;
      this.hit = true;
      await this.#gate.promise;
    } else if (this.hit) {
      setImmediate(() => this.#gate.resolve());
    }
    return super.load(...args);
  }
}

const waiting = graph("waits")
  .node("ask", ({ waitFor }) => waitFor<string>("ok"))
  .build();

describe("cancelRun racing a session of this thread", () => {
  it("a cancel that reaches a resume while it loads the run is saved: the run is cancelled, not left waiting", async () => {
    const store = new GatedStore();
    expect(await rejection(runAsync(waiting, undefined, { runId: "c-prep", store }))).toBeInstanceOf(GraphHasPendingWaits);
    store.armed = true;
    const handle = run(waiting, undefined, { runId: "c-prep", store });
    await until(() => store.hit, "the resume to load the run");
    const cancelled = cancelRun("c-prep", { store, reason: "stop it" });
    const result = await cancelled;
    expect(await rejection(handle.result())).toBeInstanceOf(RunCancelledError);
    expect(result.status).toBe("cancelled");
    expect((await getRun("c-prep", { store })).status).toBe("cancelled");
  });

  it("a cancel that reaches a run as it saves itself waiting is saved: the run is cancelled, not left waiting", async () => {
    const store = new MemoryStore();
    const handle = run(waiting, undefined, { runId: "c-save", store });
    let cancelled: ReturnType<typeof cancelRun> | undefined;
    // Saved waiting, its lease not yet given back: the driver still answers for the run.
    handle.events.on("run:waiting", () => {
      cancelled = cancelRun("c-save", { store, reason: "stop it" });
    });
    expect(await rejection(handle.result())).toBeInstanceOf(GraphHasPendingWaits);
    await until(() => cancelled !== undefined, "the cancel");
    const result = await (cancelled as ReturnType<typeof cancelRun>);
    expect(result.status).toBe("cancelled");
    expect((await getRun("c-save", { store })).status).toBe("cancelled");
  });
});
