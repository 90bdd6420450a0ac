/**
 * With `bullmqExecutor`, an attempt that times out ends in the coordinator
 * at once, but its job's body may go on in its worker: the cancel only
 * aborts its signal. Before, the worker ended the job at once (freeing its
 * place in the worker's `concurrency` while the body ran on) and the
 * coordinator added the retry's job at once, so two attempts of one node
 * ran side by side, and a worker ran more bodies than its `concurrency`.
 * Now the worker keeps a timed-out job while its body goes on (for as long
 * again as the time limit at most), and the coordinator's attempt settles
 * only when the job ends (engine/lingering-bodies.ts).
 */
import { afterEach, expect, it } from "vitest";
import { graph, MemoryStore, runAsync } from "../src/index.js";
import { bullmqExecutor, createWorker } from "../src/adapters/bullmq/index.js";
import { describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Span {
  readonly node: string;
  readonly attempt: number;
  readonly start: number;
  end?: number;
}

/**
 * Node "a" whose first attempt ignores its signal and ends 1.2 s after it
 * started (its limit is 0.8 s, its grace until 1.6 s), and a quick node "b";
 * every body's span, and the most bodies running at once in this process's worker.
 */
function scenario() {
  const spans: Span[] = [];
  let running = 0;
  let most = 0;
  const body = async (node: string, attempt: number, ms: number): Promise<string> => {
    const span: Span = { node, attempt, start: Date.now() };
    spans.push(span);
    running += 1;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, ms));
    running -= 1;
    span.end = Date.now();
    return `${node} ${attempt}`;
  };
  const g = graph("timeout-linger")
    .node("a", ({ attempt }) => body("a", attempt, attempt === 1 ? 1_200 : 10), {
      timeoutMs: 800,
      retry: { maxAttempts: 2, backoff: { initialMs: 10, jitter: false } },
    })
    .node("b", ({ attempt }) => body("b", attempt, 10))
    .build();
  return { g, spans, most: () => most };
}

async function start(g: ReturnType<typeof scenario>["g"], concurrency: number) {
  const prefix = uniquePrefix("timeout-linger");
  closers.push(() => dropPrefix(prefix));
  const worker = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs: [g], concurrency });
  closers.push(() => worker.close(true));
  const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
  closers.push(() => executor.close());
  await worker.waitUntilReady();
  return executor;
}

describeRedis("bullmqExecutor: a timed-out job whose body goes on", () => {
  it("the node's next attempt starts only once the first attempt's body has ended in its worker", async () => {
    const { g, spans } = scenario();
    const executor = await start(g, 4);
    const outputs = await runAsync(g, undefined, { runId: "linger-1", store: new MemoryStore(), executor, maxConcurrency: 4 });
    expect(outputs).toEqual({ a: "a 2", b: "b 1" });
    const [first, second] = spans.filter((s) => s.node === "a");
    expect(first?.end).toBeDefined();
    expect(second!.start).toBeGreaterThanOrEqual(first!.end!);
  }, 30_000);

  it("a worker runs no more bodies than its concurrency while a timed-out body goes on", async () => {
    const { g, most } = scenario();
    const executor = await start(g, 1);
    const outputs = await runAsync(g, undefined, { runId: "linger-2", store: new MemoryStore(), executor, maxConcurrency: 4 });
    expect(outputs).toEqual({ a: "a 2", b: "b 1" });
    expect(most()).toBe(1);
  }, 30_000);
});
