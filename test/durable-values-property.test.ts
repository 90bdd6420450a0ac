/**
 * Property: whatever a node returns, a run is given as inputs, or a wait
 * is resolved with, a cold resume in a fresh store object reads back a
 * value `util.isDeepStrictEqual` to it, or the value was flagged (a
 * warning for an output, a typed `InputValidationError` for inputs and
 * payloads) and the node ran again. Never a run that cannot be loaded,
 * never an untyped error, never a polluted prototype. On MemoryStore,
 * LowdbStore and RedisStore.
 */
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { RedisStore } from "../src/adapters/bullmq/index.js";
import {
  GraphHasPendingWaits,
  InputValidationError,
  MemoryStore,
  getRun,
  graph,
  isDurable,
  resolveWait,
  run,
  runAsync,
  type RunEventMap,
  type RunStore,
} from "../src/index.js";
import { describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-values-prop-");

/** An object with exactly these own entries, set with defineProperty (so "__proto__" stays a key). */
function objectOf(entries: [string, unknown][], nullProto: boolean): Record<string, unknown> {
  const out = (nullProto ? Object.create(null) : {}) as Record<string, unknown>;
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const oddString = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.string({ unit: fc.oneof(loneSurrogate, fc.constantFrom("\u0000", "\u2028", '"', "\\", ".", "a")) }),
);
const key = fc.oneof(fc.constantFrom("__proto__", "constructor", "prototype", "toString", "a.b", "", "0", "json", "meta"), fc.string({ maxLength: 6 }));

class Point {
  constructor(readonly x: number) {}
}

const leaf = fc.oneof(
  oddString,
  fc.double(),
  fc.integer(),
  fc.bigInt(),
  fc.boolean(),
  fc.constantFrom(null, undefined),
  fc.date(),
  fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
  fc.float64Array({ maxLength: 4 }),
  fc.float32Array({ maxLength: 4 }),
  fc.bigInt64Array({ maxLength: 3 }),
  fc.bigUint64Array({ maxLength: 3 }),
  fc.int16Array({ maxLength: 4 }),
  fc.uint8Array({ maxLength: 6 }).map((b) => new DataView(b.buffer)),
  fc.uint8Array({ maxLength: 6 }).map((b) => b.buffer),
  fc.constantFrom<unknown>(new URL("https://example.test/a?b=1"), /x+/gi, new Point(1), () => 1, Symbol("s")),
  fc
    .tuple(fc.string({ maxLength: 5 }), fc.constantFrom("E1", undefined))
    .map(([m, code]) => (code === undefined ? new RangeError(m) : Object.assign(new TypeError(m), { code }))),
);

const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.sparseArray(tie("value"), { maxLength: 5 }),
    fc.tuple(fc.array(fc.tuple(key, tie("value")), { maxLength: 4 }), fc.boolean()).map(([entries, nullProto]) => objectOf(entries, nullProto)),
    fc.array(fc.tuple(tie("value"), tie("value")), { maxLength: 3 }).map((entries) => new Map(entries)),
    fc.array(tie("value"), { maxLength: 3 }).map((items) => new Set(items)),
    tie("value").map((cause) => new Error("wrapped", { cause })),
  ),
}));
/** Deep nesting, beyond what the recursive arbitrary reaches. */
const deep = fc.integer({ min: 50, max: 190 }).map((n) => {
  let v: unknown = "bottom";
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : objectOf([["__proto__", v]], false);
  return v;
});

const outputGraph = (current: { value: unknown }) =>
  graph("prop-out")
    .input<unknown>()
    .node("out", () => current.value)
    .build();
const waitGraph = graph("prop-wait")
  .node("w", ({ waitFor }) => waitFor("k"))
  .build();

/** Runs the property against stores made by `fresh` (a new object per call, where the store allows). */
async function checkStores(fresh: () => RunStore, numRuns: number): Promise<void> {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof({ weight: 6, arbitrary: value }, { weight: 1, arbitrary: deep }), async (v) => {
      const runId = `p-${n++}-${Math.random().toString(36).slice(2, 8)}`;
      const current = { value: v };
      const g = outputGraph(current);
      const durable = isDurable(v);

      // Inputs: stored exactly, or refused with a typed error before anything runs.
      if (!durable) {
        await expect(runAsync(g, v, { store: fresh(), runId: `${runId}-in` })).rejects.toBeInstanceOf(InputValidationError);
      }
      const warnings: RunEventMap["warning"][] = [];
      const handle = run(g, durable ? v : undefined, { store: fresh(), runId });
      handle.events.on("warning", (w) => void warnings.push(w));
      await handle.result();
      const details = await getRun(runId, { store: fresh() });
      if (durable) expect(isDeepStrictEqual(details.inputs, v)).toBe(true);
      const record = details.nodes.find((x) => x.id === "out");
      if (record?.durable === false) {
        expect(warnings.some((w) => w.nodeId === "out" && w.code === "OUTPUT_NOT_DURABLE")).toBe(true);
        expect(durable).toBe(false);
      } else {
        expect(durable).toBe(true);
        expect(isDeepStrictEqual(record?.output, v)).toBe(true);
      }
      // A cold resume in a fresh store: the output read back (or recomputed) is the value.
      const resumed = await runAsync(g, undefined, { store: fresh(), runId });
      expect(isDeepStrictEqual(resumed.out, v)).toBe(true);

      // Wait payloads: delivered exactly into the stored run, or refused with a typed error.
      const waitId = `${runId}-w`;
      await expect(runAsync(waitGraph, undefined, { store: fresh(), runId: waitId })).rejects.toBeInstanceOf(GraphHasPendingWaits);
      if (!durable) {
        await expect(resolveWait(waitId, "k", v, { store: fresh() })).rejects.toBeInstanceOf(InputValidationError);
      } else {
        await resolveWait(waitId, "k", v, { store: fresh() });
        const out = await runAsync(waitGraph, undefined, { store: fresh(), runId: waitId });
        expect(isDeepStrictEqual(out.w, v)).toBe(true);
      }
      expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTO_KEYS);
    }),
    { numRuns, seed: Number(process.env.TASKLOOM_PROP_SEED ?? 20261129) },
  );
}

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

describe("property: values round-trip exactly or are flagged", () => {
  it("on MemoryStore", async () => {
    const store = new MemoryStore();
    await checkStores(() => store, 100);
  });

  it("on LowdbStore, a fresh store object for every step", async () => {
    const dir = tempDir();
    await checkStores(() => lowdb(dir), 60);
  }, 300_000);
});

describeRedis("property: values round-trip exactly or are flagged (RedisStore)", () => {
  const prefix = uniquePrefix("values-prop");
  const stores: RedisStore[] = [];
  afterAll(async () => {
    for (const s of stores.splice(0)) await s.close();
    await dropPrefix(prefix);
  });

  it("on RedisStore, a fresh store object for every step", async () => {
    await checkStores(() => {
      const store = new RedisStore({ connection: REDIS_URL, prefix });
      stores.push(store);
      return store;
    }, 50);
  });
});
