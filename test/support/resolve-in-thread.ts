/**
 * `resolveWait` called from a `worker_threads` Worker of this process
 * (`test/fixtures/resolve-worker.mjs`, which imports the compiled package,
 * `dist/`), on a `LowdbStore` of its own on `dir`: what the Worker saw,
 * `{ ok: true }` or `{ ok: false, name, code, message, openKeys, instance }`.
 * Registers a check, before the file's tests, that `dist/` was built.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { Worker } from "node:worker_threads";
import { beforeAll } from "vitest";

const WORKER = resolve(import.meta.dirname, "../fixtures/resolve-worker.mjs");
const DIST = resolve(import.meta.dirname, "../../dist/index.js");

/** What the Worker is asked to resolve: run `runId` kept in `dir`, its wait `key`, with `payload` (and the run mark `instance`). */
export interface ThreadResolve {
  readonly dir: string;
  readonly runId: string;
  readonly key: string;
  readonly payload: unknown;
  readonly instance?: string;
}

/** Fails the file's tests early when `dist/` is missing (the Worker imports it). */
export function needsDist(): void {
  beforeAll(() => {
    if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" first (npm test does)`);
  });
}

/** Calls `resolveWait` in a new Worker thread; resolves to what it posted back. */
export function resolveInThread(data: ThreadResolve): Promise<Record<string, unknown>> {
  return new Promise((done, fail) => {
    const worker = new Worker(WORKER, { workerData: data });
    worker.once("message", (m: Record<string, unknown>) => done(m));
    worker.once("error", fail);
  });
}
