/**
 * How the adapter reaches Redis: a URL (`redis://host:6379/0`), ioredis
 * options, or an ioredis client the caller owns. The adapter opens its own
 * clients from the first two and closes them when it closes; it never
 * closes a client it was given.
 *
 * @module
 */
import type { ConnectionOptions } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";
import { InvalidOptionError } from "../../errors.js";

/**
 * Where Redis is: a URL, ioredis options, or an ioredis client (which the
 * caller keeps and closes).
 *
 * @example
 * ```ts
 * const connection: RedisConnection = "redis://127.0.0.1:6379";
 * ```
 */
export type RedisConnection = string | RedisOptions | Redis;

/**
 * Throws {@link InvalidOptionError} (option `connection`) unless
 * `connection` is a `redis://` or `rediss://` URL, an ioredis client, or
 * an options object: `null`, a number or `"host:6379"` would otherwise
 * become a silent connection to 127.0.0.1, or a bare `TypeError`.
 */
export function assertConnection(connection: unknown): asserts connection is RedisConnection {
  if (typeof connection === "string") {
    redisUrl(connection);
    return;
  }
  if (connection === null || typeof connection !== "object" || Array.isArray(connection)) {
    throw new InvalidOptionError(
      "connection",
      `must be a redis:// URL, ioredis options or an ioredis client (got ${connection === null ? "null" : Array.isArray(connection) ? "an array" : typeof connection})`,
    );
  }
  // Only a plain object is read as options: a `URL` object, or a client of another copy of ioredis, spreads to no
  // host at all, and would become a silent connection to 127.0.0.1.
  if (!(connection instanceof Redis) && !isPlainObject(connection)) {
    throw new InvalidOptionError(
      "connection",
      `must be a redis:// URL string, plain ioredis options or an ioredis client of the ioredis taskloom uses (got an instance of ${className(connection)}; pass a URL as a string, e.g. url.href)`,
    );
  }
  // An ioredis key prefix reaches the keys a command names, not those a Lua script builds (BullMQ's do): the queue
  // would break, and the adapter's own keys would not be the coordinators'.
  const options = connection instanceof Redis ? connection.options : (connection as RedisOptions);
  if (options.keyPrefix) {
    throw new InvalidOptionError(
      "connection",
      `has the ioredis option keyPrefix ("${options.keyPrefix}"), which BullMQ's scripts cannot follow: remove it and pass the same \`prefix\` option to workers and coordinators instead`,
    );
  }
}

/** True for an object literal (or one made with `Object.create(null)`). */
function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The class name of an object, for an error message. */
function className(value: object): string {
  const name: unknown = (value.constructor as { name?: unknown } | undefined)?.name;
  return typeof name === "string" && name !== "" ? name : "an unnamed class";
}

/** `text` as a URL, or the {@link InvalidOptionError} saying it is not a Redis URL (never echoing it: it may hold a password). */
function redisUrl(text: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "redis:" && url.protocol !== "rediss:")) {
    throw new InvalidOptionError(
      "connection",
      `must be a URL such as "redis://127.0.0.1:6379" or "rediss://user:password@host:6379/0" (got a string that is ${url === undefined ? "not a URL" : `a ${url.protocol} URL`})`,
    );
  }
  if (!/^\/\d*$/.test(url.pathname) && url.pathname !== "") {
    throw new InvalidOptionError("connection", `names a database that is not a number (the URL's path must be /<db>, such as /0)`);
  }
  return url;
}

/** The connection as ioredis options, for BullMQ, which opens its own clients. */
export function connectionOptions(connection: RedisConnection): RedisOptions {
  if (connection instanceof Redis) return { ...connection.options };
  if (typeof connection === "string") {
    const url = redisUrl(connection);
    const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined;
    return {
      // An IPv6 literal is bracketed in a URL ("[::1]") and bare for a socket, which would look "[::1]" up in DNS.
      host: url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
      port: url.port ? Number(url.port) : 6379,
      ...(url.username && { username: decodeURIComponent(url.username) }),
      ...(url.password && { password: decodeURIComponent(url.password) }),
      ...(db !== undefined && Number.isInteger(db) && { db }),
      ...(url.protocol === "rediss:" && { tls: {} }),
    };
  }
  return { ...connection };
}

/** The connection as BullMQ's connection options (BullMQ opens and closes its own clients from them). */
export function bullmqConnection(connection: RedisConnection): ConnectionOptions {
  // ioredis's options are what BullMQ's Redis backend takes; the two packages type them separately.
  return { ...connectionOptions(connection), maxRetriesPerRequest: null } as ConnectionOptions;
}

/**
 * A client for `connection`, and whether the caller must close it: a
 * given client is used as it is, anything else opens a new one.
 * `blocking` clients (for BLPOP) never fail a command for want of a
 * connection: they wait for Redis to come back. No client pipelines
 * automatically: ioredis' `enableAutoPipelining` throws an uncaught
 * `TypeError` from its own callback ("results[i] is not iterable") when a
 * client closes with a pipeline in flight, which would crash the process.
 */
export function openClient(connection: RedisConnection, blocking = false, name?: string): { client: Redis; owned: boolean } {
  if (connection instanceof Redis && !blocking) return { client: connection, owned: false };
  const options = connectionOptions(connection);
  return {
    client: new Redis({ ...options, ...(blocking && { maxRetriesPerRequest: null }), ...(name !== undefined && { connectionName: name }) }),
    owned: true,
  };
}

/**
 * Runs a Lua script as a named command of `client` (EVALSHA, loading the
 * script once per connection), so a hot path sends a short hash, not the
 * script, and one command instead of a transaction of several.
 */
export function runScript(client: Redis, name: string, lua: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  const commands = client as unknown as Record<string, ((...a: unknown[]) => Promise<unknown>) | undefined>;
  if (typeof commands[name] !== "function") client.defineCommand(name, { lua });
  return (commands[name] as (...a: unknown[]) => Promise<unknown>).call(client, keys.length, ...keys, ...args);
}

/**
 * `work` (a command of a client the caller is about to disconnect), or its
 * rejection with `halt`'s reason once `halt` aborts. A loop of blocking
 * commands awaits each through this, so that it ends when it is stopped:
 * `disconnect()` neither sends nor rejects a command queued while its
 * client reconnects (Redis was away), which would leave the loop, and
 * whoever awaits it (`close()`, a run's stop), waiting forever. A worker
 * awaits a node body through it too, so a body that ignores its signal
 * cannot hold the worker once the job is cancelled or left.
 *
 * @example
 * ```ts
 * const popped = await untilHalted(client.blpop(key, 5), halt.signal);
 * ```
 */
export function untilHalted<T>(work: Promise<T>, halt: AbortSignal): Promise<T> {
  if (halt.aborted) {
    work.catch(() => undefined);
    return Promise.reject(halt.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onHalt = (): void => reject(halt.reason as Error);
    halt.addEventListener("abort", onHalt, { once: true });
    work.then(
      (value) => {
        halt.removeEventListener("abort", onHalt);
        resolve(value);
      },
      (error: unknown) => {
        halt.removeEventListener("abort", onHalt);
        reject(error);
      },
    );
  });
}

/**
 * Closes a client the adapter opened: politely (QUIT, after the replies
 * due) when it is connected, else at once. A QUIT sent while the client
 * connects or reconnects waits in its offline queue for a Redis that may
 * never come back, and `close()` with it.
 */
export async function closeClient(client: Redis): Promise<void> {
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
