/**
 * Helpers of the schedule audit tests, and (run as a script, with
 * `SCHEDULE_AUDIT_ROLE` set) the child process they drive: a holder of a
 * schedule's file lock that stalls between its read and its write.
 *
 * Role "stall": `store.update(id, change)` where `change` (called under
 * the lock, after the read) writes the file `READY` and then waits until
 * the file `GO` exists; it then adds the history row `{ kind: "error",
 * slot: 1 }` and the update writes it.
 */
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { FileScheduleStore, type ScheduleListOptions, type ScheduleRecord, type ScheduleStore } from "../../src/index.js";

const SELF = fileURLToPath(import.meta.url);

/** A child process running a role of this script. */
export interface AuditChild {
  readonly pid: number;
  /** Resolves with the exit code (or signal) and stderr when it ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Starts this script as a `node --import tsx` child in role `role`. */
export function auditChild(role: string, env: Record<string, string>): AuditChild {
  const p = spawn(process.execPath, ["--import", "tsx", SELF], {
    env: { ...process.env, ...env, SCHEDULE_AUDIT_ROLE: role },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((done, fail) => {
    p.on("error", fail);
    p.on("close", (code, signal) => done({ code, signal, stderr }));
  });
  return { pid: p.pid ?? -1, exited };
}

/** Blocks the thread (a stall: nothing else of this process runs) until `file` exists. */
function stallUntil(file: string): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(file)) Atomics.wait(cell, 0, 0, 2);
}

async function stallRole(env: NodeJS.ProcessEnv): Promise<void> {
  const store = new FileScheduleStore({ dir: env.DIR ?? "" });
  await store.update(env.ID ?? "", (r) => {
    writeFileSync(env.READY ?? "", "");
    stallUntil(env.GO ?? "");
    return { ...r, history: [...r.history, { kind: "error", slot: 1, at: 1, error: { name: "E", message: "child" } }] };
  });
}

if (process.env.SCHEDULE_AUDIT_ROLE === "stall") await stallRole(process.env);

/** A schedule store whose `update` calls wait at a gate while it is closed (to catch the scheduler between two steps). */
export class GatedScheduleStore implements ScheduleStore {
  readonly #inner: ScheduleStore;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  /** `update` calls that reached the closed gate. */
  waiting = 0;

  constructor(inner: ScheduleStore) {
    this.#inner = inner;
  }

  /** Makes the next `update` calls wait until {@link GatedScheduleStore.open}. */
  close(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  open(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  create(record: ScheduleRecord): Promise<void> {
    return this.#inner.create(record);
  }

  get(id: string): Promise<ScheduleRecord | undefined> {
    return this.#inner.get(id);
  }

  list(options?: ScheduleListOptions): Promise<ScheduleRecord[]> {
    return this.#inner.list(options);
  }

  async update(id: string, change: (current: ScheduleRecord) => ScheduleRecord): Promise<ScheduleRecord> {
    if (this.#gate !== undefined) {
      this.waiting++;
      await this.#gate;
    }
    return this.#inner.update(id, change);
  }

  delete(id: string): Promise<boolean> {
    return this.#inner.delete(id);
  }
}
