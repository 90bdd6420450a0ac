/**
 * The lock of a schedule file, held by a process that is alive but stalled
 * (a GC pause, SIGSTOP, a slow disk) for longer than the 5 s after which a
 * lock left by a crash is broken. The stall is made real (a `node` child
 * stopped with SIGSTOP between its read and its write, under the lock);
 * its length is stood for by the lock folder's age, set back 60 s.
 */
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { FileScheduleStore, SchedulePersistenceError, schedule } from "../src/index.js";
import { ScheduleLockError } from "../src/schedule/errors.js";
import { rejection, until } from "./support/async.js";
import { auditChild, type AuditChild } from "./support/schedule-audit.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-schedule-audit-lock-");
const g = { name: "audit-lock" };
let running: AuditChild | undefined;

afterEach(() => {
  if (running !== undefined) {
    try {
      process.kill(running.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  running = undefined;
});

/** A schedule in a fresh folder, and a child stalled (SIGSTOPped) inside its update, under the lock, its lock aged 60 s. */
async function stalledHolder(): Promise<{ dir: string; id: string; store: FileScheduleStore; go: () => void; child: AuditChild }> {
  const dir = tempDir();
  const job = await schedule(g, {}, { when: "1h", repeat: { every: "1h" }, store: lowdb(dir) });
  const ready = join(dir, "ready");
  const goFile = join(dir, "go");
  const child = auditChild("stall", { DIR: dir, ID: job.id, READY: ready, GO: goFile });
  running = child;
  await until(() => existsSync(ready), "the child to hold the lock, having read the schedule", 5_000, 30_000);
  process.kill(child.pid, "SIGSTOP");
  const lock = join(dir, "schedules", `${job.id}.lock`);
  const past = (Date.now() - 60_000) / 1000;
  utimesSync(lock, past, past);
  const go = (): void => {
    writeFileSync(goFile, "");
    process.kill(child.pid, "SIGCONT");
  };
  return { dir, id: job.id, store: new FileScheduleStore({ dir }), go, child };
}

/** Gives the operation a chance to finish while the holder is stopped (as the old lock let it), then lets the holder go on. */
async function whileStalled<T>(op: Promise<T>, go: () => void): Promise<T> {
  await Promise.race([
    op.then(
      () => undefined,
      () => undefined,
    ),
    delay(300),
  ]);
  go();
  return op;
}

describe("a schedule lock whose holder is alive but stalled", () => {
  it("is not broken: a pause made meanwhile is not undone by the holder's write", async () => {
    const { id, store, go, child } = await stalledHolder();
    await whileStalled(
      store.update(id, (r) => ({ ...r, status: "paused" })),
      go,
    );
    expect((await child.exited).code).toBe(0);
    const record = await store.get(id);
    expect(record?.status).toBe("paused");
    expect(record?.history.some((r) => r.kind === "error" && r.slot === 1)).toBe(true);
  });

  it("is not broken: a removed schedule is not written back by the holder (and never fires again)", async () => {
    const { dir, id, store, go, child } = await stalledHolder();
    expect(await whileStalled(store.delete(id), go)).toBe(true);
    expect((await child.exited).code).toBe(0);
    expect(existsSync(join(dir, "schedules", `${id}.json`))).toBe(false);
    expect(await store.get(id)).toBeUndefined();
  });
});

describe("a schedule lock held past the wait, or by a holder on another host", () => {
  it("held by a live process on this host past the wait: the waiter fails with ScheduleLockError naming the pid, nothing written", async () => {
    const { id, store, go, child } = await stalledHolder();
    const err = await rejection(store.update(id, (r) => ({ ...r, status: "paused" })));
    go();
    expect(err).toBeInstanceOf(SchedulePersistenceError);
    expect(err).toBeInstanceOf(ScheduleLockError);
    expect((err as Error).message).toContain(`pid ${child.pid}`);
    expect((await child.exited).code).toBe(0);
    expect((await store.get(id))?.status).toBe("active");
  }, 20_000);

  it("of another host, broken once stale: the stalled holder then writes nothing (its lock is no longer its own)", async () => {
    const { id, store, go, child } = await stalledHolder();
    const lock = join(store.folder, `${id}.lock`);
    const owner = JSON.parse(readFileSync(join(lock, "owner"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(lock, "owner"), JSON.stringify({ ...owner, host: "another-host" }));
    const past = (Date.now() - 60_000) / 1000;
    utimesSync(lock, past, past);
    await whileStalled(
      store.update(id, (r) => ({ ...r, status: "paused" })),
      go,
    );
    const exit = await child.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.stderr).toContain("was not changed");
    const record = await store.get(id);
    expect(record?.status).toBe("paused");
    expect(record?.history.some((r) => r.kind === "error" && r.slot === 1)).toBe(false);
  });
});

describe("a schedule lock whose holder cannot be alive", () => {
  it("left by a SIGKILLed holder is broken (its owner is dead), even young", async () => {
    const { id, store, child } = await stalledHolder();
    process.kill(child.pid, "SIGKILL");
    await child.exited;
    const lock = join(store.folder, `${id}.lock`);
    const now = Date.now() / 1000;
    utimesSync(lock, now, now); // young: only its dead owner lets it be broken
    const updated = await store.update(id, (r) => ({ ...r, status: "paused" }));
    expect(updated.status).toBe("paused");
    expect(existsSync(lock)).toBe(false);
  });

  it("left without an owner (an earlier version's lock) is still broken once stale", async () => {
    const dir = tempDir();
    const job = await schedule(g, {}, { when: "1h", store: lowdb(dir) });
    const store = new FileScheduleStore({ dir });
    const lock = join(store.folder, `${job.id}.lock`);
    mkdirSync(lock);
    const past = (Date.now() - 60_000) / 1000;
    utimesSync(lock, past, past);
    expect((await store.update(job.id, (r) => ({ ...r, status: "paused" }))).status).toBe("paused");
    expect(existsSync(lock)).toBe(false);
  });
});
