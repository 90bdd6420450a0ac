/**
 * Map elements that wait for events (`ctx.waitFor` in a `.map` body). The
 * run stops `waiting` once nothing but waits is left, as it does for plain
 * nodes: a map node is busy only through its elements. Before, the map
 * node itself counted as busy while its elements waited, so a run whose map
 * elements all waited never ended (`runAsync` hung, holding its lease).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GraphHasPendingWaits, graph, MemoryStore, resolveWait, runAsync } from "../src/index.js";
import { rejection } from "./support/async.js";

describe("map elements that wait for events", () => {
  it("stop the run as waiting with every element's key; resolved and resumed, the map ends with the payloads in order", async () => {
    const store = new MemoryStore();
    const g = graph("map-waits")
      .node("items", () => [0, 1, 2])
      .map("hold", "items", ({ item, waitFor }) => waitFor<number>(`go-${String(item)}`))
      .build();
    const error = await rejection(runAsync(g, undefined, { runId: "mw-1", store }));
    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    expect((error as GraphHasPendingWaits).waits.map((w) => w.key)).toEqual(["go-0", "go-1", "go-2"]);
    for (const i of [2, 0, 1]) await resolveWait("mw-1", `go-${String(i)}`, i * 10, { store });
    expect(await runAsync(g, undefined, { runId: "mw-1", store })).toEqual({ items: [0, 1, 2], hold: [0, 10, 20] });
  });

  it("with the map's maxConcurrency below its elements: the waiting ones stop the run, the rest start on the next resume", async () => {
    const store = new MemoryStore();
    const g = graph("map-waits-limited")
      .node("items", () => [0, 1, 2, 3, 4])
      .map("hold", "items", ({ item, waitFor }) => waitFor<number>(`go-${String(item)}`), { maxConcurrency: 2 })
      .build();
    const waves: string[][] = [];
    for (;;) {
      const outcome = await runAsync(g, undefined, { runId: "mw-2", store, maxConcurrency: 8 }).catch((e: unknown) => e);
      if (!(outcome instanceof GraphHasPendingWaits)) {
        expect(outcome).toEqual({ items: [0, 1, 2, 3, 4], hold: [0, 1, 2, 3, 4] });
        break;
      }
      const keys = outcome.waits.map((w) => w.key);
      waves.push(keys);
      for (const key of keys) await resolveWait("mw-2", key, Number(key.slice(3)), { store });
    }
    expect(waves).toEqual([["go-0", "go-1"], ["go-2", "go-3"], ["go-4"]]);
  });

  it("property: any number of elements, any limits, any of them waiting: the run ends, waiting or done, and finishes with every value in order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
        fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
        fc.integer({ min: 1, max: 8 }),
        async (waiting, mapLimit, runLimit) => {
          const store = new MemoryStore();
          const done: number[] = [];
          const g = graph("map-waits-property")
            .node("items", () => waiting.map((_, i) => i))
            .map(
              "hold",
              "items",
              async ({ item, waitFor }) => {
                const value = waiting[item] ? await waitFor<number>(`go-${String(item)}`) : item;
                done.push(item);
                return value;
              },
              mapLimit === undefined ? undefined : { maxConcurrency: mapLimit },
            )
            .build();
          for (let round = 0; ; round++) {
            expect(round).toBeLessThanOrEqual(waiting.length);
            const outcome = await runAsync(g, undefined, { runId: "mw-p", store, maxConcurrency: runLimit }).catch((e: unknown) => e);
            if (outcome instanceof GraphHasPendingWaits) {
              expect(outcome.waits.length).toBeGreaterThan(0);
              for (const w of outcome.waits) await resolveWait("mw-p", w.key, Number(w.key.slice(3)), { store });
              continue;
            }
            expect(outcome).toEqual({ items: waiting.map((_, i) => i), hold: waiting.map((_, i) => i) });
            break;
          }
          // Each element's body returned once: a succeeded element never runs again on a resume.
          expect([...done].sort((a, b) => a - b)).toEqual(waiting.map((_, i) => i));
        },
      ),
      { numRuns: 60 },
    );
  });
});
