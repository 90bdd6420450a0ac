/**
 * RedisStore checks the whole shape of what it loads, as LowdbStore does:
 * a snapshot or journal entry that parses but lacks fields is
 * `SnapshotCorruptError` naming the key, and `list` skips (and reports) a
 * summary of the wrong shape.
 */
import { Redis } from "ioredis";
import { afterAll, expect, it } from "vitest";
import { RedisStore } from "../src/adapters/bullmq/index.js";
import { getRun, listRuns, serialize, SnapshotCorruptError } from "../src/index.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";
import { describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";

describeRedis("RedisStore: shape checks on load", () => {
  const prefix = uniquePrefix("shape");
  const store = new RedisStore({ connection: REDIS_URL, prefix });
  const redis = new Redis(REDIS_URL);
  afterAll(async () => {
    await store.close();
    redis.disconnect();
    await dropPrefix(prefix);
  });

  const refusal = (runId: string) =>
    getRun(runId, { store }).then(
      () => undefined,
      (e: unknown) => e,
    );

  it("refuses a snapshot that holds only { meta: { runId } }, naming its key", async () => {
    await redis.set(`${prefix}:run:r1:snap`, serialize({ version: 1, seq: 0, meta: { runId: "r1" }, nodes: [] }));
    const err = await refusal("r1");
    expect(err).toBeInstanceOf(SnapshotCorruptError);
    expect((err as SnapshotCorruptError).file).toContain(`${prefix}:run:r1:snap`);
  });

  it("refuses a snapshot whose node record has no status", async () => {
    await store.writeSnapshot(sampleRun("r2"), 0);
    const doc = JSON.parse((await redis.get(`${prefix}:run:r2:snap`))!) as { json: { nodes: { status?: string }[] } };
    delete doc.json.nodes[0]!.status;
    await redis.set(`${prefix}:run:r2:snap`, JSON.stringify(doc));
    expect(await refusal("r2")).toBeInstanceOf(SnapshotCorruptError);
  });

  it("refuses a journal entry of the wrong shape, naming the journal key", async () => {
    await store.writeSnapshot(sampleRun("r3"), 0);
    await store.append("r3", [nodeRecord(1, "b")]);
    await redis.rpush(`${prefix}:run:r3:journal`, `2|${serialize({ kind: "node", seq: 2, node: { id: "c" } })}`);
    const err = await refusal("r3");
    expect(err).toBeInstanceOf(SnapshotCorruptError);
    expect((err as SnapshotCorruptError).file).toContain(`${prefix}:run:r3:journal`);
  });

  it("list skips a summary of the wrong shape, reports it, and lists the rest", async () => {
    await store.writeSnapshot(sampleRun("good"), 0);
    await redis.hset(`${prefix}:runs`, "bad", "");
    await redis.hset(`${prefix}:runs`, "bad2", serialize({ runId: "bad2" }));
    const problems: unknown[] = [];
    const runs = await listRuns({ store, onProblem: (p) => problems.push(p) });
    expect(runs.map((r) => r.runId)).toContain("good");
    expect(runs.map((r) => r.runId)).not.toContain("bad");
    // The two bad summaries are reported; so are the runs damaged by the tests above (r2, r3), which listRuns reads
    // for their node counts: they stay listed (a damaged run never vanishes from the listing), with their summary's counts.
    const named = (id: string) => problems.filter((p) => (p as Error).message.includes(`(run "${id}")`));
    expect(named("bad")).toHaveLength(1);
    expect(named("bad2")).toHaveLength(1);
    const damaged = ["r2", "r3"].filter((id) => named(id).length === 1);
    for (const id of damaged) expect(runs.map((r) => r.runId)).toContain(id);
    expect(problems).toHaveLength(2 + damaged.length);
    expect(problems.every((p) => p instanceof SnapshotCorruptError)).toBe(true);
  });
});
