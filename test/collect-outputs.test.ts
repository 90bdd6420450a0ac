/**
 * `collectOutputs` (src/runner/run-ending.ts), the record of node outputs
 * a graph's `outputs` is given: every succeeded graph node's output, in
 * record order; for a node visited more than once (a routing loop), its
 * latest succeeded visit's, whatever order the records are in; never a
 * map element's or an unknown node's. It keeps first visits out of its
 * map of visits (issue 16: a million-node run built a million-entry map
 * there), and these cases pin what it returns.
 */
import { describe, expect, it } from "vitest";
import { collectOutputs } from "../src/runner/run-ending.js";
import { createRunState, stateFromRecords } from "../src/state/run-state.js";
import type { NodeRecord } from "../src/state/records.js";

const graph = (...ids: string[]) => ({ node: (id: string) => (ids.includes(id) ? { id } : undefined) });
const meta = createRunState({ runId: "r", graphName: "g", fingerprint: "f", inputs: {}, nodeIds: [], now: 0 }).meta;
const ok = (id: string, output: unknown, fields: Partial<NodeRecord> = {}): NodeRecord => ({
  id,
  nodeId: id,
  status: "succeeded",
  attempts: 1,
  output,
  ...fields,
});
const visit = (nodeId: string, n: number, output: unknown, status: NodeRecord["status"] = "succeeded"): NodeRecord => ({
  id: `${nodeId}#${n}`,
  nodeId,
  status,
  attempts: 1,
  visit: n,
  ...(status === "succeeded" && { output }),
});
const collect = (records: NodeRecord[], ids: string[]) => collectOutputs(stateFromRecords(meta, records), graph(...ids));

describe("collectOutputs", () => {
  it("gives every succeeded node's output, in record order, and nothing for other statuses or unknown nodes", () => {
    const out = collect(
      [ok("b", 2), ok("a", undefined), { id: "c", nodeId: "c", status: "failed", attempts: 1 }, ok("gone", 9), ok("d", { deep: [1] })],
      ["a", "b", "c", "d"],
    );
    expect(out).toEqual({ b: 2, a: undefined, d: { deep: [1] } });
    expect(Object.keys(out)).toEqual(["b", "a", "d"]);
  });

  it("gives a routed node's latest succeeded visit, whatever the order of its records", () => {
    const ids = ["loop", "other"];
    expect(collect([ok("loop", 1), visit("loop", 2, 2), visit("loop", 3, 3, "failed"), ok("other", 0)], ids)).toEqual({ loop: 2, other: 0 });
    expect(collect([visit("loop", 3, 3), ok("loop", 1), visit("loop", 2, 2)], ids)).toEqual({ loop: 3 });
    expect(collect([visit("loop", 2, 2), ok("loop", 1)], ids)).toEqual({ loop: 2 });
    // A later visit that failed leaves the first visit's output.
    expect(collect([ok("loop", 1), visit("loop", 2, 2, "failed")], ids)).toEqual({ loop: 1 });
    expect(Object.keys(collect([ok("other", 0), ok("loop", 1), visit("loop", 2, 2)], ids))).toEqual(["other", "loop"]);
  });

  it("leaves out map elements (records of a node's activations that are not visits)", () => {
    const element: NodeRecord = { id: "m[0]", nodeId: "m", status: "succeeded", attempts: 1, output: "element" };
    expect(collect([ok("m", ["all"]), element], ["m"])).toEqual({ m: ["all"] });
    expect(collect([element], ["m"])).toEqual({});
  });

  it("gives the same with the graph's order, whether the records are at their graph positions or not (map elements, visits, other nodes between)", () => {
    const element: NodeRecord = { id: "a[0]", nodeId: "a", status: "succeeded", attempts: 1, output: "element" };
    const ids = ["a", "b", "loop", "d"];
    const cases: NodeRecord[][] = [
      [ok("a", 1), ok("b", 2), ok("loop", 3), ok("d", 4)],
      [ok("a", 1), element, ok("b", 2), ok("loop", 3), visit("loop", 2, 5), ok("d", 4)],
      [element, ok("gone", 9), ok("loop", 3), ok("a", 1), visit("loop", 2, 5), { id: "b", nodeId: "b", status: "failed", attempts: 1 }],
      [visit("loop", 2, 5), ok("b", 2), ok("loop", 3), ok("a", 1)],
    ];
    for (const records of cases) {
      const withOrder = collectOutputs(stateFromRecords(meta, records), { ...graph(...ids), order: ids });
      const byLookup = collect(records, ids);
      expect(withOrder).toEqual(byLookup);
      expect(Object.keys(withOrder)).toEqual(Object.keys(byLookup));
    }
  });
});
