/**
 * The same graphs in DBOS Transact (`@dbos-inc/dbos-sdk`), a durable peer
 * whose state lives in PostgreSQL: one workflow per run, one checkpointed
 * step (`DBOS.runStep`) per node.
 *
 * - fan-out: the root step, then the N steps started through one
 *   `PQueue({ concurrency })` inside the workflow (step ids are assigned
 *   when a step starts, and the queue starts them in order), then the join;
 * - chain: N steps, each awaited before the next.
 *
 * DBOS writes each step's output to its system database
 * (`operation_outputs`) as its own transaction, and the workflow's status
 * at start and end. The system database is `DBOS_DATABASE_URL`, default
 * `postgres://postgres@127.0.0.1:5432/taskloom_bench_dbos` (DBOS creates it
 * and its schema at the first launch; launching is not timed). Each round is
 * a new workflow with its own id. What PostgreSQL flushes per commit is the
 * server's setting (`synchronous_commit`, `fsync`, `wal_sync_method`), read
 * and reported by `bench/run.ts`.
 *
 * @module
 */
import { DBOS } from "@dbos-inc/dbos-sdk";
import PQueue from "p-queue";
import { DBOS_DATABASE_URL } from "../peer-db.js";
import type { Shape } from "../protocol.js";
import type { Prepare, Prepared, Round } from "./types.js";

const noop = async (i: number): Promise<number> => i;

export const prepare: Prepare = async (shape: Shape, n: number, concurrency: number): Promise<Prepared> => {
  const t0 = performance.now();
  const fanout = DBOS.registerWorkflow(
    async (count: number): Promise<number> => {
      const root = await DBOS.runStep(() => noop(-1), { name: "root" });
      const queue = new PQueue({ concurrency });
      const tasks = new Array<Promise<number>>(count);
      for (let i = 0; i < count; i++) tasks[i] = queue.add(() => DBOS.runStep(() => noop(i + root + 1), { name: `n${i}` }));
      const values = await Promise.all(tasks);
      return DBOS.runStep(() => noop(values.length), { name: "join" });
    },
    { name: "benchFanout" },
  );
  const chain = DBOS.registerWorkflow(
    async (count: number): Promise<number> => {
      let previous = 0;
      for (let i = 0; i < count; i++) {
        const p = previous;
        previous = await DBOS.runStep(() => noop(p + 1), { name: `n${i}` });
      }
      return previous;
    },
    { name: "benchChain" },
  );
  DBOS.setConfig({ name: "taskloom-bench", systemDatabaseUrl: DBOS_DATABASE_URL, logLevel: "error" });
  await DBOS.launch();
  const buildMs = performance.now() - t0;
  const workflow = shape === "fanout" ? fanout : chain;
  const tag = `${process.pid}-${Date.now()}`;
  return {
    buildMs,
    async round(index: number): Promise<Round> {
      return {
        run: async () => {
          const handle = await DBOS.startWorkflow(workflow, { workflowID: `bench-${shape}-${n}-${tag}-${index}` })(n);
          await handle.getResult();
        },
        cleanup: async () => {},
      };
    },
    close: () => DBOS.shutdown(),
  };
};
