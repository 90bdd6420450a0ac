/**
 * What a node may return, through the public API: every value is either
 * stored so that a fresh store reads back a value `util.isDeepStrictEqual`
 * to it, or flagged `OUTPUT_NOT_DURABLE` (and run again on resume). Never a
 * run that cannot be loaded, never a prototype touched, never an error
 * escaping the run (throwing getters, revoked proxies).
 */
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import {
  InputValidationError,
  MemoryStore,
  NodeFailedError,
  PersistenceError,
  ValueNotStorableError,
  deserialize,
  getRun,
  graph,
  graphFn,
  isDurable,
  resolveWait,
  run,
  runAsync,
  serialize,
  type JournalRecord,
  type RunEventMap,
  type RunStore,
} from "../src/index.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-values-");

/** Runs a one-node graph returning `value` twice in a row on fresh stores; returns what the second saw. */
async function roundTrip(value: unknown) {
  const dir = tempDir();
  let calls = 0;
  const g = graph("one")
    .node("v", () => {
      calls += 1;
      return value;
    })
    .node("after", ({ deps }) => deps.v, { after: ["v"] })
    .build();
  const warnings: RunEventMap["warning"][] = [];
  const handle = run(g, undefined, { store: lowdb(dir), runId: "r" });
  handle.events.on("warning", (w) => void warnings.push(w));
  await handle.result();
  const stored = await getRun("r", { store: lowdb(dir) });
  const record = stored.nodes.find((n) => n.id === "v");
  return { calls, warnings, record, stored, dir, g };
}

describe("outputs that look storable", () => {
  const exact: [string, unknown][] = [
    ["a Buffer", Buffer.from("héllo")],
    ["a Float64Array with NaN and -0", new Float64Array([1.5, NaN, -0, Infinity])],
    ["a BigInt64Array", new BigInt64Array([1n, -(2n ** 63n)])],
    ["a BigUint64Array", new BigUint64Array([2n ** 64n - 1n])],
    ["a Uint8ClampedArray", new Uint8ClampedArray([0, 255])],
    ["an Int16Array view on part of a buffer", new Int16Array(new ArrayBuffer(8), 2, 2)],
    ["a DataView", new DataView(Uint8Array.from([1, 2, 3]).buffer)],
    ["an ArrayBuffer", Uint8Array.from([9, 8, 7]).buffer],
    ["a TypeError with a code", Object.assign(new TypeError("bad"), { code: "E_BAD" })],
    ["an Error with a cause", new Error("outer", { cause: new RangeError("inner") })],
    ["a null-prototype object", Object.assign(Object.create(null) as object, { a: 1 })],
    [
      "one object shared in several places",
      (() => {
        const shared = { a: new Date(1) };
        return { x: shared, y: [shared], m: new Map([[shared, shared]]), p: JSON.parse('{"__proto__":1}') as object, q: [shared] };
      })(),
    ],
  ];
  for (const [what, value] of exact) {
    it(`stores ${what} exactly`, async () => {
      const { warnings, record } = await roundTrip(value);
      expect(warnings).toEqual([]);
      expect(record?.durable).toBeUndefined();
      expect(isDeepStrictEqual(record?.output, value)).toBe(true);
      expect(Object.getPrototypeOf(record?.output)).toBe(Object.getPrototypeOf(value));
    });
  }

  class MyError extends Error {
    code = "MINE";
  }
  const sym = Symbol("s");
  const matched = "abc".match(/b/);
  const flagged: [string, unknown][] = [
    ["a sparse array", [1, , 3]], // eslint-disable-line no-sparse-arrays
    ["an Error subclass", new MyError("x")],
    ["an object with a symbol key", { a: 1, [sym]: 2 }],
    ["an array with extra properties (a RegExp match)", matched],
    ["a Date with an own property", Object.assign(new Date(0), { tz: "UTC" })],
    ["an invalid Date", new Date(NaN)],
    ["a SharedArrayBuffer", new SharedArrayBuffer(4)],
    ["a Uint8Array subclass", new (class Bytes extends Uint8Array {})(2)],
  ];
  for (const [what, value] of flagged) {
    it(`flags ${what} as not durable and runs it again on resume`, async () => {
      const { warnings, record, dir, g, stored } = await roundTrip(value);
      expect(warnings.map((w) => [w.nodeId, w.code])).toContainEqual(["v", "OUTPUT_NOT_DURABLE"]);
      expect(record?.durable).toBe(false);
      expect(stored.status).toBe("succeeded");
      await expect(runAsync(g, undefined, { store: lowdb(dir), runId: "r" })).resolves.toBeDefined();
    });
  }

  it("keeps the run loadable after a node returned a Buffer (later nodes' results stay reachable)", async () => {
    const dir = tempDir();
    const g = graph("buf")
      .node("a", () => Buffer.from([1, 2]))
      .node("b", ({ deps }) => deps.a.length, { after: ["a"] })
      .build();
    await runAsync(g, undefined, { store: lowdb(dir), runId: "b1" });
    const details = await getRun("b1", { store: lowdb(dir) });
    expect(details.nodes.find((n) => n.id === "b")?.output).toBe(2);
    expect(Buffer.isBuffer(details.nodes.find((n) => n.id === "a")?.output)).toBe(true);
  });
});

describe("own __proto__, constructor and prototype keys", () => {
  const evil = () => JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"prototype":3,"d":"x"}') as object;

  it("stores them as own properties on LowdbStore, never touching a prototype", async () => {
    const dir = tempDir();
    const g = graph("proto")
      .input<object>()
      .node("v", ({ inputs }) => ({ inputs, out: evil(), when: new Date(5) }))
      .build();
    await runAsync(g, evil(), { store: lowdb(dir), runId: "p1" });
    const details = await getRun("p1", { store: lowdb(dir) });
    expect(isDeepStrictEqual(details.inputs, evil())).toBe(true);
    const out = details.nodes.find((n) => n.id === "v")?.output as { inputs: object; out: object };
    expect(isDeepStrictEqual(out, { inputs: evil(), out: evil(), when: new Date(5) })).toBe(true);
    expect(Object.getPrototypeOf(out.out)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(out.out, "__proto__")).toBe(true);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    // A resume with the same inputs is not refused as "different inputs".
    await expect(runAsync(g, evil(), { store: lowdb(dir), runId: "p1" })).resolves.toBeDefined();
  });

  it("takes them as a resolveWait payload", async () => {
    const dir = tempDir();
    const g = graph("proto-wait")
      .node("w", ({ waitFor }) => waitFor("k"))
      .build();
    await expect(runAsync(g, undefined, { store: lowdb(dir), runId: "w1" })).rejects.toThrow();
    await resolveWait("w1", "k", evil(), { store: lowdb(dir) });
    const out = await runAsync(g, undefined, { store: lowdb(dir), runId: "w1" });
    expect(isDeepStrictEqual(out.w, evil())).toBe(true);
  });
});

describe("values too large to store", () => {
  it("flags an output over the size limit as not durable, naming the node, and later saves still work", async () => {
    const big = "x".repeat(64 * 1024 * 1024 + 1);
    const dir = tempDir();
    const g = graph("big")
      .node("huge", () => ({ big }))
      .node("small", ({ deps }) => deps.huge.big.length, { after: ["huge"] })
      .build();
    const warnings: RunEventMap["warning"][] = [];
    const handle = run(g, undefined, { store: lowdb(dir), runId: "big" });
    handle.events.on("warning", (w) => void warnings.push(w));
    await expect(handle.result()).resolves.toMatchObject({ small: big.length });
    // One warning: the run's outputs hold the node's output, which explains them.
    expect(warnings.map((w) => [w.nodeId, w.code])).toEqual([["huge", "OUTPUT_NOT_DURABLE"]]);
    expect(warnings[0]?.message).toMatch(/huge.*64 MiB/s);
    const details = await getRun("big", { store: lowdb(dir) });
    expect(details.nodes.find((n) => n.id === "small")?.output).toBe(big.length);
  });
});

describe("result handling that throws", () => {
  it("an output with a throwing getter is a failed attempt, not an unhandled rejection", async () => {
    const boom = new Error("getter boom");
    const g = graph("getter")
      .node("v", () => ({
        get x(): number {
          throw boom;
        },
      }))
      .build();
    const error = await runAsync(g, undefined, { store: new MemoryStore(), retry: { maxAttempts: 2, backoff: { initialMs: 0, jitter: false } } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NodeFailedError);
    expect((error as NodeFailedError).attempts).toBe(2);
    expect((error as Error).cause).toBe(boom);
  });

  it("a synchronous body returning a revoked proxy fails the node and ends the run", async () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const store = new MemoryStore();
    const g = graph("revoked")
      .node("v", () => proxy)
      .build();
    const error = await runAsync(g, undefined, { store, runId: "rv" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NodeFailedError);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect((await getRun("rv", { store })).status).toBe("failed");
  });

  it("a map element and a graphFn step whose output throws on reading fail like any attempt", async () => {
    const bad = () => ({
      get x(): number {
        throw new Error("element boom");
      },
    });
    const g = graph("map-bad")
      .node("items", () => [1, 2])
      .map("each", "items", () => bad())
      .build();
    await expect(runAsync(g, undefined, { store: new MemoryStore() })).rejects.toBeInstanceOf(NodeFailedError);
    const fn = graphFn("gf-bad", async (_: undefined, { step }) => step("s", () => bad()));
    await expect(fn(undefined, { store: new MemoryStore() })).rejects.toBeInstanceOf(NodeFailedError);
  });

  it("a thrown value whose toString throws still fails the node with a typed error", async () => {
    const g = graph("bad-throw")
      .node("v", () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the test is about a body that throws a value that is not an Error
        throw {
          toString(): string {
            throw new Error("no string");
          },
          get toJSON(): never {
            throw new Error("no json");
          },
        };
      })
      .build();
    await expect(runAsync(g, undefined, { store: new MemoryStore() })).rejects.toBeInstanceOf(NodeFailedError);
  });

  it("a body that throws a revoked proxy fails its node with a typed error", async () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const g = graph("throws-revoked")
      .node("v", () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the test is about a body that throws a value that is not an Error
        throw proxy;
      })
      .build();
    const error = await runAsync(g, undefined, { store: new MemoryStore() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NodeFailedError);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it("a graphFn body that throws a revoked proxy rejects with a TypeError", async () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const fn = graphFn("gf-revoked", async () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the test is about a body that throws a value that is not an Error
      throw proxy;
    });
    await expect(fn(undefined, { store: new MemoryStore() })).rejects.toBeInstanceOf(TypeError);
  });

  it("isDurable never throws", () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(isDurable(proxy)).toBe(false);
    expect(
      isDurable({
        get x(): number {
          throw new Error("x");
        },
      }),
    ).toBe(false);
  });
});

describe("a serialization refusal is not a disk problem", () => {
  it("serialize throws ValueNotStorableError for what it cannot write", () => {
    const value = {
      get x(): number {
        throw new Error("x");
      },
    };
    expect(() => serialize(value)).toThrow(ValueNotStorableError);
    expect(deserialize(serialize(new BigInt64Array([5n])))).toEqual(new BigInt64Array([5n]));
  });

  it("a store that cannot serialize a record fails the run with ValueNotStorableError, not PersistenceError", async () => {
    class RefusingStore extends MemoryStore {
      override async append(runId: string, records: readonly JournalRecord[]): Promise<void> {
        serialize({
          records,
          bad: {
            get x(): number {
              throw new Error("cannot");
            },
          },
        });
        return super.append(runId, records);
      }
    }
    const refusing: RunStore = new RefusingStore();
    const g = graph("refuse")
      .node("a", () => 1)
      .node("b", () => 2, { after: ["a"] })
      .build();
    const error = await runAsync(g, undefined, { store: refusing }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValueNotStorableError);
    expect(error).not.toBeInstanceOf(PersistenceError);
    expect((error as Error).message).not.toMatch(/free disk space/i);
  });
});

describe("run inputs that cannot be stored", () => {
  it("are refused before anything runs, on every store", async () => {
    let ran = 0;
    const g = graph("bad-inputs")
      .input<unknown>()
      .node("a", () => void (ran += 1))
      .build();
    await expect(runAsync(g, { f: () => 1 }, { store: new MemoryStore() })).rejects.toBeInstanceOf(InputValidationError);
    await expect(runAsync(g, { f: () => 1 }, { store: lowdb(tempDir()) })).rejects.toBeInstanceOf(InputValidationError);
    expect(ran).toBe(0);
  });
});

describe("run outputs (issue 20 item 6)", () => {
  class Money {
    constructor(readonly cents: number) {}
  }

  it("a graphFn's class-instance output is flagged and recomputed on a resume by run id", async () => {
    const dir = tempDir();
    let bodies = 0;
    let steps = 0;
    const fn = graphFn("money", async (_: undefined, { step }) => {
      bodies += 1;
      const cents = await step("cents", () => {
        steps += 1;
        return 250;
      });
      return new Money(cents);
    });
    const warnings: RunEventMap["warning"][] = [];
    const handle = run(fn, undefined, { store: lowdb(dir), runId: "m1" });
    handle.events.on("warning", (w) => void warnings.push(w));
    expect(await handle.result()).toBeInstanceOf(Money);
    expect(warnings.map((w) => w.code)).toEqual(["OUTPUT_NOT_DURABLE"]);
    const again = await runAsync(fn.graph, undefined, { store: lowdb(dir), runId: "m1" });
    expect(again).toBeInstanceOf(Money);
    expect(again.cents).toBe(250);
    expect(bodies).toBe(2);
    expect(steps).toBe(1);
  });

  it("a builder .output(fn) returning a class instance is recomputed, not served as a plain object", async () => {
    const dir = tempDir();
    let nodes = 0;
    const g = graph("money-out")
      .node("a", () => {
        nodes += 1;
        return 5;
      })
      .output(({ a }) => new Money(a))
      .build();
    await runAsync(g, undefined, { store: lowdb(dir), runId: "o1" });
    const again = await runAsync(g, undefined, { store: lowdb(dir), runId: "o1" });
    expect(again).toBeInstanceOf(Money);
    expect(nodes).toBe(1);
  });

  it("a durable graphFn output is served from the store without running the body", async () => {
    const dir = tempDir();
    let bodies = 0;
    const fn = graphFn("plain", async () => {
      bodies += 1;
      return { at: new Date(7), n: 1n };
    });
    await runAsync(fn.graph, undefined, { store: lowdb(dir), runId: "d1" });
    expect(await runAsync(fn.graph, undefined, { store: lowdb(dir), runId: "d1" })).toEqual({ at: new Date(7), n: 1n });
    expect(bodies).toBe(1);
  });
});
