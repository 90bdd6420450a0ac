/**
 * Audit: events whose payload or key is unusual survive the stored path
 * (`resolveWait` into a waiting run nobody drives, then a resume), on
 * `MemoryStore` and `LowdbStore`: the node gets a value deep-equal to the
 * one sent (undefined, Date, Map, BigInt, -0, NaN, undefined fields, a
 * `__proto__` key), a second resume gets it again from the journal, and a
 * second delivery of the key is refused. Keys that name object members
 * (`__proto__`, `constructor`), path separators, NUL and 200 characters
 * are keys like any other.
 */
import { describe, expect, it } from "vitest";
import { GraphHasPendingWaits, MemoryStore, WaitAlreadyResolvedError, getRun, graph, resolveWait, runAsync, type RunStore } from "../src/index.js";
import { rejection } from "./support/async.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-audit-codec-");

const payloads: [string, unknown][] = [
  ["undefined", undefined],
  ["null", null],
  ["a Date", new Date(5)],
  ["a Map with an undefined field", new Map([[1, { a: undefined }]])],
  ["a BigInt", 10n ** 30n],
  ["-0", -0],
  ["NaN", Number.NaN],
  ["undefined fields and elements", { a: undefined, b: [undefined] }],
  ["a Set", new Set([1, "x"])],
  ["an own __proto__ key", JSON.parse('{"__proto__": {"x": 1}}') as unknown],
];
const keys = ["__proto__", "constructor", "toString", "a/b\\c", "k".repeat(200), " ", "\u0000", "$child", "x.y[0]"];

for (const kind of ["MemoryStore", "LowdbStore"] as const) {
  describe(`the stored path on ${kind}`, () => {
    const makeStore = (): RunStore => (kind === "MemoryStore" ? new MemoryStore() : lowdb(tempDir()));
    payloads.forEach(([name, payload], i) => {
      it(`a payload of ${name} reaches the node exactly, on resume and on a second resume`, async () => {
        const store = makeStore();
        const runId = `payload-${i}`;
        const g = graph("w")
          .node("ask", ({ waitFor }) => waitFor("k"))
          .build();
        expect(await rejection(runAsync(g, undefined, { runId, store }))).toBeInstanceOf(GraphHasPendingWaits);
        await resolveWait(runId, "k", payload, { store });
        expect(((await runAsync(g, undefined, { runId, store })) as { ask: unknown }).ask).toStrictEqual(payload);
        expect(((await runAsync(g, undefined, { runId, store })) as { ask: unknown }).ask).toStrictEqual(payload);
        expect(await rejection(resolveWait(runId, "k", payload, { store }))).toBeInstanceOf(WaitAlreadyResolvedError);
      });
    });
    keys.forEach((key, i) => {
      it(`the key ${JSON.stringify(key).slice(0, 24)} is listed, delivered once, then refused`, async () => {
        const store = makeStore();
        const runId = `key-${i}`;
        const g = graph("w")
          .node("ask", ({ waitFor }) => waitFor(key))
          .build();
        expect(await rejection(runAsync(g, undefined, { runId, store }))).toBeInstanceOf(GraphHasPendingWaits);
        expect((await getRun(runId, { store })).waits.map((w) => w.key)).toEqual([key]);
        await resolveWait(runId, key, "v", { store });
        expect(await runAsync(g, undefined, { runId, store })).toEqual({ ask: "v" });
        expect(await rejection(resolveWait(runId, key, "v", { store }))).toBeInstanceOf(WaitAlreadyResolvedError);
      });
    });
  });
}
