/**
 * Audit, by property: what run management takes at its boundary. Any run
 * id given to `resolveWait`, `cancelRun`, `getRun`, `retrieveRun` and
 * `deleteRun` is either refused with `InvalidRunIdError` (empty, too long,
 * path separators, `..`, NUL, other characters) or, when valid, looked up
 * (`RunNotFoundError` for an unknown run): never an untyped error, never a
 * file outside the store. Any wait key given to `resolveWait` on a run
 * that waits for another key is `InvalidOptionError` (not a string of 1 to
 * 200 characters, or a parent's `$child:` wait) or `WaitNotFoundError`
 * naming the open key; nothing is written either way.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  GraphHasPendingWaits,
  InvalidOptionError,
  InvalidRunIdError,
  MemoryStore,
  RunNotFoundError,
  WaitNotFoundError,
  cancelRun,
  deleteRun,
  getRun,
  graph,
  resolveWait,
  retrieveRun,
  runAsync,
} from "../src/index.js";
import { rejection } from "./support/async.js";

const VALID_RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/;

const runIdLike = fc.oneof(
  fc.string({ maxLength: 230 }),
  fc.string({ unit: fc.constantFrom("a", "1", ".", "/", "\\", ":", "@", "-", "_", "\u0000", " ", "é"), maxLength: 210 }),
  fc.constantFrom("", ".", "..", "a..b", "../x", "a/b", "a\\b", "C:\\x", "a".repeat(200), "a".repeat(201), "-a", "a\u0000"),
);

describe("property: run ids at the boundary", () => {
  it("are refused with InvalidRunIdError or looked up (RunNotFoundError), by every run-management call", async () => {
    const store = new MemoryStore();
    await fc.assert(
      fc.asyncProperty(runIdLike, async (runId) => {
        const valid = VALID_RUN_ID.test(runId) && !runId.includes("..");
        const calls = [
          () => resolveWait(runId, "k", 1, { store }),
          () => cancelRun(runId, { store }),
          () => getRun(runId, { store }),
          () => retrieveRun(runId, { store }),
        ];
        for (const call of calls) {
          const error = await rejection(call());
          expect(error).toBeInstanceOf(valid ? RunNotFoundError : InvalidRunIdError);
        }
        if (valid) expect(await deleteRun(runId, { store })).toBe(false);
        else expect(await rejection(deleteRun(runId, { store }))).toBeInstanceOf(InvalidRunIdError);
      }),
      { numRuns: 300, seed: 20261203 },
    );
    expect(await store.list()).toEqual([]);
  });
});

describe("property: wait keys at the boundary", () => {
  it("are InvalidOptionError or WaitNotFoundError naming the open key; nothing is written", async () => {
    const store = new MemoryStore();
    const g = graph("w")
      .node("ask", ({ waitFor }) => waitFor("open-key"))
      .build();
    expect(await rejection(runAsync(g, undefined, { runId: "keys", store }))).toBeInstanceOf(GraphHasPendingWaits);
    const before = await store.load("keys");
    const key = fc.oneof(
      fc.string({ maxLength: 230 }),
      fc.string({ maxLength: 20 }).map((s) => `$child:${s}`),
      fc.constantFrom<unknown>("", "a".repeat(201), "__proto__", "constructor", 1, null, undefined, {}, ["open-key"]),
    );
    await fc.assert(
      fc.asyncProperty(key, async (k) => {
        fc.pre(k !== "open-key");
        const error = await rejection(resolveWait("keys", k as string, { any: 1 }, { store }));
        const malformed = typeof k !== "string" || k.length === 0 || k.length > 200 || k.startsWith("$child:");
        if (malformed) {
          expect(error).toBeInstanceOf(InvalidOptionError);
        } else {
          expect(error).toBeInstanceOf(WaitNotFoundError);
          expect((error as Error).message).toContain('"open-key"');
        }
      }),
      { numRuns: 300, seed: 20261203 },
    );
    const after = await store.load("keys");
    expect(after?.seq).toBe(before?.seq);
    expect(after?.state.meta.inbox).toBeUndefined();
  });
});
