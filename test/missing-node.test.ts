/**
 * `missingNode` (src/runner/prepare-run.ts), the check that a stored run
 * has a record of every node of its graph before it resumes: it takes a
 * record at the node's own graph position without a lookup, and looks the
 * others up. These cases pin that the answer does not depend on where the
 * records sit: the first node of the list without any record, or none.
 */
import { describe, expect, it } from "vitest";
import { missingNode } from "../src/runner/prepare-run.js";
import { createRunState, stateFromRecords } from "../src/state/run-state.js";
import { createNodeTable } from "../src/state/node-table.js";
import type { NodeRecord } from "../src/state/records.js";

const meta = createRunState({ runId: "r", graphName: "g", fingerprint: "f", inputs: {}, nodeIds: [], now: 0 }).meta;
const rec = (id: string, nodeId = id): NodeRecord => ({ id, nodeId, status: "pending", attempts: 0 });
const missing = (records: NodeRecord[], ids: string[]) => missingNode(stateFromRecords(meta, records), ids);

describe("missingNode", () => {
  it("finds none when every node has a record, in graph order or not, with other records between", () => {
    expect(missing([rec("a"), rec("b"), rec("c")], ["a", "b", "c"])).toBeUndefined();
    expect(missing([rec("c"), rec("a"), rec("b")], ["a", "b", "c"])).toBeUndefined();
    expect(missing([rec("a"), rec("a[0]", "a"), rec("b"), rec("c")], ["a", "b", "c"])).toBeUndefined();
    expect(missing([rec("a"), rec("b"), rec("c"), rec("gone")], ["a", "b", "c"])).toBeUndefined();
  });

  it("names the first node of the list without a record, wherever the others sit", () => {
    expect(missing([rec("a"), rec("c")], ["a", "b", "c"])).toBe("b");
    expect(missing([rec("a"), rec("b")], ["a", "b", "c"])).toBe("c");
    expect(missing([rec("b"), rec("x"), rec("y")], ["a", "b", "c"])).toBe("a");
    expect(missing([rec("c"), rec("b[0]", "b"), rec("a")], ["a", "b", "c"])).toBe("b");
    expect(missing([], ["a"])).toBe("a");
  });

  it("given the graph's map of positions, answers as without it, for a table built on that map and for any other", () => {
    const positions = new Map([
      ["a", 0],
      ["b", 1],
      ["c", 2],
    ]);
    const ids = ["a", "b", "c"];
    // Built on the map (a load with its graph's layout): a record of every node, in place, and an element after them.
    const laidOut = { meta, nodes: createNodeTable([rec("a"), rec("b"), rec("c"), rec("a[0]", "a")], positions) };
    expect(missingNode(laidOut, ids, positions)).toBeUndefined();
    expect(missingNode(laidOut, ids)).toBeUndefined();
    // A table with its own index is still looked through.
    expect(missingNode(stateFromRecords(meta, [rec("a"), rec("c")]), ids, positions)).toBe("b");
    expect(missingNode(stateFromRecords(meta, [rec("c"), rec("b"), rec("a")]), ids, positions)).toBeUndefined();
  });
});
