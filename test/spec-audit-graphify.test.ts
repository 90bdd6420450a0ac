/**
 * Stored graphs audit, graphify: a task's options must be an object. An
 * array has no unknown keys, so `task(id, fn, [{ retry }])` was accepted
 * and its settings dropped without a word.
 */
import { describe, expect, it } from "vitest";
import { GraphDefinitionError, graphify, task } from "../src/index.js";

describe("graphify task options", () => {
  it("refuses an array, naming the task", () => {
    const make = (): unknown =>
      graphify("g", () => {
        task("a", () => 1, [{ retry: { maxAttempts: 5 } }] as never)();
      });
    expect(make).toThrow(GraphDefinitionError);
    expect(make).toThrow('task "a": options must be an object (got an array)');
  });

  it("refuses null as before, and takes an object", () => {
    expect(() => graphify("g", () => void task("a", () => 1, null as never)())).toThrow('task "a": options must be an object (got null)');
    expect(graphify("g", () => void task("a", () => 1, { retry: { maxAttempts: 5 } })()).node("a")?.retry).toEqual({ maxAttempts: 5 });
  });
});
