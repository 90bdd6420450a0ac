/**
 * listRuns, getRun and deleteRun check their arguments as the CLI does
 * (issue 20, item 5): a status that is not a run status, an unknown
 * option key, or a run id that is not a string is refused, never answered
 * with an empty list or passed to the store.
 */
import { describe, expect, it } from "vitest";
import {
  deleteRun,
  getRun,
  graph,
  InvalidOptionError,
  InvalidRunIdError,
  listRuns,
  MemoryStore,
  RUN_STATUSES,
  runAsync,
  type RunQuery,
  type StoreOption,
} from "../src/index.js";
import { rejection } from "./support/async.js";

describe("listRuns", () => {
  it("refuses a status that is not a run status, listing the statuses", async () => {
    const store = new MemoryStore();
    for (const status of ["bogus", ["failed", "bogus"], 3, null]) {
      const err = await rejection(listRuns({ store, status: status as never }));
      expect(err, JSON.stringify(status)).toBeInstanceOf(InvalidOptionError);
      expect((err as InvalidOptionError).option).toBe("status");
      expect((err as Error).message).toContain(`must be one of ${RUN_STATUSES.join(", ")}, or a list of them`);
    }
  });

  it("refuses an unknown option with the nearest key", async () => {
    const err = await rejection(listRuns({ store: new MemoryStore(), statuss: "failed" } as never));
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).option).toBe("statuss");
    expect((err as Error).message).toContain('option statuss of listRuns is not known (did you mean "status"?)');
  });

  it("accepts every status and every documented option", async () => {
    const store = new MemoryStore();
    await runAsync(
      graph("g")
        .node("a", () => 1)
        .build(),
      undefined,
      { store, runId: "ok" },
    );
    const all: Required<RunQuery & StoreOption> = { store, status: [...RUN_STATUSES], onProblem: () => undefined };
    expect((await listRuns(all)).map((r) => r.runId)).toEqual(["ok"]);
    for (const status of RUN_STATUSES) await listRuns({ store, status });
  });
});

describe("getRun and deleteRun", () => {
  it("refuse an unknown option with the nearest key", async () => {
    const store = new MemoryStore();
    for (const [name, call] of [
      ["getRun", () => getRun("r", { stor: store } as never)],
      ["deleteRun", () => deleteRun("r", { stor: store } as never)],
    ] as const) {
      const err = await rejection(call());
      expect(err, name).toBeInstanceOf(InvalidOptionError);
      expect((err as Error).message).toContain(`option stor of ${name} is not known (did you mean "store"?)`);
    }
  });

  it("refuse a run id that is not a string", async () => {
    const store = new MemoryStore();
    expect(await rejection(getRun(42 as never, { store }))).toBeInstanceOf(InvalidRunIdError);
    expect(await rejection(deleteRun({ id: "r" } as never, { store }))).toBeInstanceOf(InvalidRunIdError);
  });
});
