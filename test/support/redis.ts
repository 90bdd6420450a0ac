/**
 * Tests against a real Redis on 127.0.0.1:6379. When none answers and CI
 * is not set, the suites are skipped with a notice; under CI they run
 * (and fail), since `.ci/run` starts Redis.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { describe } from "vitest";
import { jobIdOf } from "../../src/adapters/bullmq/job-payload.js";
import type { RunStore } from "../../src/persistence/run-store.js";

/** The Redis the tests use. */
export const REDIS_URL = process.env.TASKLOOM_TEST_REDIS ?? "redis://127.0.0.1:6379";

async function ping(): Promise<boolean> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** True when Redis answers. */
export const redisUp = await ping();

/** `describe`, or `describe.skip` with a notice when Redis is down and CI is not set. */
export function describeRedis(name: string, body: () => void): void {
  if (!redisUp && !process.env.CI) {
    console.warn(`NOTICE: skipping "${name}": no Redis at ${REDIS_URL} (start redis-server, or run .ci/run)`);
    describe.skip(name, body);
    return;
  }
  describe(name, body);
}

/** A key prefix no other test uses. */
export function uniquePrefix(label: string): string {
  return `tl-test:${label}:${randomUUID().slice(0, 8)}`;
}

/** Deletes every key under `prefix` (BullMQ's included, when its prefix is the same). */
export async function dropPrefix(prefix: string): Promise<void> {
  const client = new Redis(REDIS_URL);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== "0");
  } finally {
    client.disconnect();
  }
}

/**
 * Polls `check` until it returns a value other than undefined. Not a timed
 * assertion: the bound only keeps a broken build from hanging the suite.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, boundMs = 20_000): Promise<T> {
  const until = Date.now() + boundMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The BullMQ job id of attempt `attempt` of `activationId` in run `runId`
 * of `store`, once the run is stored: a run created with an executor names
 * its jobs with its random mark (`RunMeta.instance`), which only the
 * stored run tells.
 */
export async function attemptJobId(store: RunStore, runId: string, activationId: string, attempt: number): Promise<string> {
  const meta = await eventually(`run "${runId}" in its store`, async () => (await store.load(runId))?.state.meta);
  return jobIdOf(runId, activationId, attempt, meta.instance);
}
