/**
 * A bug hunt in the BullMQ adapter's parts other than the worker:
 * `RedisStore`, the coordinator's executor and the adapter's option
 * checks. Each case failed before its fix:
 *
 * - `bullmqExecutor.close()` left the attempts it was waiting for waiting
 *   forever (the run never ended), and a later cancel or stop of the run
 *   opened new Redis connections, which kept the process alive;
 * - a lease key holding JSON that is not a lease made the lease calls fail
 *   with Redis's raw script error (or a `RangeError`), `releaseLease` with
 *   the raw error even for text that is not JSON, and `readLease` hand on
 *   `{}` as a lease;
 * - `RedisStore` took any value as a run id into its keys (`undefined`, a
 *   number, `{`, megabytes of text);
 * - a `URL` object (or any class instance) as `connection` became a silent
 *   connection to 127.0.0.1, and an IPv6 URL (`redis://[::1]:6379`) was
 *   looked up in DNS as `[::1]`, never connecting.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { hostname } from "node:os";
import { Redis } from "ioredis";
import { afterEach, expect, it, vi } from "vitest";
import { ExecutorClosedError, graph, InvalidOptionError, InvalidRunIdError, MemoryStore, NodeFailedError, run, SnapshotCorruptError } from "../src/index.js";
import { bullmqExecutor, RedisStore } from "../src/adapters/bullmq/index.js";
import type { LeaseRequest } from "../src/persistence/run-store.js";
import { sampleRun } from "./store-conformance.js";
import { attemptJobId, describeRedis, dropPrefix, eventually, REDIS_URL, uniquePrefix } from "./support/redis.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const close of closers.splice(0).reverse()) await close();
});

const request = (owner: string, fields: Partial<LeaseRequest> = {}): LeaseRequest => ({
  owner,
  pid: process.pid,
  host: hostname(),
  ttlMs: 60_000,
  now: Date.now(),
  ...fields,
});

/** A store on a prefix of its own, closed and dropped after the test. */
function openStore(label: string): { store: RedisStore; prefix: string } {
  const prefix = uniquePrefix(label);
  const store = new RedisStore({ connection: REDIS_URL, prefix });
  closers.push(() => dropPrefix(prefix));
  closers.push(() => store.close());
  return { store, prefix };
}

/** What `promise` came to, or "still waiting" after `boundMs` (a bound against a hang, not a timed assertion). */
async function outcome(promise: Promise<unknown>, boundMs = 10_000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise((resolve) => (timer = setTimeout(() => resolve("still waiting"), boundMs)));
  try {
    return await Promise.race([
      promise.then(
        () => "resolved",
        (error: unknown) => error,
      ),
      bound,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describeRedis("bullmqExecutor (audit)", () => {
  it("fails the attempts it waits for when it is closed, and opens no connection once closed", async () => {
    const prefix = uniquePrefix("exec-close");
    closers.push(() => dropPrefix(prefix));
    const g = graph("exec-close")
      .node("a", () => 1)
      .build();
    // No worker: the attempt waits for its job until the executor closes.
    const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
    const store = new MemoryStore();
    const handle = run(g, {}, { runId: "close-1", store, executor });
    const jobId = await attemptJobId(store, "close-1", "a", 1);
    const job = await eventually("the job in the queue", async () => (await executor.queue.getJob(jobId)) ?? undefined);
    const connects = vi.spyOn(Redis.prototype, "connect");
    await executor.close();

    const ended = await outcome(handle.result());
    expect(ended).toBeInstanceOf(NodeFailedError);
    expect((ended as NodeFailedError).cause).toBeInstanceOf(ExecutorClosedError);
    expect((ended as NodeFailedError).cause).toMatchObject({ code: "EXECUTOR_CLOSED" });
    expect(((ended as NodeFailedError).cause as Error).message).toMatch(/bullmqExecutor was closed/);
    // The run stopped (its cancels, its side channels' deletion) without a client opened again to do it.
    expect(connects).not.toHaveBeenCalled();
    // The job is left in the queue, for a coordinator that resumes the run.
    const left = new Redis(REDIS_URL);
    closers.push(async () => left.disconnect());
    expect(await left.exists(`${prefix}:q:${job.id}`)).toBe(1);
  });
});

describeRedis("RedisStore (audit)", () => {
  it("reports a lease key that holds no lease as SnapshotCorruptError naming the key, in every lease call", async () => {
    const { store, prefix } = openStore("bad-lease");
    const admin = new Redis(REDIS_URL);
    closers.push(async () => admin.disconnect());
    const key = `${prefix}:lease:r1`;
    const lease = await store.acquireLease("r1", request("o1"));
    await store.writeSnapshot(sampleRun("r1"), 0, lease);
    const calls: [string, () => Promise<unknown>][] = [
      ["acquireLease", () => store.acquireLease("r1", request("o2"))],
      ["acquireLease (its owner)", () => store.acquireLease("r1", request("o1"))],
      ["renewLease", () => store.renewLease(lease, 60_000, Date.now())],
      ["releaseLease", () => store.releaseLease(lease)],
      ["readLease", () => store.readLease("r1")],
      ["requestCancel", () => store.requestCancel("r1", { token: lease.token, reason: "stop", at: Date.now() })],
      ["delete", () => store.delete("r1")],
      ["delete (with the lease)", () => store.delete("r1", lease)],
      ["append (fenced)", () => store.append("r1", [], lease)],
      ["writeSnapshot (fenced)", () => store.writeSnapshot(sampleRun("r1"), 0, lease)],
    ];
    for (const stored of ["not json", "{}", "[]", "42", '{"owner":"o1","token":1}', '{"owner":"o2","token":"1","expiresAt":1}']) {
      await admin.set(key, stored);
      for (const [name, call] of calls) {
        const error = await call().catch((e: unknown) => e);
        expect(error, `${name} on ${stored}`).toBeInstanceOf(SnapshotCorruptError);
        expect((error as SnapshotCorruptError).file, `${name} on ${stored}`).toBe(`redis key "${key}" (run "r1")`);
      }
      // Nothing was changed: the key is left for the operator to inspect.
      expect(await admin.get(key)).toBe(stored);
    }
  });

  it("refuses a value that is not a run id with InvalidRunIdError before it becomes part of a key", async () => {
    const { store, prefix } = openStore("bad-run-id");
    const lease = await store.acquireLease("r1", request("o1"));
    const bad: unknown[] = [undefined, 42, "", "{r1}", "a b", "x".repeat(100_000), "../r1"];
    for (const runId of bad) {
      const id = runId as string;
      const calls: [string, () => Promise<unknown>][] = [
        ["load", () => store.load(id)],
        ["append", () => store.append(id, [])],
        ["writeSnapshot", () => store.writeSnapshot({ ...sampleRun("r1"), meta: { ...sampleRun("r1").meta, runId: id } }, 0)],
        ["delete", () => store.delete(id)],
        ["acquireLease", () => store.acquireLease(id, request("o2"))],
        ["renewLease", () => store.renewLease({ ...lease, runId: id }, 60_000, Date.now())],
        ["releaseLease", () => store.releaseLease({ ...lease, runId: id })],
        ["requestCancel", () => store.requestCancel(id, { token: 1, reason: "stop", at: Date.now() })],
        ["readLease", () => store.readLease(id)],
      ];
      for (const [name, call] of calls) {
        const error = await call().catch((e: unknown) => e);
        expect(error, `${name}(${String(runId).slice(0, 20)})`).toBeInstanceOf(InvalidRunIdError);
        expect((error as InvalidRunIdError).code).toBe("INVALID_RUN_ID");
      }
    }
    // Only the one valid run's keys exist.
    const admin = new Redis(REDIS_URL);
    closers.push(async () => admin.disconnect());
    expect((await admin.keys(`${prefix}:*`)).sort()).toEqual([`${prefix}:lease:r1`, `${prefix}:token:r1`]);
  });
});

describeRedis("connection option (audit)", () => {
  it("refuses a URL object or another class instance instead of connecting to 127.0.0.1", () => {
    const instances: unknown[] = [new URL("redis://10.0.0.5:6379"), new Map([["host", "10.0.0.5"]]), new (class Settings {})()];
    const makers = {
      RedisStore: (connection: unknown) => new RedisStore({ connection: connection as string }),
      bullmqExecutor: (connection: unknown) => bullmqExecutor({ connection: connection as string }),
    };
    for (const [maker, make] of Object.entries(makers)) {
      for (const connection of instances) {
        let thrown: unknown;
        try {
          make(connection);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `${maker} ${String(connection)}`).toBeInstanceOf(InvalidOptionError);
        expect((thrown as InvalidOptionError).option).toBe("connection");
      }
    }
    // Plain options (an object literal, or one without a prototype) are still options.
    expect(new RedisStore({ connection: { host: "10.0.0.5", port: 6380 } }).location).toBe("redis://10.0.0.5:6380/0#taskloom");
    expect(new RedisStore({ connection: Object.assign(Object.create(null) as object, { host: "10.0.0.6" }) }).location).toBe(
      "redis://10.0.0.6:6379/0#taskloom",
    );
  });

  it("connects to an IPv6 address written in a URL (redis://[::1]:port)", async () => {
    let server: Server | undefined;
    const connected = new Promise<void>((resolve, reject) => {
      server = createServer((socket) => {
        socket.destroy();
        resolve();
      });
      server.on("error", reject);
    });
    const port = await new Promise<number | undefined>((resolve) => {
      server!.once("error", () => resolve(undefined));
      server!.listen(0, "::1", () => resolve((server!.address() as { port: number }).port));
    });
    closers.push(() => new Promise((resolve) => server!.close(() => resolve())));
    if (port === undefined) return; // no IPv6 loopback on this machine: nothing to connect to
    const store = new RedisStore({ connection: `redis://[::1]:${port}`, prefix: "tl-test:ipv6" });
    expect(store.location).toBe(`redis://[::1]:${port}/0#tl-test:ipv6`);
    // The store's client reaches the server (which hangs up: no Redis there); before, it looked "[::1]" up in DNS.
    void store.list().catch(() => undefined);
    expect(await outcome(connected)).toBe("resolved");
    await store.close();
  });
});

/**
 * A TCP proxy to the test Redis that can take Redis away: `cut()` drops
 * every connection and hangs up on new ones (the clients reconnect, and
 * keep trying), as a Redis restarting or a partition would; `refused()`
 * counts the connections hung up on since.
 */
async function redisProxy(): Promise<{ url: string; cut: () => void; refused: () => number }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let down = false;
  let refused = 0;
  const server = createServer((socket) => {
    if (down) {
      refused += 1;
      return void socket.destroy();
    }
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => sockets.delete(s));
    }
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const cut = (): void => {
    down = true;
    for (const s of sockets) s.destroy();
  };
  return { url: `redis://127.0.0.1:${(server.address() as { port: number }).port}`, cut, refused: () => refused };
}

describeRedis("closing while Redis is away (audit)", () => {
  it("closes bullmqExecutor and RedisStore, and ends the run, while Redis is unreachable", async () => {
    const prefix = uniquePrefix("away");
    closers.push(() => dropPrefix(prefix));
    const proxy = await redisProxy();
    const g = graph("away")
      .node("a", () => 1)
      .build();
    const executor = bullmqExecutor({ connection: proxy.url, prefix, queue: "q" });
    const store = new RedisStore({ connection: proxy.url, prefix });
    const runs = new MemoryStore();
    const handle = run(g, {}, { runId: "away-1", store: runs, executor });
    await store.list(); // the store's client is connected
    const jobId = await attemptJobId(runs, "away-1", "a", 1);
    await eventually("the job in the queue", async () => ((await executor.queue.getJob(jobId)) ? true : undefined));
    proxy.cut();
    // A command in flight when Redis went away (a lease renewal, say) waits in the store client's offline queue.
    void store.list().catch(() => undefined);
    // Every client is reconnecting (each was hung up on, more than once): the commands they owe wait for Redis.
    await eventually("the clients to try to reconnect", async () => (proxy.refused() >= 20 ? true : undefined));
    // Each close ends, though no QUIT can be sent and the blocking reads it waits for can never be answered.
    expect(await outcome(executor.close())).toBe("resolved");
    expect(await outcome(store.close())).toBe("resolved");
    const ended = await outcome(handle.result());
    expect(ended).toBeInstanceOf(NodeFailedError);
  });
});
