import { describe, expect, it } from "vitest";
import * as taskloom from "../src/index.js";

describe("the public entry (issue 15 item 5)", () => {
  it("does not export the engine's internals", () => {
    for (const name of ["ReadySet", "RoutingReadySet", "visitId", "AttemptContext", "AttemptAbort", "RoutingTopology"]) {
      expect(Object.keys(taskloom), name).not.toContain(name);
    }
  });

  it("still exports the engine entry class and its ports", () => {
    expect(typeof taskloom.ForwardScheduler).toBe("function");
    expect(typeof taskloom.DEFAULT_MAX_VISITS).toBe("number");
    expect(typeof taskloom.resolveRetryPolicy).toBe("function");
  });
});
