/**
 * `taskloom worker <module>`: a BullMQ worker process that runs the node
 * bodies of every graph the module exports, for coordinators that run
 * those graphs with `bullmqExecutor` (see docs/distributed.md). It runs
 * until SIGINT or SIGTERM, then lets the running bodies finish and exits 0.
 *
 * The adapter is imported only here, and dynamically: the rest of the CLI
 * works without `bullmq` and `ioredis` installed, and this command says
 * how to install them when they are missing.
 *
 * @module
 */
import { BullmqMissingError, InvalidOptionError } from "../../index.js";
import type { CommandContext } from "../context.js";
import { CliError, errorSummary } from "../errors.js";
import { graphsIn, importModule } from "../load-graph.js";

/** Options of `taskloom worker`. */
export interface WorkerCommandOptions {
  readonly redis?: string | undefined;
  readonly concurrency?: string | undefined;
  readonly queue?: string | undefined;
  readonly prefix?: string | undefined;
}

type Adapter = typeof import("../../adapters/bullmq/index.js");

async function loadAdapter(): Promise<Adapter> {
  try {
    // The entry that `import "taskloom/bullmq"` loads: it names the missing peers (BullmqMissingError).
    return await import("../../adapters/bullmq/entry.js");
  } catch (err) {
    if (err instanceof BullmqMissingError) throw new BullmqMissingError(err.missing, "the worker command");
    throw new CliError(
      "BULLMQ_MISSING",
      `the worker command needs the optional packages bullmq and ioredis (${errorSummary(err)}). Run "npm install bullmq ioredis" in your project.`,
      { cause: err },
    );
  }
}

/** Runs the command until a signal stops it; resolves to the exit code. */
export async function workerCommand(
  ctx: CommandContext,
  modulePath: string,
  options: WorkerCommandOptions,
  stopped: Promise<string> = nextSignal(),
): Promise<number> {
  // Digits only, as for every count option: Number() would take "0x10", "1e1" and "".
  const concurrency = options.concurrency === undefined ? 8 : /^\d+$/.test(options.concurrency.trim()) ? Number(options.concurrency) : NaN;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new InvalidOptionError("--concurrency", `must be a whole number of at least 1 (got "${options.concurrency}")`);
  }
  // An empty TASKLOOM_REDIS is unset, as an empty TASKLOOM_DIR is.
  const redis = options.redis ?? (ctx.io.env.TASKLOOM_REDIS || "redis://127.0.0.1:6379");
  try {
    new URL(redis);
  } catch {
    throw new InvalidOptionError("--redis", `must be a Redis URL such as redis://127.0.0.1:6379 (got ${redis})`);
  }
  const adapter = await loadAdapter();
  const { file, ns } = await importModule(modulePath, ctx.io.cwd);
  const found = graphsIn(ns);
  if (found.length === 0) throw new CliError("NO_GRAPH_EXPORT", `${file} exports no taskloom graph; export the graphs this worker should run.`);
  const queue = options.queue ?? "taskloom";
  const worker = adapter.createWorker({
    connection: redis,
    queue,
    ...(options.prefix !== undefined && { prefix: options.prefix }),
    graphs: found.map((f) => f.graph) as unknown as Parameters<Adapter["createWorker"]>[0]["graphs"],
    concurrency,
  });
  await worker.waitUntilReady();
  ctx.io.err.write(
    `taskloom worker ${process.pid}: queue "${queue}" on ${redis}, graphs ${found.map((f) => f.graph.name).join(", ")}, concurrency ${concurrency}\n`,
  );
  const signal = await stopped;
  ctx.io.err.write(`taskloom worker ${process.pid}: ${signal}, finishing running jobs\n`);
  await worker.close();
  return 0;
}

/** Resolves with the name of the first SIGINT or SIGTERM. */
function nextSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(signal);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}
