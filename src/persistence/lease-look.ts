/**
 * One look (`lstat`) at a run's `lease.json`, and the fencing copy a
 * `LeaseFiles` keeps of the lease it last saw there (`lowdb-leases.ts`,
 * "Fencing"): what identifies one version of the file cheaply (inode,
 * modification time, size: a new version is a new file, written after
 * the old one), when it was modified (the lease lock links it without a
 * look while that is recent: `folder-lock.ts`), and how many names it has
 * (a descriptor kept open writes it only with no name planted:
 * `kept-leases.ts`).
 *
 * @module
 */
import { lstatSync } from "node:fs";
// Imported, not the global (a getter, a call at every fenced write).
import { performance } from "node:perf_hooks";
import type { GivenBack } from "./lease-file.js";
import type { Lease } from "./run-store.js";

/** What this store last saw in a run's `lease.json`: the lease, the file as {@link fileLook} found it, and when (`performance.now()`, taken before the `lstat`). */
export interface Fence extends FileLook {
  readonly lease: Lease | GivenBack;
  /** How many names the file had at the last look (a second name, the lock, changes no version). */
  links: number;
  seenAt: number;
}

/** A fencing copy of `lease`, seen in a file as `look` says at `seenAt`. */
export function fenceOf(lease: Lease | GivenBack, look: FileLook, seenAt: number): Fence {
  return { ino: look.ino, mtimeNs: look.mtimeNs, size: look.size, links: look.links, lease, seenAt };
}

/** Whether `a` and `b` are one version of the file: same inode, modification time and size (a new version is a new file, or one written in place that grows). */
export function sameVersion(a: FileLook, b: FileLook): boolean {
  return a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.size === b.size;
}

/** When the file was modified, in epoch ms (the lease lock's `linkFromModifiedSince`). */
export function modifiedMs(look: FileLook): number {
  return Number(look.mtimeNs / 1_000_000n);
}

/**
 * After `lease.json` (inode `ino`) was made without the lock: the look at
 * it that the fencing copy starts from, or undefined when the lock must
 * decide (a lock is held, or `lease.json` is no longer that file: see the
 * module comment, "Taking a free lease").
 */
export function lookAfterPublish(files: { readonly lock: string; readonly lease: string }, ino: bigint): { look: FileLook; seenAt: number } | undefined {
  if (lstatSync(files.lock, { throwIfNoEntry: false }) !== undefined) return undefined;
  const seenAt = performance.now();
  const stats = lstatSync(files.lease, { bigint: true, throwIfNoEntry: false });
  return stats !== undefined && stats.ino === ino ? { look: lookOf(stats), seenAt } : undefined;
}

/** What one look (`lstat`) at a run's `lease.json` found: what identifies the version ({@link sameVersion}) and how many names it has. */
export interface FileLook {
  readonly ino: bigint;
  readonly mtimeNs: bigint;
  readonly size: bigint;
  readonly links: number;
}

/**
 * One look at `file`, or undefined when it does not exist. `lstat`: a
 * link planted in place of the lease is seen as a change, and the read
 * that follows refuses it.
 */
export function fileLook(file: string): FileLook | undefined {
  const s = lstatSync(file, { bigint: true, throwIfNoEntry: false });
  return s === undefined ? undefined : lookOf(s);
}

/** The look that `stats` (an `lstat` with `bigint: true`) make. */
export function lookOf(s: { ino: bigint; mtimeNs: bigint; size: bigint; nlink: bigint }): FileLook {
  return { ino: s.ino, mtimeNs: s.mtimeNs, size: s.size, links: Number(s.nlink) };
}
