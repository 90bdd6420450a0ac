import { describe, expect, it } from "vitest";
import * as taskloom from "../src/index.js";
import * as bullmq from "../src/adapters/bullmq/index.js";

/** Every error class the "taskloom" entry exports, by export name. */
const errorExports = Object.entries(taskloom).filter(
  (entry): entry is [string, typeof taskloom.TaskloomError] =>
    typeof entry[1] === "function" && (entry[1] === taskloom.TaskloomError || entry[1].prototype instanceof taskloom.TaskloomError),
);

describe("error families (issue 15 item 5)", () => {
  it("LoopLimitExceededError and GraphHasPendingWaitsError are the contract classes under a second name", () => {
    expect(taskloom.LoopLimitExceededError).toBe(taskloom.LoopLimitExceeded);
    expect(taskloom.GraphHasPendingWaitsError).toBe(taskloom.GraphHasPendingWaits);
    const loop = new taskloom.LoopLimitExceeded("a", 3);
    expect(loop).toBeInstanceOf(taskloom.LoopLimitExceededError);
    expect(loop.name).toBe("LoopLimitExceeded");
    const waits = new taskloom.GraphHasPendingWaitsError("r", [{ key: "k", nodeId: "n", since: 0 }]);
    expect(waits).toBeInstanceOf(taskloom.GraphHasPendingWaits);
    expect(waits.code).toBe("PENDING_WAITS");
  });

  it("taskloom/bullmq exports the worker errors, the same classes as taskloom", () => {
    expect(bullmq.WorkerGraphMissingError).toBe(taskloom.WorkerGraphMissingError);
    expect(bullmq.WorkerJobFailedError).toBe(taskloom.WorkerJobFailedError);
    expect(new bullmq.WorkerJobFailedError("j1", "boom")).toBeInstanceOf(taskloom.TaskloomError);
  });

  it("the public entry still exports every error class, each a TaskloomError", () => {
    const names = errorExports.map(([name]) => name).sort();
    expect(names).toEqual(
      [
        "TaskloomError",
        "GraphDefinitionError",
        "InputValidationError",
        "NodeFailedError",
        "NonRetryableError",
        "NodeTimeoutError",
        "GraphHasPendingWaits",
        "GraphHasPendingWaitsError",
        "GraphChangedError",
        "RunInputsMismatchError",
        "StaleChildRunError",
        "RunLockedError",
        "SnapshotCorruptError",
        "UnsafeStoreFileError",
        "StoreFolderError",
        "LoopLimitExceeded",
        "LoopLimitExceededError",
        "RunCancelledError",
        "InvalidOptionError",
        "InvalidRunIdError",
        "RunNotFoundError",
        "PersistenceError",
        "ValueNotStorableError",
        "OutputError",
        "WaitTimeoutError",
        "WaitNotFoundError",
        "WaitAlreadyResolvedError",
        "NonDeterminismError",
        "UnknownRouteError",
        "InvalidScheduleError",
        "ScheduleNotFoundError",
        "ScheduleStateError",
        "ScheduleExistsError",
        "ExecutorNotRegisteredError",
        "ScheduleCorruptError",
        "SchedulePersistenceError",
        "ScheduleLockError",
        "LeaseLostError",
        "WorkerGraphMissingError",
        "WorkerJobFailedError",
        "WorkerJobLeftError",
        "ExecutorClosedError",
        "BullmqMissingError",
        "ActionNotAllowedError",
        "StageRegistrationError",
        "UnknownPathwayError",
        "UnknownStageError",
        "StaleJobResultError",
        "CancelNotAvailableError",
        "RunHandleDisposedError",
        "RunOutputsNotStoredError",
        "RunTimeoutError",
      ].sort(),
    );
  });
});
