/**
 * `resetUnfinished` (src/state/run-state.ts) counts the nodes of the state
 * it returns in the pass that resets them (a resume's start summary), so
 * `prepareRun` no longer walks every record again: under random records
 * (every status, outputs flagged not durable, map elements), its counts
 * are `countNodes` of the state it returns, and what it reset is what did
 * not succeed durably or was not skipped.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRunState, resetUnfinished, stateFromRecords } from "../src/state/run-state.js";
import { countNodes } from "../src/state/run-summary.js";
import { nodeRecords } from "../src/state/node-table.js";
import { NODE_STATUSES } from "../src/state/status.js";
import type { NodeRecord } from "../src/state/records.js";

const meta = createRunState({ runId: "r", graphName: "g", fingerprint: "f", inputs: {}, nodeIds: [], now: 0 }).meta;

const records = fc
  .array(fc.tuple(fc.constantFrom(...NODE_STATUSES), fc.option(fc.boolean(), { nil: undefined }), fc.boolean()), { maxLength: 40 })
  .map((specs) =>
    specs.map(([status, durable, element], i): NodeRecord => {
      const id = element ? `n${i}[0]` : `n${i}`;
      return { id, nodeId: `n${i}`, status, attempts: 1, ...(status === "succeeded" && { output: i }), ...(durable !== undefined && { durable }) };
    }),
  );

describe("resetUnfinished's counts", () => {
  it("are the node counts of the state it returns", () => {
    fc.assert(
      fc.property(records, (list) => {
        const { state, reset, counts } = resetUnfinished(stateFromRecords(meta, list), 5);
        expect(counts).toEqual(countNodes(state));
        const kept = (n: NodeRecord) => (n.status === "succeeded" && n.durable !== false) || n.status === "skipped";
        expect(reset).toEqual(list.filter((n) => !kept(n)).map((n) => n.id));
        for (const n of nodeRecords(state.nodes)) if (reset.includes(n.id)) expect(n.status).toBe("pending");
      }),
      { numRuns: 300 },
    );
  });
});
