/**
 * Cancelling a run from another process: this script starts a worker
 * process that drives a long run (a node that works in slices and stops
 * when its signal aborts), then cancels it from here with `cancelRun`,
 * as an admin endpoint or `taskloom cancel <run-id>` would. The worker
 * sees the request at its next lease renewal (a third of `leaseTtlMs`),
 * its running node's signal aborts, and it saves the run `cancelled`.
 *
 *     npx tsx examples/cancel.ts
 *
 * The same from a shell, with the default store in ./.taskloom:
 *
 *     npx taskloom cancel <run-id> --reason "bad input file"
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { LowdbStore, cancelRun, getRun, graph, runAsync } from "../src/index.js";

const RUN_ID = "reindex-2026-11-30";

/** A long job: indexes pages in slices until done or until its signal aborts. */
const reindex = graph("reindex")
  .node("index", async ({ signal, emit }) => {
    for (let page = 1; page <= 1_000; page++) {
      if (signal.aborted) throw signal.reason as Error;
      emit("page", page);
      await sleep(50);
    }
    return "done";
  })
  .build();

if (process.argv[2] === "worker") {
  // The worker process: drives the run, reports how it ended.
  const store = new LowdbStore({ dir: process.argv[3] as string });
  try {
    await runAsync(reindex, undefined, { runId: RUN_ID, store, leaseTtlMs: 3_000 });
  } catch (error) {
    console.log(`worker: the run ended with ${(error as Error).name}: ${(error as Error).message.split(".")[0]}`);
  } finally {
    await store.close();
  }
} else {
  const dir = mkdtempSync(join(tmpdir(), "taskloom-cancel-example-"));
  const store = new LowdbStore({ dir });
  try {
    const worker = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "worker", dir], { stdio: "inherit" });
    const exited = new Promise((resolve) => worker.on("exit", resolve));
    // Wait until the worker has started the run.
    while ((await store.load(RUN_ID))?.state.meta.status !== "running") await sleep(50);
    console.log(`main: run ${RUN_ID} is running in process ${worker.pid}; cancelling it from here`);
    const result = await cancelRun(RUN_ID, { store, reason: "the input file was wrong" });
    console.log(`main: cancelRun -> ${result.status} (stopped by the ${result.by})`);
    await exited;
    const stored = await getRun(RUN_ID, { store });
    console.log(`main: stored status ${stored.status}, error ${stored.error?.code}: ${stored.error?.message.split(".")[0]}`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
