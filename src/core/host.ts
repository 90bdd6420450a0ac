/**
 * This host's name, as leases record it, read once per process:
 * `os.hostname()` is a system call (`uname`) and builds its result each
 * time, and a store made per run (the bench's rounds, a test's) asked for
 * it in its constructor, a run's worth of small costs. A host renamed while
 * a process runs keeps the name it started with in that process's leases,
 * as the runner's lease requests always did (`runner/run-lease.ts`).
 *
 * @module
 */
import { hostname } from "node:os";

let host: string | undefined;

/** This host's name, read at the first call. */
export function thisHost(): string {
  return (host ??= hostname());
}
