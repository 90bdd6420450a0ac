/**
 * The lock of one schedule file of `FileScheduleStore`: the folder
 * `<id>.lock`, made with `mkdir` (exactly one process creates it), with a
 * file `owner` in it naming its holder (pid, host, process identity, and
 * a random token).
 *
 * Why not `takeFolderLock`'s rule alone: it breaks any lock older than
 * `LOCK_STALE_MS` (5 s), taking it for one left by a crash. A holder that
 * is alive but stalled that long (a GC pause, SIGSTOP, a slow disk) then
 * wakes up between its read and its write of the schedule: it writes a
 * document computed from what it read before the other process's change,
 * so that change is lost (a `pause` undone, a removed schedule written
 * back and fired again, a run row closed by another scheduler reopened),
 * and its unlock removes the other process's lock.
 *
 * So a lock is judged by its owner, with the run leases' identity rules
 * (`lease-rules.ts`): a holder that is provably dead on this host is
 * replaced at once; one that is provably alive on this host is never
 * broken (a waiter gives up after `LOCK_WAIT_MS` with an error naming it);
 * only a holder that cannot be checked from here (another host, another
 * PID namespace, an `owner` file missing or unreadable, as in the two
 * system calls between the `mkdir` and its write, or a lock left by an
 * earlier version) falls back to the age rule. A lock is broken under a
 * second lock (`<id>.lock.break`) after judging it again under it, as
 * `folder-lock.ts` does. The holder gives its lock back only while the
 * `owner` file still holds its token, and checks that token right before
 * it writes (`stillHeld`), so a lock broken by the age rule never lets two
 * writers through unseen.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { closeSync, constants, lstatSync, mkdirSync, openSync, readFileSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { UnsafeStoreFileError } from "../persistence/errors.js";
import { hasCode, LOCK_STALE_MS, LOCK_WAIT_MS } from "../persistence/folder-lock.js";
import { holderDeadHere, processAlive, processIdentity, startTimeOf } from "../persistence/lease-rules.js";
import type { ProcessIdentity } from "../persistence/run-store.js";
import { ScheduleLockError } from "./errors.js";
import { leaseHost } from "./schedule-lease.js";

/** Who holds a schedule lock, as its `owner` file says. */
export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
  readonly identity?: ProcessIdentity;
}

/** A schedule lock held by this process. */
export interface ScheduleLock {
  /** True while the lock is still this holder's (nobody broke it meanwhile). */
  stillHeld(): boolean;
  /** Gives the lock back (only when it is still this holder's). */
  release(): void;
}

/** How {@link takeScheduleLock} behaves. */
export interface ScheduleLockOptions {
  /** Creates the folder that holds the lock, when it is missing. */
  readonly createParent: () => Promise<void>;
  /** What the lock guards, for the error when it stays held. */
  readonly what: string;
  /** The schedule, for that error. */
  readonly scheduleId: string;
}

const OWNER_FILE = "owner";

/**
 * Takes the lock folder `path`; throws when it stays held for
 * `LOCK_WAIT_MS` (by a live process, or one that cannot be checked and is
 * not yet stale).
 *
 * @example
 * ```ts
 * const lock = await takeScheduleLock(join(folder, "s1.lock"), { what: "the lock of schedule s1", scheduleId: "s1", createParent });
 * try { if (lock.stillHeld()) write(); } finally { lock.release(); }
 * ```
 */
export async function takeScheduleLock(path: string, options: ScheduleLockOptions): Promise<ScheduleLock> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  const me: LockOwner = { pid: process.pid, host: leaseHost(), token: randomUUID(), identity: processIdentity() };
  for (;;) {
    if (tryMake(path, me)) return heldLock(path, me.token);
    if (!(await hasParent(path, options))) {
      if (Date.now() > deadline) throw new Error(`taskloom: ${options.what} (${path}) could not be made: its folder keeps disappearing`);
      continue;
    }
    const verdict = judge(path);
    if (verdict === "breakable") {
      breakLock(path);
      continue;
    }
    if (Date.now() > deadline) throw new ScheduleLockError(options.scheduleId, stillHeldMessage(path, options.what, verdict));
    await sleep(5 + Math.random() * 15);
  }
}

/** Makes the lock folder and names this holder in it: true when taken, false when it exists (or its parent is missing). */
function tryMake(path: string, me: LockOwner): boolean {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if (hasCode(err, "EEXIST") || hasCode(err, "ENOENT")) return false;
    throw err;
  }
  try {
    writeFileSync(join(path, OWNER_FILE), JSON.stringify(me), { mode: 0o600, flag: "wx" });
  } catch (err) {
    // A lock without its owner would stand for LOCK_STALE_MS: give it back at once.
    removeIgnoringMissing(() => rmSync(path, { recursive: true, force: true }));
    throw err;
  }
  return true;
}

/** False (after making it) when the lock's parent folder was missing: the caller tries again. */
async function hasParent(path: string, options: ScheduleLockOptions): Promise<boolean> {
  if (lstatSync(path, { throwIfNoEntry: false }) !== undefined) return true;
  const parent = join(path, "..");
  if (lstatSync(parent, { throwIfNoEntry: false }) === undefined) await options.createParent();
  return false;
}

/** The lock as its holder sees it. */
function heldLock(path: string, token: string): ScheduleLock {
  const stillHeld = (): boolean => readOwner(path)?.token === token;
  return {
    stillHeld,
    release: () => {
      if (!stillHeld()) return;
      removeIgnoringMissing(() => unlinkSync(join(path, OWNER_FILE)));
      removeIgnoringMissing(() => rmdirSync(path));
    },
  };
}

/** What a waiter may do with a lock: break it now, or wait (its holder is alive, or it is too young to be judged stale). */
type Verdict = "breakable" | { readonly alive: LockOwner } | "young";

/** Judges the lock at `path` by its owner (see the module comment). */
function judge(path: string): Verdict {
  const stats = lstatSync(path, { throwIfNoEntry: false });
  if (stats === undefined) return "young"; // given back meanwhile: try again
  if (!stats.isDirectory()) throw new UnsafeStoreFileError(path, "a schedule lock must be a folder, and this is not (a link or a file put there)");
  const owner = readOwner(path);
  const host = leaseHost();
  if (owner !== undefined && holderDeadHere(owner, host)) return "breakable";
  if (owner !== undefined && holderAliveHere(owner, host)) return { alive: owner };
  return Date.now() - stats.mtimeMs > LOCK_STALE_MS ? "breakable" : "young";
}

/**
 * True when the holder is provably a live process of this host: the
 * converse of `holderDeadHere`, with the same doubts (another boot or PID
 * namespace, a field missing) giving false.
 */
export function holderAliveHere(owner: LockOwner, host: string): boolean {
  if (owner.host !== host || !processAlive(owner.pid)) return false;
  const mine = processIdentity();
  const theirs = owner.identity;
  if (process.platform !== "linux" && mine.pidNs === undefined && theirs?.pidNs === undefined) return true;
  if (mine.bootId === undefined || mine.pidNs === undefined || theirs?.bootId === undefined || theirs.pidNs === undefined) return false;
  if (theirs.bootId !== mine.bootId || theirs.pidNs !== mine.pidNs) return false;
  const now = owner.pid === process.pid ? mine.startTime : startTimeOf(owner.pid);
  return theirs.startTime !== undefined && now === theirs.startTime;
}

/** The lock's owner, or undefined when its file is missing or not an owner (being written, or left by an earlier version). */
export function readOwner(path: string): LockOwner | undefined {
  let text: string;
  try {
    const fd = openSync(join(path, OWNER_FILE), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  return parseOwner(text);
}

function parseOwner(text: string): LockOwner | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.pid) || typeof v.host !== "string" || typeof v.token !== "string") return undefined;
  const identity = typeof v.identity === "object" && v.identity !== null ? (v.identity as ProcessIdentity) : undefined;
  return { pid: v.pid as number, host: v.host, token: v.token, ...(identity !== undefined && { identity }) };
}

/** Removes the lock under its break lock, when it is still breakable there (two waiters must not both break it). */
function breakLock(path: string): void {
  const breaker = `${path}.break`;
  try {
    mkdirSync(breaker, { mode: 0o700 });
  } catch (err) {
    if (!hasCode(err, "EEXIST")) throw err;
    // Another waiter is breaking it; a break lock left by a dead process is removed once stale.
    const stats = lstatSync(breaker, { throwIfNoEntry: false });
    if (stats?.isDirectory() === true && Date.now() - stats.mtimeMs > LOCK_STALE_MS) removeIgnoringMissing(() => rmdirSync(breaker));
    return;
  }
  try {
    if (judge(path) === "breakable") rmSync(path, { recursive: true, force: true });
  } finally {
    removeIgnoringMissing(() => rmdirSync(breaker));
  }
}

function removeIgnoringMissing(remove: () => void): void {
  try {
    remove();
  } catch (err) {
    if (!hasCode(err, "ENOENT")) throw err;
  }
}

function stillHeldMessage(path: string, what: string, verdict: Verdict): string {
  const by =
    typeof verdict === "object"
      ? ` by pid ${verdict.alive.pid} on this host, which is alive (perhaps stopped or stalled): it is never broken while that process lives`
      : "";
  return `${what} (${path}) is still held after ${LOCK_WAIT_MS} ms${by}. Wait for it, or end the process holding it; if no process is using it, remove the folder and try again.`;
}
