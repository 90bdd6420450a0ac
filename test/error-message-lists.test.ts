/**
 * Error messages that list things (a graph's problems, a validator's
 * issues, a run's open waits) name the first 20 and say how many more
 * there are, each item cut to 500 characters: the message stays readable,
 * and short enough to print and store, however many there are. The
 * error's own array (`problems`, `issues`, `waits`) keeps every one.
 * Before, a graph with 1,000 bad nodes gave a message of some 60 KB, and a
 * run waiting in 10,000 map elements named all 10,000 keys.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GraphChangedError, GraphDefinitionError, GraphHasPendingWaits, graph, InputValidationError, MemoryStore, runAsync } from "../src/index.js";
import { LIST_ITEM_MAX, listText } from "../src/core/text.js";
import { rejection } from "./support/async.js";

/** A builder with plain string ids (the typed builder cannot follow ids made in a loop). */
interface LooseBuilder {
  node(id: string, fn: () => unknown, options?: { after: readonly string[] }): LooseBuilder;
  build(): unknown;
}

describe("error messages that list things", () => {
  it("GraphDefinitionError names 20 problems and how many more; problems holds all 1,000", () => {
    let b = graph("many-bad") as unknown as LooseBuilder;
    for (let i = 0; i < 1_000; i++) b = b.node(`n${i}`, () => i, { after: [`missing-${i}`] });
    const error = (() => {
      try {
        b.build();
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(GraphDefinitionError);
    const { problems, message } = error as GraphDefinitionError;
    expect(problems).toHaveLength(1_000);
    expect(message).toContain(problems[19]!);
    expect(message).not.toContain(problems[20]!);
    expect(message).toContain("and 980 more (all in the error's problems)");
    expect(message.length).toBeLessThan(20 * 200);
  });

  it("InputValidationError names 20 issues, each cut to 500 characters; issues holds all", () => {
    const issues = Array.from({ length: 300 }, (_, i) => ({ path: ["rows", i], message: i === 0 ? "x".repeat(10_000) : `row ${i} is bad` }));
    const error = new InputValidationError("the inputs", issues);
    expect(error.issues).toHaveLength(300);
    expect(error.message).toContain(`rows.0: ${"x".repeat(LIST_ITEM_MAX - 10)}`);
    expect(error.message).not.toContain("x".repeat(LIST_ITEM_MAX));
    expect(error.message).toContain("rows.19: row 19 is bad");
    expect(error.message).not.toContain("rows.20:");
    expect(error.message).toContain("and 280 more (all in the error's issues)");
  });

  it("GraphHasPendingWaits of a run waiting in 100 map elements names 20 keys; waits holds all 100", async () => {
    const g = graph("many-waits")
      .node("items", () => Array.from({ length: 100 }, (_, i) => i))
      .map("hold", "items", ({ item, waitFor }) => waitFor<number>(`go-${String(item)}`))
      .build();
    const error = await rejection(runAsync(g, undefined, { runId: "many-waits", store: new MemoryStore() }));
    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    const { waits, message } = error as GraphHasPendingWaits;
    expect(waits).toHaveLength(100);
    expect(message.match(/"go-\d+"/g)).toHaveLength(20);
    expect(message).toContain("and 80 more (all in the error's waits)");
  });

  it("GraphChangedError names 8 added or removed nodes and how many more; changes holds them all", () => {
    const added = Array.from({ length: 12 }, (_, i) => `new-${i}`);
    const error = new GraphChangedError("r1", "f-old", "f-new", { added, removed: ["gone"] });
    expect(error.changes?.added).toHaveLength(12);
    expect(error.message).toContain(
      "nodes added: new-0, new-1, new-2, new-3, new-4, new-5, new-6, new-7, and 4 more (all in the error's changes); nodes removed: gone.",
    );
  });

  it("listText: the first max items (each cut), then the count of the rest, for any list", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom("a", "b", "é", "😀"), minLength: 1, maxLength: 700 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 30 }),
        (items, max) => {
          const text = listText(items, max, " | ", "the list");
          const parts = text === "" ? [] : text.split(" | ");
          const shown = Math.min(max, items.length);
          expect(parts.length).toBe(items.length > max ? shown + 1 : shown);
          for (let i = 0; i < shown; i++) {
            const item = items[i]!;
            expect(parts[i]).toBe(item.length <= LIST_ITEM_MAX ? item : `${item.slice(0, LIST_ITEM_MAX - 1)}…`);
          }
          if (items.length > max) expect(parts.at(-1)).toBe(`and ${items.length - max} more (all in the list)`);
        },
      ),
    );
  });
});
