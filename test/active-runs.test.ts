/**
 * The registry of runs driven in this thread (`src/runner/active-runs.ts`):
 * found by run id and store location, the location asked only when a look
 * needs it.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LowdbStore, MemoryStore } from "../src/index.js";
import { acquiringRun, activeRun, activeRunCount, registerAcquiring, registerActiveRun, type ActiveRun } from "../src/runner/active-runs.js";
import type { RunStore } from "../src/persistence/run-store.js";

const live = (): ActiveRun => ({ deliver: async () => true, stopped: Promise.resolve() });

/** A store whose `location` getter counts how often it is asked. */
function countingStore(location: string): { store: RunStore; asked: () => number } {
  let asked = 0;
  const store = Object.create(new MemoryStore(), {
    location: {
      get() {
        asked += 1;
        return location;
      },
    },
  }) as RunStore;
  return { store, asked: () => asked };
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("active runs", () => {
  it("a run start asks its store's location nothing (a fresh LowdbStore would resolve its folder's real path)", () => {
    const { store, asked } = countingStore("lowdb:/nowhere");
    const before = activeRunCount();
    const acquired = registerAcquiring(store, "r-count");
    const unregister = registerActiveRun(store, "r-count", live());
    acquired();
    expect(activeRunCount()).toBe(before + 1);
    expect(activeRun(store, "r-count")).toBeDefined();
    unregister();
    expect(activeRunCount()).toBe(before);
    expect(asked()).toBe(0);
  });

  it("another store object on the same location finds the run; one elsewhere, or a location-less store, does not", () => {
    const a = countingStore("lowdb:/same");
    const b = countingStore("lowdb:/same");
    const c = countingStore("lowdb:/other");
    const memory = new MemoryStore();
    const run = live();
    const unregister = registerActiveRun(a.store, "r-loc", run);
    try {
      expect(activeRun(b.store, "r-loc")).toBe(run);
      expect(activeRun("lowdb:/same", "r-loc")).toBe(run);
      expect(activeRun(c.store, "r-loc")).toBeUndefined();
      expect(activeRun(memory, "r-loc")).toBeUndefined();
      expect(activeRun(a.store, "r-other")).toBeUndefined();
    } finally {
      unregister();
    }
    expect(activeRun(b.store, "r-loc")).toBeUndefined();
  });

  it("a second registration of one run at one location replaces the first, whose unregister is then a no-op", () => {
    const a = countingStore("lowdb:/twice");
    const b = countingStore("lowdb:/twice");
    const before = activeRunCount();
    const first = live();
    const second = live();
    const unregisterFirst = registerActiveRun(a.store, "r-twice", first);
    const unregisterSecond = registerActiveRun(b.store, "r-twice", second);
    expect(activeRunCount()).toBe(before + 1);
    expect(activeRun(a.store, "r-twice")).toBe(second);
    unregisterFirst();
    expect(activeRun(b.store, "r-twice")).toBe(second);
    unregisterSecond();
    expect(activeRun(a.store, "r-twice")).toBeUndefined();
    expect(activeRunCount()).toBe(before);
  });

  it("two drivers taking one run's lease at one location: a waiter is woken once both are done", async () => {
    const a = countingStore("lowdb:/acq");
    const b = countingStore("lowdb:/acq");
    const doneA = registerAcquiring(a.store, "r-acq");
    const doneB = registerAcquiring(b.store, "r-acq");
    let woken = false;
    const waiting = acquiringRun("lowdb:/acq", "r-acq")!.then(() => (woken = true));
    doneA();
    doneA();
    await Promise.resolve();
    expect(woken).toBe(false);
    doneB();
    await waiting;
    expect(woken).toBe(true);
    expect(acquiringRun(a.store, "r-acq")).toBeUndefined();
  });

  it("a run registered while its store folder did not exist yet is found through the folder's real path once it does", () => {
    const root = mkdtempSync(join(tmpdir(), "taskloom-active-"));
    dirs.push(root);
    const real = join(root, "real");
    const link = join(root, "link");
    symlinkSync(real, link);
    // The link dangles: the store's location is its path until the folder exists.
    const driver = new LowdbStore({ dir: link });
    const done = registerAcquiring(driver, "r-late");
    mkdirSync(real);
    const webhook = new LowdbStore({ dir: real });
    try {
      // Before, the entry kept the location of its registration ("lowdb:<link>"), and a look from the folder
      // itself missed the driver taking the lease.
      expect(acquiringRun(webhook, "r-late")).toBeDefined();
    } finally {
      done();
    }
    expect(acquiringRun(webhook, "r-late")).toBeUndefined();
  });
});
