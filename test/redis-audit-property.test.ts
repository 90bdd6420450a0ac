/**
 * Whatever a `RedisStore` lease key holds (any JSON, text that is not
 * JSON, leases with fields missing or of the wrong type), every lease
 * call ends with the run's lease or a taskloom error: a key that holds no
 * lease is `SnapshotCorruptError` naming the key, never Redis's raw
 * script error or a `RangeError` from formatting a holder with no expiry.
 */
import { hostname } from "node:os";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RedisStore } from "../src/adapters/bullmq/redis-store.js";
import { isTaskloomError, SnapshotCorruptError } from "../src/index.js";
import { describe } from "../src/errors.js";
import type { Lease } from "../src/persistence/run-store.js";
import { checkLease } from "../src/persistence/snapshot-schema.js";
import { sampleRun } from "./store-conformance.js";
import { describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";

/** A value of any JSON type, for a lease field. */
const anyField = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}));

/** What a lease key may hold: near-miss leases (some fields missing or of another type), any JSON, any text. */
const stored = fc.oneof(
  fc
    .record(
      {
        runId: fc.oneof(fc.constant("r1"), anyField),
        owner: fc.oneof(fc.constantFrom("o1", "o2"), anyField),
        pid: fc.oneof(fc.constant(process.pid), anyField),
        host: fc.oneof(fc.constant(hostname()), anyField),
        expiresAt: fc.oneof(fc.constant(Date.now() + 60_000), fc.constant(1), anyField),
        token: fc.oneof(fc.constant(1), anyField),
      },
      { requiredKeys: [] },
    )
    .map((lease) => JSON.stringify(lease)),
  fc.jsonValue().map((value) => JSON.stringify(value) ?? "null"),
  fc.string({ maxLength: 20 }),
);

/** Whether `text` parses to a lease, as the store checks it. */
function isLease(text: string): boolean {
  try {
    return checkLease(JSON.parse(text)) === undefined;
  } catch {
    return false;
  }
}

describeRedis("RedisStore lease keys (audit property)", () => {
  const prefix = uniquePrefix("lease-prop");
  const key = `${prefix}:lease:r1`;
  let store: RedisStore;
  let admin: Redis;
  let lease: Lease;
  beforeAll(async () => {
    store = new RedisStore({ connection: REDIS_URL, prefix });
    admin = new Redis(REDIS_URL);
    lease = await store.acquireLease("r1", { owner: "o1", pid: process.pid, host: hostname(), ttlMs: 60_000, now: Date.now() });
    await store.writeSnapshot(sampleRun("r1"), 0, lease);
  });
  afterAll(async () => {
    await store.close();
    admin.disconnect();
    await dropPrefix(prefix);
  });

  it("ends every lease call with a result or a taskloom error; a key holding no lease is SnapshotCorruptError naming it", async () => {
    const request = { owner: "o2", pid: process.pid, host: hostname(), ttlMs: 60_000, now: Date.now() };
    const calls: [string, () => Promise<unknown>][] = [
      ["acquireLease", () => store.acquireLease("r1", request)],
      ["renewLease", () => store.renewLease(lease, 60_000, Date.now())],
      ["releaseLease", () => store.releaseLease(lease)],
      ["readLease", () => store.readLease("r1")],
      ["requestCancel", () => store.requestCancel("r1", { token: 1, reason: "stop", at: Date.now() })],
      ["delete (with the lease)", () => store.delete("r1", lease)],
      ["append (fenced)", () => store.append("r1", [], lease)],
    ];
    await fc.assert(
      fc.asyncProperty(stored, fc.integer({ min: 0, max: calls.length - 1 }), async (text, which) => {
        await admin.set(key, text);
        const [name, call] = calls[which]!;
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        if (!isLease(text)) {
          expect(error, `${name} on ${text}`).toBeInstanceOf(SnapshotCorruptError);
          expect((error as SnapshotCorruptError).file).toBe(`redis key "${key}" (run "r1")`);
        } else if (error !== undefined) {
          expect(isTaskloomError(error), `${name} on ${text}: ${describe(error)}`).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
