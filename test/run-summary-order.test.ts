/**
 * `summaryOf` (src/state/run-summary.ts) lists a summary's fields in one
 * order, optional ones only when present: the text of `summary.json` is
 * the same whichever fields a run has, as when the summary was built by
 * spreads. A property test over metas and counts with and without each
 * optional field.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { summaryOf } from "../src/state/run-summary.js";
import type { RunMeta } from "../src/state/records.js";

const ORDER = [
  "runId",
  "graphName",
  "status",
  "nodeCount",
  "settledCount",
  "succeededCount",
  "failedCount",
  "createdAt",
  "updatedAt",
  "waits",
  "sessionId",
  "agentId",
  "appId",
  "parentRunId",
];

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

describe("summaryOf", () => {
  it("lists the fields in the summary's order, each optional one only when present", () => {
    fc.assert(
      fc.property(
        fc.record({
          sessionId: maybe(fc.string()),
          agentId: maybe(fc.string()),
          appId: maybe(fc.string()),
          parentRunId: maybe(fc.string()),
          succeededCount: maybe(fc.nat()),
          failedCount: maybe(fc.nat()),
        }),
        (o) => {
          const meta = {
            runId: "r",
            graphName: "g",
            status: "running",
            createdAt: 1,
            updatedAt: 2,
            waits: [],
            inputs: undefined,
            fingerprint: "f",
            starts: 1,
            ...(o.sessionId !== undefined && { sessionId: o.sessionId }),
            ...(o.agentId !== undefined && { agentId: o.agentId }),
            ...(o.appId !== undefined && { appId: o.appId }),
            ...(o.parentRunId !== undefined && { parentRunId: o.parentRunId }),
          } as unknown as RunMeta;
          const counts = {
            nodeCount: 3,
            settledCount: 1,
            ...(o.succeededCount !== undefined && { succeededCount: o.succeededCount }),
            ...(o.failedCount !== undefined && { failedCount: o.failedCount }),
          };
          const summary = summaryOf(meta, counts) as unknown as Record<string, unknown>;
          const expected = ORDER.filter((k) => k in meta || k in counts);
          expect(Object.keys(summary)).toEqual(expected);
          for (const k of expected) expect(summary[k]).toBe(k in counts ? counts[k as keyof typeof counts] : (meta as unknown as Record<string, unknown>)[k]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
