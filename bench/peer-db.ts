/**
 * The PostgreSQL the DBOS peer runs on, and what the bench reads from it:
 * the settings that decide what a commit flushes, and the server's WAL
 * flush counter (`pg_stat_wal.wal_sync`, PostgreSQL 14+), from which the
 * syscall scenario derives DBOS's flushes per run (DBOS's own process
 * never flushes: the database server does).
 *
 * `pg` comes with `@dbos-inc/dbos-sdk` and ships no types, so it is seen
 * through the narrow `PgModule` view below.
 *
 * @module
 */

/** DBOS's system database: a scratch database of the bench's own (DBOS creates it at the first launch). */
export const DBOS_DATABASE_URL = process.env.DBOS_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/taskloom_bench_dbos";

/** The server's maintenance database, for reading settings and statistics. */
export const DBOS_ADMIN_URL = (() => {
  const url = new URL(DBOS_DATABASE_URL);
  url.pathname = "/postgres";
  return url.href;
})();

interface PgClient {
  connect(): Promise<void>;
  query<R>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
  end(): Promise<void>;
}

interface PgModule {
  readonly default: { Client: new (options: { connectionString: string }) => PgClient };
}

async function withAdmin<T>(fn: (client: PgClient) => Promise<T>): Promise<T> {
  const name = "pg"; // a variable: pg has no type declarations
  const pg = (await import(name)) as PgModule;
  const client = new pg.default.Client({ connectionString: DBOS_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** PostgreSQL's WAL flush counter (`pg_stat_wal.wal_sync`, all databases), or undefined when it cannot be read. */
export async function pgWalSyncs(): Promise<number | undefined> {
  try {
    return await withAdmin(async (client) => Number((await client.query<{ wal_sync: string }>("SELECT wal_sync FROM pg_stat_wal")).rows[0]?.wal_sync));
  } catch {
    return undefined;
  }
}

/** The server settings that decide what PostgreSQL flushes per commit, as one line, or why they could not be read. */
export async function pgFlushSettings(): Promise<string> {
  try {
    return await withAdmin(async (client) => {
      const names = ["fsync", "synchronous_commit", "wal_sync_method", "commit_delay", "full_page_writes"];
      const r = await client.query<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name = ANY($1)", [names]);
      const version = (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version ?? "?";
      return `PostgreSQL ${version}: ${names.map((n) => `${n}=${r.rows.find((row) => row.name === n)?.setting ?? "?"}`).join(", ")}`;
    });
  } catch (error) {
    return `PostgreSQL settings could not be read: ${(error as Error).message}`;
  }
}
