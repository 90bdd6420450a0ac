/**
 * How long a store trusts what it last saw in a run's `lease.json`
 * without looking again (the fencing check of `lowdb-leases.ts`).
 *
 * The fencing `lstat` before every write was a third of what a durable
 * chain step costs more than one in memory, so a write skips it when this
 * store saw the file unchanged less than {@link TRUST_MS} ago (monotonic clock, the time taken before that
 * `lstat`) and the lease it saw has more than {@link TRUST_MARGIN_MS}
 * left before it expires (`Date.now()`); a chain's writes then look at
 * the file once per {@link TRUST_MS}, not once per step. What another process
 * (or another store object) can do to the lease meanwhile, and why a
 * write that skips is as safe as one that checks:
 * - Ask for a cancel (`requestCancel`): the file is rewritten with the
 *   same owner and token, which the check lets through anyway; the holder
 *   sees the request when it renews, and renewing always looks.
 * - Take it over (`acquire`) before it expires (`takeover: true`, or a
 *   holder provably dead, which writes nothing) or after: the taker waits
 *   {@link TRUST_MS} after `lease.json` was replaced before its `acquire`
 *   returns, so by the time the new driver loads or writes anything, the
 *   old holder's trust has run out, and its next write looks and is
 *   refused. Its writes during the wait land before the new driver has
 *   read the run, as writes made before the takeover do; one write
 *   decided within the window and delayed past it (the process paused)
 *   is the one write a check-then-write lets through too.
 * - Delete the run (`delete`): only once the lease expired by the
 *   deleter's clock (or its holder is dead), which the margin keeps far
 *   from any trusted write (the same clock on one host; the margin
 *   absorbs a skew between hosts). The holder's next look then finds
 *   `lease.json` gone, or, for a run file, the file it has open without a
 *   name (`RunFileWriter.removed`).
 * - Renew or give it back: only its owner, which is this store's writer,
 *   or another store object of this process with the same lease. A lease
 *   given back (or a run deleted) by one is recorded for the others, whose
 *   trust in a look from before it ends (`run-folder-changes.ts`;
 *   a run file hands its one writer over instead, `run-file-writers.ts`).
 * Changes made by this store replace the copy (and its time), so the
 * trust never outlives them. An earlier version's takeover does not wait:
 * after expiry the margin covers it as it covers `delete`; with
 * `takeover: true`, the holder's writes of the {@link TRUST_MS} after its
 * last look still go through (one write, with a check before every write)
 * and the next ones are refused.
 *
 * Why 50 ms. With `fsync`, a chain step waits for a disk flush, and
 * the `lstat` that follows a flush finds the path's caches cold: about 25
 * to 30 µs, against 3 µs warm (an `lstat` of a 243-byte file after a
 * `pwrite` and `fdatasync` of another, ext4, median). At one look per
 * millisecond, that was about one step in four or five on a disk whose
 * flush takes 170 µs. Without `fsync`, many short runs at once (the stage
 * runner's tasks, eight at a time) each make a few writes a millisecond
 * or more apart, and at 5 ms most of them looked again: 3.4 of a stage
 * task's 40 system calls (`bench/probes/stage-syscalls.sh`, issue 16,
 * twenty-first pass), where at 50 ms a task's writes look at most once.
 * What it costs: a takeover of a lease held by another owner (a crashed
 * driver's, or `takeover: true`) returns 50 ms later, once; a takeover
 * waits for the old lease to expire, or for its holder to be found dead,
 * long before that.
 *
 * @module
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * How long (ms) a `lease.json` seen unchanged is trusted to still be so by
 * a write ({@link LeaseFiles.fence}), and how long a takeover waits before
 * its lease is used (see the module comment).
 */
export const TRUST_MS = 50;

/** A lease is trusted without a look only while it has more than this left (ms) before it expires. */
export const TRUST_MARGIN_MS = 5_000;

/** Resolves once `TRUST_MS` have passed since `since` (`performance.now()`): a timer may fire early by up to a millisecond. */
export async function outlastTrust(since: number): Promise<void> {
  while (performance.now() - since < TRUST_MS) await sleep(TRUST_MS);
}

/**
 * Whether a write at `now` (`performance.now()`) may trust a look taken at
 * `seenAt` at a lease expiring at `expiresAt` (`Date.now()` time) without
 * looking again: the look is less than {@link TRUST_MS} old and the lease
 * has more than {@link TRUST_MARGIN_MS} left.
 */
export function trusted(seenAt: number, now: number, expiresAt: number): boolean {
  return now - seenAt < TRUST_MS && Date.now() < expiresAt - TRUST_MARGIN_MS;
}
