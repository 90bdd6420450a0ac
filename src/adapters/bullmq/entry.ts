/**
 * What `import "taskloom/bullmq"` loads at run time (its types are
 * `index.ts`'s). It first checks that the optional peers `bullmq` and
 * `ioredis` can be found and throws `BullmqMissingError` (`BULLMQ_MISSING`,
 * one line saying what to install) when they cannot; only then does it
 * import the adapter, whose static imports of the peers would fail with a
 * bare `ERR_MODULE_NOT_FOUND`. The adapter is imported dynamically because
 * a static re-export is linked, and so resolved, before any check could run.
 *
 * The names below are `index.ts`'s value exports, one for one (a test
 * compares them).
 *
 * @example
 * ```ts
 * import { RedisStore, bullmqExecutor } from "taskloom/bullmq"; // BULLMQ_MISSING when bullmq is not installed
 * ```
 *
 * @module
 */
import { BullmqMissingError } from "../worker-errors.js";
import { missingPeers } from "./peers.js";

const missing = missingPeers();
if (missing.length > 0) throw new BullmqMissingError(missing);
const adapter = await import("./index.js");

export { BullmqMissingError };
export const {
  RedisStore,
  WorkerGraphMissingError,
  WorkerJobFailedError,
  WorkerJobLeftError,
  ExecutorClosedError,
  BullmqExecutor,
  bullmqExecutor,
  createWorker,
  jobHandlerProcessor,
  jobIdOf,
} = adapter;
