/**
 * Activation ids (src/core/ids.ts): visits and elements are written and
 * read back by the one module, for any node id the graph accepts (no `#`).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { elementId, parseElementId, parseVisitId, visitId } from "../src/core/ids.js";

const nodeId = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes("#"));

describe("activation ids", () => {
  it("visit 1 is the node id, visit k is n#k, and both read back", () => {
    expect(visitId("review", 1)).toBe("review");
    expect(visitId("review", 3)).toBe("review#3");
    fc.assert(
      fc.property(nodeId, fc.integer({ min: 1, max: 10_000 }), (n, k) => {
        expect(parseVisitId(visitId(n, k))).toEqual({ nodeId: n, visit: k });
      }),
      { numRuns: 300, seed: 15 },
    );
  });

  it("element i of a map activation is m[i] and reads back, also for a later visit", () => {
    expect(elementId("resize", 4)).toBe("resize[4]");
    expect(elementId(visitId("resize", 2), 0)).toBe("resize#2[0]");
    expect(parseElementId("resize")).toBeUndefined();
    fc.assert(
      fc.property(nodeId, fc.integer({ min: 1, max: 50 }), fc.nat({ max: 100_000 }), (n, k, i) => {
        const element = parseElementId(elementId(visitId(n, k), i));
        expect(element).toEqual({ mapActivationId: visitId(n, k), index: i });
        expect(parseVisitId(element?.mapActivationId ?? "")).toEqual({ nodeId: n, visit: k });
      }),
      { numRuns: 300, seed: 15 },
    );
  });
});
