/**
 * Events name an activation that is not its graph node itself (a later
 * visit, a map element) with `activationId`, `graphNodeId` and `visit` or
 * `index`; `nodeId` keeps the activation id for this release (CHANGELOG.md).
 */
import { describe, expect, it } from "vitest";
import { graph, MemoryStore, route, run, type RunEventMap } from "../src/index.js";

describe("event names of activations", () => {
  it("a map element's events carry activationId, graphNodeId and index; the map node's own do not", async () => {
    const g = graph("names-map")
      .node("list", () => [1, 2])
      .map("sq", "list", ({ item }) => item * item)
      .build();
    const handle = run(g, undefined, { store: new MemoryStore() });
    const starts: RunEventMap["node:start"][] = [];
    const successes: RunEventMap["node:success"][] = [];
    handle.events.on("node:start", (e) => void starts.push(e));
    handle.events.on("node:success", (e) => void successes.push(e));
    await handle.result();
    const element = successes.find((e) => e.nodeId === "sq[1]");
    expect(element).toMatchObject({ nodeId: "sq[1]", activationId: "sq[1]", graphNodeId: "sq", index: 1 });
    expect(starts.find((e) => e.nodeId === "sq[0]")).toMatchObject({ activationId: "sq[0]", graphNodeId: "sq", index: 0 });
    const mapNode = successes.find((e) => e.nodeId === "sq");
    expect(mapNode && "activationId" in mapNode).toBe(false);
    expect(mapNode && "graphNodeId" in mapNode).toBe(false);
  });

  it("a later visit's events carry activationId, graphNodeId and visit; a first visit's do not", async () => {
    const g = graph("names-visits")
      .node("draft", ({ visit }) => visit)
      .node("check", ({ deps }) => (deps.draft >= 2 ? route("accept", deps.draft) : route("revise", deps.draft)), {
        after: ["draft"],
        routes: { accept: "publish", revise: "draft" },
      })
      .node("publish", () => "done")
      .build();
    const handle = run(g, undefined, { store: new MemoryStore() });
    const successes: RunEventMap["node:success"][] = [];
    handle.events.on("node:success", (e) => void successes.push(e));
    await handle.result();
    expect(successes.find((e) => e.nodeId === "draft#2")).toMatchObject({ activationId: "draft#2", graphNodeId: "draft", visit: 2 });
    expect(successes.find((e) => e.nodeId === "check#2")).toMatchObject({ activationId: "check#2", graphNodeId: "check", visit: 2 });
    const first = successes.find((e) => e.nodeId === "draft");
    expect(first && "visit" in first).toBe(false);
  });
});
