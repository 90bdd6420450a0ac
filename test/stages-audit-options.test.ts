/**
 * Audit: every input at the stage runner's boundary is refused with a
 * typed error (`InvalidOptionError`, code `INVALID_OPTION`) naming what is
 * wrong, before anything runs; never a `TypeError` from deep inside.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defineWorkflow, InvalidOptionError, MemoryStore, MemoryTaskSource, StageRunner } from "../src/index.js";

const workflow = defineWorkflow({
  name: "audit-options",
  stages: [
    { id: "label", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

const silent = { out: { write: () => true }, err: { write: () => true } };

/** Values of any kind that are not what an option wants. */
const junk = fc.oneof(
  fc.constant(null),
  fc.constant(0),
  fc.constant(NaN),
  fc.constant(Infinity),
  fc.string(),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
  fc.constant(() => 1),
  fc.record({ now: fc.constant(() => 0) }),
);

describe("StageRunner options", () => {
  it("a clock that is not a Clock is refused when the runner is made (property)", async () => {
    await fc.assert(
      fc.asyncProperty(junk, async (clock) => {
        let error: unknown;
        try {
          const runner = new StageRunner(workflow, { store: new MemoryStore(), clock: clock as never });
          runner.stage("label", async () => "done");
          await runner.runAsync({ tasks: [{ id: "t1" }], runId: "r1" });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(InvalidOptionError);
        expect((error as Error).message).toMatch(/clock/);
      }),
      { numRuns: 40 },
    );
  });

  it("options that are an array, and a retryFailed that is an array, are refused", async () => {
    expect(() => new StageRunner(workflow, [] as never)).toThrow(InvalidOptionError);
    const runner = new StageRunner(workflow, { store: new MemoryStore() }).stage("label", async () => "done");
    await expect(runner.runAsync({ tasks: [], retryFailed: [] as never })).rejects.toThrow(InvalidOptionError);
  });
});

describe("task sources and the command", () => {
  it("a MemoryTaskSource of something other than an array is refused with InvalidOptionError", () => {
    for (const tasks of [{}, "t1", 5, null]) {
      expect(() => new MemoryTaskSource(tasks as never), JSON.stringify(tasks)).toThrow(InvalidOptionError);
    }
  });

  it("runner.cli with argv that is not an array of strings resolves to 1 with an error line, not a TypeError", async () => {
    const runner = new StageRunner(workflow, { store: new MemoryStore() }).stage("label", async () => "done");
    for (const argv of [null, "--tasks t.json", [5]]) {
      const lines: string[] = [];
      const code = await runner.cli(argv as never, { out: silent.out, err: { write: (s: string) => lines.push(s) } });
      expect(code, String(argv)).toBe(1);
      expect(lines.join(""), String(argv)).toMatch(/^error\[INVALID_OPTION\]: .*argv/);
    }
  });

  it("--refresh-every too large for a number is refused as --refresh-every, before anything is said or run", async () => {
    const runner = new StageRunner(workflow, { store: new MemoryStore() }).stage("label", async () => "done");
    const lines: string[] = [];
    const code = await runner.cli(["--tasks", "missing.json", "--refresh-every", "9".repeat(400)], {
      out: silent.out,
      err: { write: (s: string) => lines.push(s) },
    });
    expect(code).toBe(1);
    expect(lines.join("")).toMatch(/^error\[INVALID_OPTION\]: option --refresh-every /);
  });
});

describe("workflow definitions", () => {
  it("a hole in the stage list is reported, not skipped", () => {
    // eslint-disable-next-line no-sparse-arrays -- the hole is the point
    const stages = [, { id: "end", kind: "final" }] as never;
    expect(() => defineWorkflow({ name: "holes", stages })).toThrow(/stage #1 is not an object/);
  });
});
