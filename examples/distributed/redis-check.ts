/**
 * The distributed example's first step: is Redis there? Without it the
 * workers and the coordinator would log ioredis connection errors until
 * stopped; this says so in one line and how to start one.
 */
import { Redis } from "ioredis";

/** The Redis the example uses: REDIS_URL, else the local default. */
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * Resolves when a Redis answers PING at `url`; otherwise prints one line
 * on stderr (where, why, how to start one) and exits with code 1.
 */
export async function requireRedis(url: string = REDIS_URL): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause: Error | undefined;
  client.on("error", (err: Error) => (cause ??= err)); // reported below, once
  try {
    await client.connect();
    await client.ping();
    client.disconnect();
  } catch (err) {
    client.disconnect();
    const why = cause?.message ?? (err instanceof Error ? err.message : String(err));
    process.stderr.write(
      `Redis is not reachable at ${url} (${why}): start one with "redis-server" or "docker run -d -p 6379:6379 redis", or set REDIS_URL to yours.\n`,
    );
    process.exit(1);
  }
}
