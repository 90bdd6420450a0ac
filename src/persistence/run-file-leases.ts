/**
 * Who holds a run kept in one file (`RunFileStore`), and how another
 * process asks for it: the run file's own lease lines, written by its one
 * writer, and the claim file `<runId>.run.claim`, written by everyone else.
 *
 * One writer per run file. Only the holder of a run's lease writes its run
 * file (its lease, renewals and release as lines among its records), so the
 * file is a journal with a single writer, as `journal-file.ts` expects: it
 * is written at its end, preallocated with `fsync`, and its torn tail is cut
 * off before the next write. A process that wants the run (a takeover), or
 * wants its driver to stop (a cancel request), never writes the run file
 * while the holder may: it writes the claim file instead (replaced
 * atomically: temp file, rename), under the run's lock `<runId>.run.lock`
 * (`folder-lock.ts`, a file made with `O_EXCL`), which every such writer
 * takes, and so does the holder when it compacts the run file (renames a
 * new one over it).
 *
 * The current lease is the one with the highest token among the run file's
 * last lease line and the claim's ({@link currentLease}); on a tie (a
 * takeover whose taker has since written its lease into the run file, or a
 * cancel request for the holder's lease) the run file's line gives the
 * expiry (the holder's renewals) and the claim adds the cancel request and
 * may give the lease back. Tokens only grow: a new lease takes the highest
 * token seen, plus one, even after a lease was given back, so a claim left
 * from an earlier holder never outranks a later one.
 *
 * A takeover (`RunFileStore.acquireLease` of a run whose file exists) is
 * made under the lock, after the current lease is read and `canTakeOver`
 * (`lease-rules.ts`) allowed it (else `RunLockedError`). When nobody can
 * still write the file (its lease was given back or never written, or its
 * holder is provably a dead process of this host: a resume after a crash),
 * the taker opens it as its writer, cuts a torn tail off and writes its
 * lease line: nothing else. Otherwise (a lease that expired while its
 * holder may live, or `takeover: true`):
 * 1. under the lock, read the current lease; refuse (`RunLockedError`)
 *    unless `canTakeOver` allows it;
 * 2. write the claim with the new lease (token + 1): from now on, every
 *    write of the old holder that looks at the claim is refused;
 * 3. when the old lease was held (not given back), wait {@link TRUST_MS}
 *    (`lease-trust.ts`): a holder writes without looking for that long
 *    after its last look, so its trusted writes land before the next step;
 * 4. copy the run file's valid lines into a new file, with the new lease
 *    as its last line, and rename it over the run file: the old holder's
 *    descriptor now points at a file no reader opens, so even the one
 *    write a check-then-write lets through (a process paused between its
 *    look and its write) is never read;
 * 5. give the lock back. The claim stays (until the run is deleted): it is
 *    how a holder that was paused learns it lost the run.
 *
 * @module
 */
import { closeSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { Buffer, isUtf8 } from "node:buffer";
import { SnapshotCorruptError } from "./errors.js";
import { hasCode } from "./folder-lock.js";
import { readAt, validEnd } from "./journal-reading.js";
import { checkRunFileLine, lineKind, type LeaseLine, type ReleaseLine } from "./run-file-lines.js";
import type { Lease } from "./run-store.js";
import { checkLease } from "./snapshot-schema.js";
import type { ShapeProblem } from "./shape-check.js";
import { BLANK, parseDocument, readDocumentOrBlankSync } from "./stored-document.js";
import { openStoreFileSync, readFailure } from "./store-files.js";
import { serialize } from "./serialization.js";
import { syncFolder, writeFileAtomicSync } from "./atomic-file.js";
import { tempOf } from "./run-file-io.js";

/** What the claim file holds: the lease a taker took or a canceller marked, and whether a non-writer gave it back. */
export interface Claim {
  readonly lease: Lease;
  readonly released?: boolean;
}

/**
 * What the run file says of its lease: the owner and token of its last
 * lease line, and that lease, unless a release line for it follows (given
 * back: its owner and token still count, to grant the next one above it).
 */
export interface WrittenLease {
  readonly owner: string;
  readonly token: number;
  /** The lease as its last line says; undefined when it was given back. */
  readonly lease: Lease | undefined;
}

/** The {@link WrittenLease} of a lease its writer holds. */
export function heldLease(lease: Lease): WrittenLease {
  return { owner: lease.owner, token: lease.token, lease };
}

/** The claim file of the run file `file`. */
export function claimPath(file: string): string {
  return `${file}.claim`;
}

/** The lock of the run file `file`. */
export function lockPath(file: string): string {
  return `${file}.lock`;
}

function checkClaim(value: unknown): ShapeProblem {
  if (typeof value !== "object" || value === null) return "it is not a claim";
  const { lease, released } = value as { lease?: unknown; released?: unknown };
  if (released !== undefined && typeof released !== "boolean") return "claim.released is not true or false";
  const problem = checkLease(lease);
  return problem === undefined ? undefined : `claim.${problem}`;
}

/**
 * The claim of the run file `file`, or undefined when there is none. A
 * blank claim (a power loss after its rename reached the disk and before
 * its bytes did, without `fsync`) reads as none: its writer died with the
 * machine. Throws `SnapshotCorruptError` for one that does not read.
 */
export function readClaim(file: string): Claim | undefined {
  const claim = readDocumentOrBlankSync<Claim>(claimPath(file), checkClaim, true);
  return claim === null || claim === BLANK ? undefined : claim;
}

/** Replaces the claim of `file` (temp file and rename; flushed with `fsync`). */
export function writeClaim(file: string, claim: Claim, fsync: boolean): void {
  // The temp file with the run file's (`run-file-io.ts`, `tempOf`): a takeover or delete finds one a crash left there.
  const path = claimPath(file);
  writeFileAtomicSync(path, serialize(claim), fsync, true, false, tempOf(path));
  // The rename's folder is the store folder, which may be a link (a volume mounted elsewhere, the user's choice): followed.
  if (fsync) syncFolder(dirname(file), true);
}

/** Removes the claim of `file`, if any. */
export function removeClaim(file: string): void {
  try {
    unlinkSync(claimPath(file));
  } catch (err) {
    if (!hasCode(err, "ENOENT")) throw err;
  }
}

/**
 * The run's current lease: the higher-token one of what its file and its
 * claim say (see the module comment), undefined when none is held; and
 * the highest token either has seen (0: none), for the next grant.
 */
export function currentLease(written: WrittenLease | undefined, claim: Claim | undefined): { current: Lease | undefined; top: number } {
  if (claim === undefined && written === undefined) return { current: undefined, top: 0 };
  if (written === undefined || (claim !== undefined && claim.lease.token > written.token)) {
    return { current: claim!.released === true ? undefined : claim!.lease, top: claim!.lease.token };
  }
  if (claim === undefined || claim.lease.token < written.token) {
    return { current: written.lease, top: written.token };
  }
  // One token, two owners: a starter that died between making the file and writing its lease line, and the taker
  // that found the file empty (`RunFileStore` waits for that line first). The claim was written after the file.
  if (claim.lease.owner !== written.owner) return { current: claim.released === true ? undefined : claim.lease, top: claim.lease.token };
  // One lease, as both say: the file's expiry (renewals), the claim's cancel request, given back if either says so.
  if (written.lease === undefined || claim.released === true) return { current: undefined, top: written.token };
  const cancel = claim.lease.cancelRequested ?? written.lease.cancelRequested;
  const expiresAt = Math.max(written.lease.expiresAt, claim.lease.expiresAt);
  const lease: Lease = { ...written.lease, expiresAt };
  return { current: cancel === undefined ? lease : { ...lease, cancelRequested: cancel }, top: written.lease.token };
}

/** Bytes read at a time when looking backwards for a line: a page first (the last lines are mostly short), then twice as many each time up to `CHUNK`. */
const FIRST_LOOK = 4096;
const CHUNK = 64 * 1024;

/**
 * Visits the valid lines of the file open as `fd` (of `size` bytes), last
 * first, as bytes without their "\n"; stops when `visit` returns true.
 * Where the valid lines end is `journal-reading.ts`'s `validEnd`.
 */
export function eachLineBackwards(fd: number, size: number, visit: (line: Buffer) => boolean): void {
  const end = validEnd(fd, size, checkRunFileLine).end;
  // `end` is just after a "\n" (or 0): the last line is [start, end - 1).
  let carry: Buffer[] = [];
  let pos = end - 1;
  let look = FIRST_LOOK;
  while (pos > 0) {
    const from = Math.max(0, pos - look);
    look = Math.min(CHUNK, look * 2);
    const chunk = readAt(fd, from, pos - from);
    let lineEnd = chunk.length;
    for (let nl = chunk.lastIndexOf(0x0a, lineEnd - 1); nl !== -1; nl = chunk.lastIndexOf(0x0a, lineEnd - 1)) {
      const piece = chunk.subarray(nl + 1, lineEnd);
      const line = carry.length === 0 ? piece : Buffer.concat([piece, ...carry]);
      carry = [];
      if (visit(line)) return;
      lineEnd = nl;
      if (lineEnd === 0) break;
    }
    if (lineEnd > 0) carry.unshift(chunk.subarray(0, lineEnd));
    pos = from;
  }
  if (carry.length > 0) visit(Buffer.concat(carry));
}

/** Parses one line found by {@link eachLineBackwards}; `SnapshotCorruptError` naming `file` when it does not read. */
export function parseLineAt<T>(line: Buffer, file: string): T {
  // Bytes that are not UTF-8 are damage (as `journal-reading.ts` reads a line), never text with U+FFFD in their place.
  if (!isUtf8(line)) throw new SnapshotCorruptError(file, "a line near its end is not valid (it is not valid UTF-8 text: a byte of it was damaged)");
  const parsed = parseDocument(line.toString("utf8"), checkRunFileLine);
  if (!parsed.ok) throw new SnapshotCorruptError(file, `a line near its end is not valid (${parsed.problem})`);
  return parsed.value as T;
}

/**
 * The last lease the run file `file` holds (its last lease line, and
 * whether a release line for it follows), undefined when it holds none or
 * does not exist. Reads from the end, and stops at a release line that
 * follows every lease line: only the writer of the file's last lease line
 * writes it, for that lease (`RunFileStore.releaseLease`; a taker writes
 * a new file), so it names that lease's owner and token, and the lines
 * before it (a compacted run's snapshot, say) are not read.
 */
export function writtenLease(file: string): WrittenLease | undefined {
  const opened = openStoreFileSync(file, "read", { singleLink: true });
  if (opened === undefined) return undefined;
  let found: WrittenLease | undefined;
  try {
    eachLineBackwards(opened.fd, opened.size, (line) => {
      const kind = lineKind(line);
      if (kind === "release") {
        const { owner, token } = parseLineAt<ReleaseLine>(line, file);
        found = { owner, token, lease: undefined };
        return true;
      }
      if (kind !== "lease") return false;
      found = heldLease(parseLineAt<LeaseLine>(line, file).lease);
      return true;
    });
  } catch (err) {
    if (err instanceof SnapshotCorruptError) throw err;
    throw readFailure(file, err);
  } finally {
    closeSync(opened.fd);
  }
  return found;
}
