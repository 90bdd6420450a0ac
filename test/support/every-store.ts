/**
 * The stores a case runs against when it must hold for every store:
 * `MemoryStore`, `LowdbStore` in both layouts, and `RedisStore` when Redis
 * is up (always under CI, where a missing Redis must fail, not skip):
 * `describe.each(everyStore("child-instance"))("… (%s)", (_name, makeStore) => …)`.
 * Each call of a maker gives a new store on a fresh folder or key prefix
 * (under `tl-test:<label>`); after the file's tests the stores are closed,
 * their folders removed and their keys dropped.
 */
import { afterAll } from "vitest";
import { RedisStore } from "../../src/adapters/bullmq/index.js";
import { MemoryStore, type RunStore } from "../../src/index.js";
import { dropPrefix, REDIS_URL, redisUp, uniquePrefix } from "./redis.js";
import { tempStores } from "./temp-stores.js";

/** `[name, make a new store]` for every store; `label` names the test's folders and key prefixes. */
export function everyStore(label: string): [string, () => RunStore][] {
  const { tempDir, lowdb } = tempStores(`taskloom-${label}-`);
  const redisStores: RedisStore[] = [];
  afterAll(async () => {
    for (const store of redisStores) await store.close();
    if (redisStores.length > 0) await dropPrefix(`tl-test:${label}`);
  });
  const makers: [string, () => RunStore][] = [
    ["MemoryStore", () => new MemoryStore()],
    ["LowdbStore", () => lowdb(tempDir())],
    ["LowdbStore, folders", () => lowdb(tempDir(), { layout: "folders" })],
  ];
  if (redisUp || process.env.CI) {
    makers.push([
      "RedisStore",
      () => {
        const store = new RedisStore({ connection: REDIS_URL, prefix: uniquePrefix(label) });
        redisStores.push(store);
        return store;
      },
    ]);
  }
  return makers;
}
