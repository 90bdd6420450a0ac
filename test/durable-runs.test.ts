/**
 * Durable runs, in process, through the public API: group commit (a
 * result is stored before anything that depends on it starts), resume
 * semantics (succeeded, failed, cancelled, changed graph, changed inputs),
 * outputs that cannot be stored, superjson round trips across store
 * instances, leases and their renewal, store faults, snapshot policies,
 * run management, and journal compaction.
 *
 * A second `LowdbStore` on the same folder stands in for another process
 * reading the run. Time is a `ManualClock` where it matters; nothing
 * sleeps: node bodies wait on gates the test resolves.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  GraphChangedError,
  InvalidOptionError,
  LowdbStore,
  ManualClock,
  MemoryStore,
  NodeFailedError,
  NonRetryableError,
  PersistenceError,
  RunCancelledError,
  RunInputsMismatchError,
  RunLockedError,
  RunNotFoundError,
  SnapshotCorruptError,
  TaskGraph,
  deleteRun,
  getRun,
  graph,
  listRuns,
  run,
  runAsync,
  type JournalRecord,
  type Lease,
  type LeaseRequest,
  type NodeDefinition,
  type NodeRecord,
  type RunEventMap,
  type RunQuery,
  type RunState,
  type RunStore,
  type RunSummary,
  type StoredRun,
} from "../src/index.js";
import type { SnapshotDocument } from "../src/persistence/replay.js";
import { nodeRecords } from "../src/state/node-table.js";
import { deferred, rejection } from "./support/async.js";
import { tempStores } from "./support/temp-stores.js";
import { readSnapshotDocument } from "./support/snapshot-file.js";
import { runFileJournal, runFileSnapshot } from "./support/run-file-journal.js";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const { tempDir, lowdb } = tempStores("taskloom-durable-");

/** The options of the stores of the tests that read or damage a run folder's files (`runs/<runId>/`). */
const FOLDERS = { layout: "folders" } as const;

/** Counts node body calls by node id. */
function counter() {
  const calls: Record<string, number> = {};
  return {
    calls,
    hit: (id: string): void => {
      calls[id] = (calls[id] ?? 0) + 1;
    },
    reset: (): void => {
      for (const k of Object.keys(calls)) delete calls[k];
    },
  };
}

/**
 * `promise`, or a rejection naming `what` when it has not settled after
 * `ms` of real time: a broken runtime fails the test instead of hanging it.
 * Never a delay on the passing path.
 */
async function soon<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** One node record of a stored run, read through a fresh LowdbStore on `dir`. */
async function storedNodes(dir: string, runId: string): Promise<Map<string, NodeRecord>> {
  const loaded = await lowdb(dir).load(runId);
  if (!loaded) throw new Error(`run ${runId} is not stored in ${dir}`);
  return new Map([...nodeRecords(loaded.state.nodes)].map((n) => [n.id, n]));
}

function byId(nodes: Iterable<NodeRecord>): NodeRecord[] {
  return [...nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function errnoError(code: string, message: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(message);
  error.code = code;
  return error;
}

/** Hooks a {@link SpyStore} calls before passing a call on. */
interface SpyHooks {
  /** Before a write (append or snapshot) reaches the inner store; may delay or fail it. `records` are an append's. */
  beforeWrite?(kind: "append" | "writeSnapshot", records?: readonly JournalRecord[]): Promise<void> | void;
  /** After a renewal succeeded. */
  afterRenew?(lease: Lease): void;
}

/** A RunStore that counts calls and delegates to `inner`, with test hooks. */
class SpyStore implements RunStore {
  readonly inner: RunStore;
  readonly hooks: SpyHooks;
  readonly counts = { append: 0, writeSnapshot: 0, renewLease: 0 };

  constructor(inner: RunStore, hooks: SpyHooks = {}) {
    this.inner = inner;
    this.hooks = hooks;
  }

  async writeSnapshot(state: RunState, seq: number): Promise<void> {
    this.counts.writeSnapshot += 1;
    await this.hooks.beforeWrite?.("writeSnapshot");
    await this.inner.writeSnapshot(state, seq);
  }

  async append(runId: string, records: readonly JournalRecord[]): Promise<void> {
    this.counts.append += 1;
    await this.hooks.beforeWrite?.("append", records);
    await this.inner.append(runId, records);
  }

  load(runId: string): Promise<StoredRun | undefined> {
    return this.inner.load(runId);
  }

  list(query?: RunQuery): Promise<RunSummary[]> {
    return this.inner.list(query);
  }

  delete(runId: string): Promise<boolean> {
    return this.inner.delete(runId);
  }

  acquireLease(runId: string, request: LeaseRequest): Promise<Lease> {
    return this.inner.acquireLease(runId, request);
  }

  async renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease> {
    this.counts.renewLease += 1;
    const renewed = await this.inner.renewLease(lease, ttlMs, now);
    this.hooks.afterRenew?.(renewed);
    return renewed;
  }

  releaseLease(lease: Lease): Promise<void> {
    return this.inner.releaseLease(lease);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

// ---------------------------------------------------------------------------
// 1. Group commit
// ---------------------------------------------------------------------------

describe("group commit: a result is durable before any dependent starts", () => {
  /** What a node body saw of its dependencies in a second store instance. */
  type Seen = Record<string, Record<string, { status: string; output: unknown } | undefined>>;

  /**
   * A store on `dir` whose writes wait while a probe reads, and a probe for
   * node bodies: it reads the run through a second LowdbStore instance.
   * Holding writes back while a body reads means a dependent that started
   * before its dependency's write would see the old state, whatever the
   * speed of the disk.
   */
  function probing(dir: string, runId: string, seen: Seen) {
    const reading = new Set<Promise<void>>();
    const store = new SpyStore(lowdb(dir), {
      async beforeWrite() {
        await Promise.all(reading);
      },
    });
    const look = (self: string, deps: readonly string[]): Promise<void> => {
      const read = (async () => {
        const nodes = await storedNodes(dir, runId);
        seen[self] = Object.fromEntries(
          deps.map((d) => {
            const n = nodes.get(d);
            return [d, n && { status: n.status, output: n.output }];
          }),
        );
      })();
      reading.add(read);
      return read.finally(() => reading.delete(read));
    };
    return { store, look };
  }

  it("in a chain a→b→c, each body finds its dependencies succeeded, with outputs, in another store instance", async () => {
    const dir = tempDir();
    const runId = "chain";
    const seen: Seen = {};
    const { store, look } = probing(dir, runId, seen);
    const g = graph("chain")
      .node("a", () => ({ v: 1, at: new Date(1_000) }))
      .node(
        "b",
        async ({ deps }) => {
          await look("b", ["a"]);
          return deps.a.v + 1;
        },
        { after: ["a"] },
      )
      .node(
        "c",
        async ({ deps }) => {
          await look("c", ["a", "b"]);
          return deps.b * 10;
        },
        { after: ["b"] },
      )
      .build();

    await expect(runAsync(g, undefined, { store, runId })).resolves.toMatchObject({ c: 20 });
    expect(seen).toEqual({
      b: { a: { status: "succeeded", output: { v: 1, at: new Date(1_000) } } },
      c: {
        a: { status: "succeeded", output: { v: 1, at: new Date(1_000) } },
        b: { status: "succeeded", output: 2 },
      },
    });
  });

  it("in a fan-out root→(x, y)→join, each body finds its dependencies succeeded in another store instance", async () => {
    const dir = tempDir();
    const runId = "fan";
    const seen: Seen = {};
    const { store, look } = probing(dir, runId, seen);
    const g = graph("fan")
      .node("root", () => [1, 2, 3])
      .node(
        "x",
        async ({ deps }) => {
          await look("x", ["root"]);
          return deps.root.length;
        },
        { after: ["root"] },
      )
      .node(
        "y",
        async ({ deps }) => {
          await look("y", ["root"]);
          return new Set(deps.root);
        },
        { after: ["root"] },
      )
      .node(
        "join",
        async ({ deps }) => {
          await look("join", ["root", "x", "y"]);
          return deps.x + deps.y.size;
        },
        { after: ["x", "y"] },
      )
      .build();

    await expect(runAsync(g, undefined, { store, runId })).resolves.toMatchObject({ join: 6 });
    const root = { status: "succeeded", output: [1, 2, 3] };
    expect(seen).toEqual({
      x: { root },
      y: { root },
      join: { root, x: { status: "succeeded", output: 3 }, y: { status: "succeeded", output: new Set([1, 2, 3]) } },
    });
  });

  it("after each snapshot event, every node reported succeeded before that write is stored as succeeded", async () => {
    const dir = tempDir();
    const runId = "snapshots";
    /** node:success events received so far (id → output). */
    const reported = new Map<string, unknown>();
    /** What had been reported when the write in flight was handed to the store. */
    let inFlight = new Map<string, unknown>();
    /** The check of the last write; the next write waits for it so the reader never races a compaction. */
    let lastCheck: Promise<void> = Promise.resolve();
    const problems: string[] = [];
    let checks = 0;
    let nonEmptyChecks = 0;

    const spy = new SpyStore(lowdb(dir), {
      async beforeWrite() {
        await lastCheck;
      },
    });
    // Capture synchronously, when the observer hands the write over, not after the hook's await.
    const capture =
      <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
      (...args: A): Promise<void> => {
        inFlight = new Map(reported);
        return fn(...args);
      };
    spy.append = capture(spy.append.bind(spy));
    spy.writeSnapshot = capture(spy.writeSnapshot.bind(spy));

    const leaves = Array.from({ length: 16 }, (_, i) => `leaf${i}`);
    const g = new TaskGraph({
      name: "snapshots",
      nodes: [
        { id: "root", after: [], fn: () => 0 },
        ...leaves.map((id, i): NodeDefinition => ({
          id,
          after: ["root"],
          fn: async () => {
            // Finish at different turns of the event loop, so completions interleave with writes.
            for (let t = 0; t < i % 5; t++) await new Promise<void>((r) => setImmediate(r));
            return i;
          },
        })),
        { id: "join", after: leaves, fn: ({ deps }) => Object.values(deps).reduce<number>((s, v) => s + (v as number), 0) },
      ],
    });

    const handle = run(g, undefined, { store: spy, runId, maxConcurrency: 4 });
    handle.events.on("node:success", (e) => void reported.set(e.nodeId, e.output));
    handle.events.on("snapshot", () => {
      const expected = inFlight;
      checks += 1;
      const write = checks;
      if (expected.size > 0) nonEmptyChecks += 1;
      lastCheck = (async () => {
        const nodes = await storedNodes(dir, runId);
        for (const [id, output] of expected) {
          const n = nodes.get(id);
          if (n?.status !== "succeeded") problems.push(`${id} was reported succeeded before write ${write} but is stored as ${n?.status}`);
          else if (!Object.is(n.output, output)) problems.push(`${id} is stored with output ${String(n.output)}, reported ${String(output)}`);
        }
      })().catch((error: unknown) => void problems.push(String(error)));
    });

    await expect(handle.result()).resolves.toMatchObject({ join: 120 });
    await lastCheck;
    expect(problems).toEqual([]);
    // Several writes were checked while the run went on, not only the start and the end.
    expect(nonEmptyChecks).toBeGreaterThanOrEqual(3);
    expect(checks).toBe(spy.counts.append + spy.counts.writeSnapshot);
  });
});

// ---------------------------------------------------------------------------
// 2. Resume semantics
// ---------------------------------------------------------------------------

describe("resume", () => {
  it("a succeeded run returns its stored outputs and runs no node", async () => {
    const dir = tempDir();
    const { calls, hit, reset } = counter();
    const g = graph("done")
      .input<{ n: number }>()
      .node("a", ({ inputs }) => {
        hit("a");
        return inputs.n * 2;
      })
      .node(
        "b",
        ({ deps }) => {
          hit("b");
          return { sum: deps.a + 1, at: new Date(5_000) };
        },
        { after: ["a"] },
      )
      .build();
    const first = await runAsync(g, { n: 2 }, { store: lowdb(dir), runId: "done" });
    expect(calls).toEqual({ a: 1, b: 1 });
    reset();

    const again = await runAsync(g, { n: 2 }, { store: lowdb(dir), runId: "done" });
    expect(again).toEqual(first);
    expect(again).toEqual({ a: 4, b: { sum: 5, at: new Date(5_000) } });
    expect(calls).toEqual({});
    expect((await getRun("done", { store: lowdb(dir) })).starts).toBe(1);
  });

  it("a failed run re-runs only the failed node and its dependents, keeps the other outputs, and succeeds", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    let failB = true;
    const seenByC: unknown[] = [];
    const g = graph("failed")
      .node("a", () => {
        hit("a");
        return "A";
      })
      .node("d", () => {
        hit("d");
        return "D";
      })
      .node(
        "b",
        ({ deps }) => {
          hit("b");
          if (failB) throw new NonRetryableError("b is broken today");
          return `${deps.a}B`;
        },
        { after: ["a"] },
      )
      .node(
        "c",
        ({ deps }) => {
          hit("c");
          seenByC.push(deps.b);
          return `${deps.b}C`;
        },
        { after: ["b"] },
      )
      .build();

    const error = await rejection(runAsync(g, undefined, { store: lowdb(dir), runId: "failed" }));
    expect(error).toBeInstanceOf(NodeFailedError);
    expect(error).toMatchObject({ code: "NODE_FAILED", nodeId: "b", attempts: 1 });
    expect(calls).toEqual({ a: 1, d: 1, b: 1 });

    failB = false;
    const outputs = await runAsync(g, undefined, { store: lowdb(dir), runId: "failed" });
    expect(outputs).toEqual({ a: "A", d: "D", b: "AB", c: "ABC" });
    expect(calls).toEqual({ a: 1, d: 1, b: 2, c: 1 });
    expect(seenByC).toEqual(["AB"]);

    const details = await getRun("failed", { store: lowdb(dir) });
    expect(details.status).toBe("succeeded");
    expect(details.starts).toBe(2);
    const nodes = new Map(details.nodes.map((n) => [n.id, n]));
    expect(nodes.get("a")).toMatchObject({ status: "succeeded", output: "A", attempts: 1 });
    // A resume gives the failed node fresh attempts.
    expect(nodes.get("b")).toMatchObject({ status: "succeeded", output: "AB", attempts: 1 });
    expect(nodes.get("b")?.error).toBeUndefined();
  });

  it("a cancelled run resumes and does not re-run the nodes that had succeeded", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    const gate = deferred();
    const started = deferred();
    let firstRun = true;
    const g = graph("cancelled")
      .node("a", () => {
        hit("a");
        return 1;
      })
      .node("side", () => {
        hit("side");
        return "s";
      })
      .node(
        "slow",
        async ({ deps }) => {
          hit("slow");
          if (firstRun) {
            started.resolve();
            await gate.promise;
          }
          return deps.a + 1;
        },
        { after: ["a"] },
      )
      .node(
        "c",
        ({ deps }) => {
          hit("c");
          return deps.slow + 1;
        },
        { after: ["slow"] },
      )
      .build();

    const handle = run(g, undefined, { store: lowdb(dir), runId: "cancelled" });
    await soon(started.promise, "the node to start");
    handle.cancel("the operator pressed stop");
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(RunCancelledError);
    expect(error).toMatchObject({ code: "RUN_CANCELLED", reason: "the operator pressed stop" });
    gate.resolve();
    const stored = await storedNodes(dir, "cancelled");
    expect(stored.get("slow")?.status).toBe("cancelled");
    expect(stored.get("a")?.status).toBe("succeeded");
    expect(calls).toEqual({ a: 1, side: 1, slow: 1 });

    firstRun = false;
    await expect(runAsync(g, undefined, { store: lowdb(dir), runId: "cancelled" })).resolves.toEqual({ a: 1, side: "s", slow: 2, c: 3 });
    expect(calls).toEqual({ a: 1, side: 1, slow: 2, c: 1 });
    expect((await getRun("cancelled", { store: lowdb(dir) })).status).toBe("succeeded");
  });

  describe("a changed graph", () => {
    function graphs() {
      const { calls, hit } = counter();
      const flags = { failB: true };
      const base = graph("changing")
        .node("a", () => {
          hit("a");
          return 1;
        })
        .node(
          "b",
          ({ deps }) => {
            hit("b");
            if (flags.failB) throw new NonRetryableError("not yet");
            return deps.a + 1;
          },
          { after: ["a"] },
        );
      const c = () => {
        hit("c");
        return "c";
      };
      return {
        calls,
        flags,
        v1: base.node("c", c).build(),
        withEdge: base.node("c", c, { after: ["a"] }).build(),
        withNode: base
          .node("c", c)
          .node(
            "extra",
            ({ deps }) => {
              hit("extra");
              return deps.a * 100;
            },
            { after: ["a"] },
          )
          .build(),
      };
    }

    it("is refused with GraphChangedError when an edge or a node was added", async () => {
      const dir = tempDir();
      const { v1, withEdge, withNode, calls } = graphs();
      await expect(runAsync(v1, undefined, { store: lowdb(dir), runId: "gc" })).rejects.toBeInstanceOf(NodeFailedError);
      expect(calls).toEqual({ a: 1, b: 1, c: 1 });

      for (const changed of [withEdge, withNode]) {
        const error = await rejection(runAsync(changed, undefined, { store: lowdb(dir), runId: "gc" }));
        expect(error).toBeInstanceOf(GraphChangedError);
        expect(error).toMatchObject({
          code: "GRAPH_CHANGED",
          runId: "gc",
          storedFingerprint: v1.fingerprint,
          fingerprint: changed.fingerprint,
        });
      }
      expect(calls).toEqual({ a: 1, b: 1, c: 1 });
      expect((await getRun("gc", { store: lowdb(dir) })).fingerprint).toBe(v1.fingerprint);
    });

    it("resumes with allowGraphChange: the new node runs, old succeeded nodes do not", async () => {
      const dir = tempDir();
      const { v1, withNode, calls, flags } = graphs();
      await expect(runAsync(v1, undefined, { store: lowdb(dir), runId: "gc2" })).rejects.toBeInstanceOf(NodeFailedError);
      flags.failB = false;

      const outputs = await runAsync(withNode, undefined, { store: lowdb(dir), runId: "gc2", allowGraphChange: true });
      expect(outputs).toEqual({ a: 1, b: 2, c: "c", extra: 100 });
      expect(calls).toEqual({ a: 1, b: 2, c: 1, extra: 1 });
      const details = await getRun("gc2", { store: lowdb(dir) });
      expect(details.fingerprint).toBe(withNode.fingerprint);
      expect(details.nodes.find((n) => n.id === "extra")).toMatchObject({ status: "succeeded", output: 100 });
    });
  });

  it("refuses other inputs with RunInputsMismatchError, and resumes with the stored inputs when given none", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    let fail = true;
    const seen: unknown[] = [];
    const g = graph("inputs")
      .input<{ n: number; when: Date }>()
      .node("a", ({ inputs }) => {
        hit("a");
        return inputs.n;
      })
      .node(
        "b",
        ({ inputs, deps }) => {
          hit("b");
          seen.push(inputs);
          if (fail) throw new NonRetryableError("first time");
          return deps.a + inputs.n;
        },
        { after: ["a"] },
      )
      .build();
    const inputs = { n: 7, when: new Date(7_000) };
    await expect(runAsync(g, inputs, { store: lowdb(dir), runId: "in" })).rejects.toBeInstanceOf(NodeFailedError);

    for (const other of [
      { n: 8, when: new Date(7_000) },
      { n: 7, when: new Date(7_001) },
    ]) {
      const error = await rejection(runAsync(g, other, { store: lowdb(dir), runId: "in" }));
      expect(error).toBeInstanceOf(RunInputsMismatchError);
      expect(error).toMatchObject({ code: "RUN_INPUTS_MISMATCH", runId: "in" });
    }
    expect(calls).toEqual({ a: 1, b: 1 });

    // The same inputs with their keys in another order are the same inputs: the run resumes (and fails again).
    const reordered = { when: new Date(7_000), n: 7 };
    await expect(runAsync(g, reordered, { store: lowdb(dir), runId: "in" })).rejects.toBeInstanceOf(NodeFailedError);
    expect(calls).toEqual({ a: 1, b: 2 });

    fail = false;
    await expect(runAsync(g, undefined, { store: lowdb(dir), runId: "in" })).resolves.toEqual({ a: 7, b: 14 });
    expect(calls).toEqual({ a: 1, b: 3 });
    expect(seen).toHaveLength(3);
    expect(seen[2]).toEqual(inputs);
    expect((seen[2] as { when: unknown }).when).toBeInstanceOf(Date);
    expect((await getRun("in", { store: lowdb(dir) })).starts).toBe(3);
  });
});

// ---------------------------------------------------------------------------
// 3. Outputs that cannot be stored
// ---------------------------------------------------------------------------

describe("an output superjson cannot serialize", () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
    norm(): number {
      return Math.hypot(this.x, this.y);
    }
  }

  function ndGraph(flags: { failDown: boolean }, hit: (id: string) => void, downSaw: unknown[]) {
    return graph("not-durable")
      .node("a", () => {
        hit("a");
        return 3;
      })
      .node(
        "withFn",
        ({ deps }) => {
          hit("withFn");
          return { base: deps.a, times: (k: number) => deps.a * k };
        },
        { after: ["a"] },
      )
      .node("point", () => {
        hit("point");
        return new Point(3, 4);
      })
      .node(
        "down",
        ({ deps }) => {
          hit("down");
          downSaw.push(deps);
          if (flags.failDown) throw new NonRetryableError("down fails the first time");
          return deps.withFn.times(2) + deps.point.norm();
        },
        { after: ["withFn", "point"] },
      )
      .build();
  }

  it("does not break the run: a warning fires and the stored record says durable: false", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    const g = ndGraph({ failDown: false }, hit, []);
    const warnings: RunEventMap["warning"][] = [];
    const handle = run(g, undefined, { store: lowdb(dir), runId: "nd" });
    handle.events.on("warning", (w) => void warnings.push(w));

    const outputs = await handle.result();
    expect(outputs.down).toBe(11);
    expect(calls).toEqual({ a: 1, withFn: 1, point: 1, down: 1 });
    expect(warnings.map((w) => [w.nodeId, w.code]).sort()).toEqual([
      ["point", "OUTPUT_NOT_DURABLE"],
      ["withFn", "OUTPUT_NOT_DURABLE"],
    ]);
    expect(warnings.every((w) => w.runId === "nd" && typeof w.at === "number")).toBe(true);

    const stored = await storedNodes(dir, "nd");
    expect(stored.get("withFn")).toMatchObject({ status: "succeeded", durable: false });
    expect(stored.get("point")).toMatchObject({ status: "succeeded", durable: false });
    expect(stored.get("a")?.durable).toBeUndefined();
    expect(stored.get("down")).toMatchObject({ status: "succeeded", output: 11 });
    expect(stored.get("down")?.durable).toBeUndefined();
    expect((await getRun("nd", { store: lowdb(dir) })).status).toBe("succeeded");
  });

  it("runs again on resume while durable nodes do not", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    const flags = { failDown: true };
    const downSaw: unknown[] = [];
    const g = ndGraph(flags, hit, downSaw);
    const warnings: string[] = [];
    const handle = run(g, undefined, { store: lowdb(dir), runId: "nd2" });
    handle.events.on("warning", (w) => void warnings.push(`${w.nodeId}:${w.code}`));
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(NodeFailedError);
    expect(error).toMatchObject({ code: "NODE_FAILED", nodeId: "down" });
    expect(warnings.sort()).toEqual(["point:OUTPUT_NOT_DURABLE", "withFn:OUTPUT_NOT_DURABLE"]);
    expect(calls).toEqual({ a: 1, withFn: 1, point: 1, down: 1 });

    flags.failDown = false;
    const outputs = await runAsync(g, undefined, { store: lowdb(dir), runId: "nd2" });
    expect(outputs.down).toBe(11);
    expect(calls).toEqual({ a: 1, withFn: 2, point: 2, down: 2 });
    // The resumed downstream node got the live values of the re-run nodes, not stored husks.
    const deps = downSaw[1] as { withFn: { times: unknown }; point: unknown };
    expect(typeof deps.withFn.times).toBe("function");
    expect(deps.point).toBeInstanceOf(Point);
  });
});

// ---------------------------------------------------------------------------
// 4. superjson round trip through a resume
// ---------------------------------------------------------------------------

describe("superjson round trip", () => {
  interface Rich {
    readonly when: Date;
    readonly tags: Set<string>;
    readonly big: bigint;
    readonly missing: undefined;
    readonly nested: {
      readonly byKey: Map<string, { readonly d: Date; readonly s: Set<number>; readonly u: undefined }>;
      readonly deep: { readonly big: bigint; readonly list: readonly (Date | bigint | undefined)[] };
    };
  }

  const rich = (seed: number): Rich => ({
    when: new Date(Date.UTC(2024, 1, 29, 12, 0, seed)),
    tags: new Set(["x", `t${seed}`]),
    big: 12_345_678_901_234_567_890n + BigInt(seed),
    missing: undefined,
    nested: {
      byKey: new Map([[`k${seed}`, { d: new Date(seed * 1_000), s: new Set([seed, seed + 1]), u: undefined }]]),
      deep: { big: -BigInt(seed), list: [new Date(seed), BigInt(seed), undefined] },
    },
  });

  function checkRich(value: unknown, expected: Rich): void {
    expect(value).toStrictEqual(expected);
    const v = value as Rich;
    expect(v.when).toBeInstanceOf(Date);
    expect(v.tags).toBeInstanceOf(Set);
    expect(typeof v.big).toBe("bigint");
    expect(Object.prototype.hasOwnProperty.call(v, "missing")).toBe(true);
    expect(v.nested.byKey).toBeInstanceOf(Map);
    const entry = v.nested.byKey.values().next().value;
    expect(entry?.d).toBeInstanceOf(Date);
    expect(entry?.s).toBeInstanceOf(Set);
    expect(entry !== undefined && Object.prototype.hasOwnProperty.call(entry, "u")).toBe(true);
    expect(typeof v.nested.deep.big).toBe("bigint");
    expect(v.nested.deep.list[0]).toBeInstanceOf(Date);
    expect(typeof v.nested.deep.list[1]).toBe("bigint");
    expect(v.nested.deep.list).toHaveLength(3);
  }

  it("keeps Date, Map, Set, BigInt and undefined in inputs and outputs across a resume from a new store instance", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    let fail = true;
    const seen: { deps: unknown; inputs: unknown }[] = [];
    const g = graph("rich")
      .input<Rich>()
      .node("make", () => {
        hit("make");
        return rich(2);
      })
      .node(
        "use",
        ({ deps, inputs }) => {
          hit("use");
          seen.push({ deps: deps.make, inputs });
          if (fail) throw new NonRetryableError("not the first time");
          return { sum: deps.make.big + inputs.big, when: deps.make.when };
        },
        { after: ["make"] },
      )
      .build();
    const inputs = rich(1);

    await expect(runAsync(g, inputs, { store: lowdb(dir), runId: "rich" })).rejects.toBeInstanceOf(NodeFailedError);
    fail = false;
    // A new instance, as a new process would make: everything comes from the files.
    const outputs = await runAsync(g, undefined, { store: lowdb(dir), runId: "rich" });
    expect(calls).toEqual({ make: 1, use: 2 });
    checkRich(seen[1]?.deps, rich(2));
    checkRich(seen[1]?.inputs, rich(1));
    expect(outputs.use).toStrictEqual({ sum: rich(2).big + rich(1).big, when: rich(2).when });

    // The stored inputs still match the caller's original ones after their round trip.
    const again = await runAsync(g, rich(1), { store: lowdb(dir), runId: "rich" });
    expect(calls).toEqual({ make: 1, use: 2 });
    checkRich(again.make, rich(2));
    expect(typeof again.use.sum).toBe("bigint");
  });
});

// ---------------------------------------------------------------------------
// 5. Leases
// ---------------------------------------------------------------------------

describe("leases", () => {
  it("a second driver gets RunLockedError naming this process; after the first finishes, a new call works", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    const gate = deferred();
    const started = deferred();
    const g = graph("leased")
      .node("hold", async () => {
        hit("hold");
        started.resolve();
        await gate.promise;
        return "held";
      })
      .build();

    const first = runAsync(g, undefined, { store: lowdb(dir), runId: "leased" });
    await soon(started.promise, "the node to start");
    const error = await rejection(soon(runAsync(g, undefined, { store: lowdb(dir), runId: "leased" }), "the second driver"));
    expect(error).toBeInstanceOf(RunLockedError);
    const locked = error as RunLockedError;
    expect(locked.code).toBe("RUN_LOCKED");
    expect(locked.runId).toBe("leased");
    expect(locked.holder.pid).toBe(process.pid);
    expect(locked.holder.host).toBe(hostname());
    expect(calls).toEqual({ hold: 1 });

    gate.resolve();
    await expect(first).resolves.toEqual({ hold: "held" });
    await expect(runAsync(g, undefined, { store: lowdb(dir), runId: "leased" })).resolves.toEqual({ hold: "held" });
    expect(calls).toEqual({ hold: 1 });
  });

  it("is renewed while the run goes on: past several TTLs of clock time, a second driver is still refused", async () => {
    const dir = tempDir();
    const clock = new ManualClock(1_000_000);
    const gate = deferred();
    const started = deferred();
    const { calls, hit } = counter();
    let renewed = deferred<Lease>();
    const spy = new SpyStore(lowdb(dir), { afterRenew: (lease) => renewed.resolve(lease) });
    const g = graph("renewed")
      .node("hold", async () => {
        hit("hold");
        started.resolve();
        await gate.promise;
        return 1;
      })
      .build();

    const first = runAsync(g, undefined, { store: spy, runId: "renewed", clock, leaseTtlMs: 300 });
    await soon(started.promise, "the node to start");
    const start = clock.now();
    let lease: Lease | undefined;
    // 1,000 ms of clock time is more than three TTLs: without renewal the lease would have expired.
    for (let step = 0; step < 10; step++) {
      await clock.advance(100);
      lease = await soon(renewed.promise, `lease renewal ${step + 1}`);
      renewed = deferred<Lease>();
    }
    expect(clock.now() - start).toBe(1_000);
    expect(spy.counts.renewLease).toBe(10);
    expect(lease?.expiresAt).toBe(clock.now() + 300);

    const error = await rejection(soon(runAsync(g, undefined, { store: lowdb(dir), runId: "renewed", clock, leaseTtlMs: 300 }), "the second driver"));
    expect(error).toBeInstanceOf(RunLockedError);
    expect(error).toMatchObject({ code: "RUN_LOCKED", holder: { pid: process.pid, host: hostname(), expiresAt: clock.now() + 300 } });
    expect(calls).toEqual({ hold: 1 });

    gate.resolve();
    await expect(first).resolves.toEqual({ hold: 1 });
    expect(clock.pendingDelays()).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// 6. Faults
// ---------------------------------------------------------------------------

describe("faults", () => {
  it("a corrupt snapshot rejects with SnapshotCorruptError naming the file, and the file is left as it is", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    const g = graph("corrupt")
      .node("a", () => {
        hit("a");
        return { text: "x".repeat(200) };
      })
      .build();
    await runAsync(g, undefined, { store: lowdb(dir, FOLDERS), runId: "corrupt" });
    const file = join(dir, "runs", "corrupt", "snapshot.json");
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const before = readFileSync(file);

    const error = await rejection(runAsync(g, undefined, { store: lowdb(dir, FOLDERS), runId: "corrupt" }));
    expect(error).toBeInstanceOf(SnapshotCorruptError);
    expect(error).toMatchObject({ code: "SNAPSHOT_CORRUPT", file });
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(calls).toEqual({ a: 1 });
  });

  it("a store that fails mid-run rejects with PersistenceError; the last good snapshot loads and a resume finishes the run", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    const healthyAppends = 3;
    let appends = 0;
    const failing = new SpyStore(lowdb(dir), {
      beforeWrite(kind) {
        if (kind !== "append") return;
        appends += 1;
        if (appends > healthyAppends) throw errnoError("ENOSPC", "ENOSPC: no space left on device, write");
      },
    });
    const ids = ["a", "b", "c", "d", "e", "f"] as const;
    const nodes: NodeDefinition[] = ids.map((id, i) => ({
      id,
      after: i === 0 ? [] : [ids[i - 1] as string],
      fn: ({ deps }) => {
        hit(id);
        const prev = i === 0 ? "" : (deps[ids[i - 1] as string] as string);
        return prev + id;
      },
    }));
    const g = new TaskGraph({ name: "enospc", nodes });

    const error = await rejection(runAsync(g, undefined, { store: failing, runId: "enospc" }));
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error).toMatchObject({ code: "PERSISTENCE_FAILED", runId: "enospc" });
    expect((error as Error).cause).toMatchObject({ code: "ENOSPC" });
    expect(appends).toBe(healthyAppends + 1);
    const firstRun = { ...calls };

    // How many chain steps fit in three appends depends on how the observer batches; what
    // was stored must be a prefix of the chain, and the failed write lost a result.
    const stored = await storedNodes(dir, "enospc");
    const succeeded = ids.filter((id) => stored.get(id)?.status === "succeeded");
    expect(succeeded.length).toBeGreaterThanOrEqual(1);
    expect(succeeded).toEqual(ids.slice(0, succeeded.length));
    for (const id of succeeded) expect(stored.get(id)?.output).toBe(ids.slice(0, ids.indexOf(id) + 1).join(""));
    expect(Object.keys(firstRun).length).toBeGreaterThan(succeeded.length);
    expect(Object.keys(firstRun).length).toBeLessThan(ids.length);

    const outputs = await runAsync(g, undefined, { store: lowdb(dir), runId: "enospc" });
    expect(outputs).toEqual({ a: "a", b: "ab", c: "abc", d: "abcd", e: "abcde", f: "abcdef" });
    // Nodes whose success was stored ran once in all; every other node ran once more on resume.
    const expected = Object.fromEntries(ids.map((id) => [id, succeeded.includes(id) ? 1 : (firstRun[id] ?? 0) + 1]));
    expect(calls).toEqual(expected);
  });
});

// ---------------------------------------------------------------------------
// 7. Snapshot policies
// ---------------------------------------------------------------------------

describe("snapshot policies", () => {
  /** Lets the event loop turn a few times, so that writes could happen between nodes. */
  const turns = async (n = 3): Promise<void> => {
    for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
  };
  const diamond = () =>
    graph("policy")
      .node("a", async () => (await turns(), 1))
      .node("b", async ({ deps }) => (await turns(), deps.a + 1), { after: ["a"] })
      .node("c", async ({ deps }) => (await turns(), deps.a + 2), { after: ["a"] })
      .node("d", async ({ deps }) => (await turns(), deps.b + deps.c), { after: ["b", "c"] })
      .build();

  it('"end" writes a snapshot at the start and at the end, and appends nothing', async () => {
    const memory = new MemoryStore();
    const spy = new SpyStore(memory);
    const outputs = await runAsync(diamond(), undefined, { store: spy, runId: "end", snapshot: "end" });
    expect(outputs).toEqual({ a: 1, b: 2, c: 3, d: 5 });
    expect(spy.counts).toMatchObject({ append: 0, writeSnapshot: 2 });
    const details = await getRun("end", { store: memory });
    expect(details.status).toBe("succeeded");
    expect(details.nodes.every((n) => n.status === "succeeded")).toBe(true);

    // The default policy, for contrast, appends as nodes finish.
    const group = new SpyStore(new MemoryStore());
    await runAsync(diamond(), undefined, { store: group, runId: "group" });
    expect(group.counts.append).toBeGreaterThan(0);
  });

  it("{ intervalMs: 1000 } appends at most once per 1000 ms of clock time while nodes keep completing", async () => {
    const clock = new ManualClock(50_000);
    const appendTimes: number[] = [];
    const snapshotTimes: number[] = [];
    /** The run's final write: the status change that ends it, whether a snapshot or (as here, a short run) an append with the run meta. */
    const endTimes: number[] = [];
    const memory = new MemoryStore();
    const spy = new SpyStore(memory, {
      beforeWrite(kind, records) {
        const ends = kind === "writeSnapshot" ? snapshotTimes.length > 0 : records!.some((r) => r.kind === "run");
        (ends ? endTimes : kind === "append" ? appendTimes : snapshotTimes).push(clock.now());
      },
    });
    const count = 12;
    const gates = Array.from({ length: count }, () => deferred());
    const nodes: NodeDefinition[] = gates.map((gate, i) => ({
      id: `n${i}`,
      after: [],
      fn: async () => {
        await gate.promise;
        return i;
      },
    }));
    const g = new TaskGraph({ name: "interval", nodes });
    const handle = run(g, undefined, { store: spy, runId: "interval", clock, snapshot: { intervalMs: 1_000 }, maxConcurrency: count });
    let successes = 0;
    handle.events.on("node:success", () => void (successes += 1));

    await clock.advance(0);
    const start = clock.now();
    for (const gate of gates) {
      gate.resolve();
      await clock.advance(300);
    }
    await handle.result();
    expect(successes).toBe(count);
    expect(snapshotTimes).toEqual([start]);
    expect(endTimes).toHaveLength(1);
    // Twelve completions over 3,600 ms share a few appends, each at least 1,000 ms after the previous write.
    expect(appendTimes.length).toBeGreaterThanOrEqual(2);
    expect(appendTimes.length).toBeLessThan(count);
    const writes = [start, ...appendTimes];
    for (let i = 1; i < writes.length; i++) expect(writes[i]! - writes[i - 1]!).toBeGreaterThanOrEqual(1_000);
    const stored = await memory.load("interval");
    expect(stored?.state.meta.status).toBe("succeeded");
  });

  it("an invalid snapshot option throws InvalidOptionError synchronously from run()", () => {
    const store = new MemoryStore();
    const { calls, hit } = counter();
    const g = graph("invalid")
      .node("a", () => {
        hit("a");
        return 1;
      })
      .build();
    for (const snapshot of ["sometimes", { intervalMs: 0 }, { intervalMs: -5 }, { intervalMs: Number.NaN }, {}]) {
      let thrown: unknown;
      try {
        run(g, undefined, { store, runId: "invalid", snapshot: snapshot as never });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(snapshot)).toBeInstanceOf(InvalidOptionError);
      expect(thrown).toMatchObject({ code: "INVALID_OPTION", option: "snapshot" });
    }
    expect(calls).toEqual({});
  });
});

// ---------------------------------------------------------------------------
// 8. listRuns, getRun, deleteRun
// ---------------------------------------------------------------------------

describe("managing stored runs", () => {
  it("listRuns finds runs by status, newest first", async () => {
    const store = new MemoryStore();
    const g = graph("listed")
      .input<{ fail: boolean }>()
      .node("a", ({ inputs }) => {
        if (inputs.fail) throw new NonRetryableError("asked to fail");
        return 1;
      })
      .build();
    await runAsync(g, { fail: false }, { store, runId: "old-ok", clock: new ManualClock(1_000) });
    await expect(runAsync(g, { fail: true }, { store, runId: "mid-failed", clock: new ManualClock(2_000) })).rejects.toBeInstanceOf(NodeFailedError);
    await runAsync(g, { fail: false }, { store, runId: "new-ok", clock: new ManualClock(3_000) });
    await expect(runAsync(g, { fail: true }, { store, runId: "newest-failed", clock: new ManualClock(4_000) })).rejects.toBeInstanceOf(NodeFailedError);

    const ids = (runs: RunSummary[]) => runs.map((r) => r.runId);
    expect(ids(await listRuns({ status: "succeeded", store }))).toEqual(["new-ok", "old-ok"]);
    expect(ids(await listRuns({ status: "failed", store }))).toEqual(["newest-failed", "mid-failed"]);
    expect(ids(await listRuns({ status: ["failed", "succeeded"], store }))).toEqual(["newest-failed", "new-ok", "mid-failed", "old-ok"]);
    expect(ids(await listRuns({ status: "cancelled", store }))).toEqual([]);
    expect(await listRuns({ status: "succeeded", store })).toMatchObject([
      { runId: "new-ok", graphName: "listed", status: "succeeded", nodeCount: 1, settledCount: 1, updatedAt: 3_000 },
      { runId: "old-ok", status: "succeeded", updatedAt: 1_000 },
    ]);
  });

  it("listRuns on a LowdbStore sorts newest first too", async () => {
    const dir = tempDir();
    const g = graph("listed-lowdb")
      .input<{ fail: boolean }>()
      .node("a", ({ inputs }) => {
        if (inputs.fail) throw new NonRetryableError("asked to fail");
        return 1;
      })
      .build();
    await expect(runAsync(g, { fail: true }, { store: lowdb(dir), runId: "f1", clock: new ManualClock(1_000) })).rejects.toBeInstanceOf(NodeFailedError);
    await runAsync(g, { fail: false }, { store: lowdb(dir), runId: "s1", clock: new ManualClock(2_000) });
    await expect(runAsync(g, { fail: true }, { store: lowdb(dir), runId: "f2", clock: new ManualClock(3_000) })).rejects.toBeInstanceOf(NodeFailedError);
    const store = lowdb(dir);
    expect((await listRuns({ status: "failed", store })).map((r) => r.runId)).toEqual(["f2", "f1"]);
    expect((await listRuns({ status: "succeeded", store })).map((r) => r.runId)).toEqual(["s1"]);
  });

  it("getRun shows per-node status, attempts, outputs, errors and timing", async () => {
    const store = new MemoryStore();
    const g = graph("details")
      .node("ok", () => ({ v: 1 }))
      .node(
        "bad",
        () => {
          throw new Error("disk on fire");
        },
        { after: ["ok"], retry: { maxAttempts: 2, backoff: { initialMs: 0, jitter: false } } },
      )
      .node("never", ({ deps }) => deps.bad, { after: ["bad"] })
      .build();
    const error = await rejection(runAsync(g, undefined, { store, runId: "details", sessionId: "s-1" }));
    expect(error).toBeInstanceOf(NodeFailedError);
    expect(error).toMatchObject({ nodeId: "bad", attempts: 2 });

    const details = await getRun("details", { store });
    expect(details).toMatchObject({ runId: "details", graphName: "details", status: "failed", starts: 1, sessionId: "s-1" });
    expect(details.error).toMatchObject({ code: "NODE_FAILED" });
    expect(details.error?.message).toContain("disk on fire");
    expect(typeof details.startedAt).toBe("number");
    expect(typeof details.endedAt).toBe("number");
    const nodes = new Map(details.nodes.map((n) => [n.id, n]));
    expect(nodes.get("ok")).toMatchObject({ status: "succeeded", attempts: 1, output: { v: 1 } });
    expect(nodes.get("bad")).toMatchObject({ status: "failed", attempts: 2, error: { name: "Error", message: "disk on fire" } });
    expect(nodes.get("never")).toMatchObject({ status: "pending", attempts: 0 });
    for (const id of ["ok", "bad"]) {
      const n = nodes.get(id);
      expect(typeof n?.startedAt, id).toBe("number");
      expect(typeof n?.endedAt, id).toBe("number");
      expect(n!.endedAt!).toBeGreaterThanOrEqual(n!.startedAt!);
    }
    expect(nodes.get("never")?.startedAt).toBeUndefined();
  });

  it("getRun of an unknown id rejects with RunNotFoundError", async () => {
    for (const store of [new MemoryStore(), lowdb(tempDir())]) {
      const error = await rejection(getRun("no-such-run", { store }));
      expect(error).toBeInstanceOf(RunNotFoundError);
      expect(error).toMatchObject({ code: "RUN_NOT_FOUND", runId: "no-such-run" });
    }
  });

  it("deleteRun returns true then false, and a deleted run starts afresh", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    const g = graph("deleted")
      .node("a", () => {
        hit("a");
        return "a";
      })
      .build();
    await runAsync(g, undefined, { store: lowdb(dir), runId: "del" });
    expect(await deleteRun("del", { store: lowdb(dir) })).toBe(true);
    expect(await deleteRun("del", { store: lowdb(dir) })).toBe(false);
    await expect(getRun("del", { store: lowdb(dir) })).rejects.toBeInstanceOf(RunNotFoundError);
    expect(await listRuns({ store: lowdb(dir) })).toEqual([]);

    await expect(runAsync(g, undefined, { store: lowdb(dir), runId: "del" })).resolves.toEqual({ a: "a" });
    expect(calls).toEqual({ a: 2 });
    expect((await getRun("del", { store: lowdb(dir) })).starts).toBe(1);
  });
});

// ---------------------------------------------------------------------------
// 9. Compaction
// ---------------------------------------------------------------------------

/** How the compaction test reads a run kept as a folder or as a run file: the journal records after its snapshot, their size, the snapshot. */
interface CompactionLayout {
  readonly store: (dir: string) => LowdbStore;
  /** The journal records after the run's snapshot, as text ("" when none). */
  readonly journal: (dir: string, runId: string) => string;
  /** Their size in bytes (0 when there is no journal). */
  readonly journalSize: (dir: string, runId: string) => number;
  readonly snapshot: (dir: string, runId: string) => SnapshotDocument;
}

const COMPACTION_LAYOUTS = {
  /** A folder per run: `runs/<runId>/journal.ndjson` and `snapshot.json`. */
  folders: {
    store: (dir) => lowdb(dir, FOLDERS),
    journal: (dir, runId) => readFileSync(join(dir, "runs", runId, "journal.ndjson"), "utf8"),
    journalSize: (dir, runId) => {
      try {
        return statSync(join(dir, "runs", runId, "journal.ndjson")).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        return 0;
      }
    },
    snapshot: (dir, runId) => readSnapshotDocument(join(dir, "runs", runId, "snapshot.json")),
  },
  /** A file per run, `<runId>.run` (`LowdbStore`'s default): its last snapshot line and the records after it. */
  files: {
    store: (dir) => lowdb(dir),
    journal: runFileJournal,
    journalSize: (dir, runId) => Buffer.byteLength(runFileJournal(dir, runId)),
    snapshot: runFileSnapshot,
  },
} satisfies Record<string, CompactionLayout>;

/** A 3,000-node fan-out on `layout`: its journal stays within the compaction threshold; compacted, every node is in the snapshot; load() equals getRun(). */
async function compactsWide(layout: CompactionLayout): Promise<void> {
  const dir = tempDir();
  const width = 3_000;
  const leaves = Array.from({ length: width }, (_, i) => `leaf-${i}`);
  const nodes: NodeDefinition[] = [
    { id: "root", after: [], fn: () => 1 },
    ...leaves.map((id, i): NodeDefinition => ({ id, after: ["root"], fn: ({ deps }) => (deps.root as number) + i })),
    {
      id: "join",
      after: leaves,
      fn: ({ deps }) => Object.values(deps).reduce<number>((s, v) => s + (v as number), 0),
    },
  ];
  const g = new TaskGraph({ name: "wide", nodes });
  const outputs = (await runAsync(g, undefined, { store: layout.store(dir), runId: "wide" })) as Record<string, number>;
  expect(outputs.join).toBe(width + (width * (width - 1)) / 2);

  // A succeeded run ends with an append while its journal stays under the compaction threshold
  // (twice its activations): a load never replays more than compaction allows.
  const lines = layout
    .journal(dir, "wide")
    .split("\n")
    .filter((l) => l.length > 0);
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.length).toBeLessThanOrEqual(2 * (width + 2));
  const before = await layout.store(dir).load("wide");
  // Compacting what is stored (what a long run's end does) leaves every node in the snapshot (snapshot.json, or the
  // run file's last snapshot line) and a small journal.
  const compacting = layout.store(dir);
  await compacting.writeSnapshot(before!.state, before!.seq);
  await compacting.close();

  const journalSize = layout.journalSize(dir, "wide");
  expect(journalSize).toBeLessThan(64 * 1024);

  const doc = layout.snapshot(dir, "wide");
  expect(doc.meta.status).toBe("succeeded");
  expect(doc.nodes).toHaveLength(width + 2);
  expect(doc.nodes.every((n) => n.status === "succeeded")).toBe(true);
  expect(new Set(doc.nodes.map((n) => n.id)).size).toBe(width + 2);

  const loaded = await layout.store(dir).load("wide");
  const details = await getRun("wide", { store: layout.store(dir) });
  expect(loaded?.state.meta.status).toBe(details.status);
  expect(loaded?.state.meta.outputs).toEqual(details.outputs);
  expect(byId(nodeRecords(loaded!.state.nodes))).toEqual(byId(details.nodes));
  expect(byId(details.nodes)).toEqual(byId(doc.nodes));
  // What the run's own end stored (snapshot and journal) is the compacted state.
  expect(before?.state.meta).toEqual(loaded?.state.meta);
  expect(byId(nodeRecords(before!.state.nodes))).toEqual(byId(doc.nodes));
}

describe("compaction", () => {
  it("a 3,000-node fan-out ends with a journal within the compaction threshold; compacted, every node is in snapshot.json; load() equals getRun()", () =>
    compactsWide(COMPACTION_LAYOUTS.folders));

  it("runs kept as run files (the default): a 3,000-node fan-out ends with a journal within the compaction threshold; compacted, every node is in the run file's snapshot; load() equals getRun()", () =>
    compactsWide(COMPACTION_LAYOUTS.files));
});
