/**
 * Making a run's `lease.json` only if it does not exist (`lowdb-leases.ts`,
 * "Taking a free lease"): the file is made with `O_CREAT | O_EXCL |
 * O_NOFOLLOW` (mode 0600), so of two processes publishing at once exactly
 * one makes it and the other is told, with nothing of its own left
 * behind; the lease is then written into it with one `write`.
 *
 * Between the open and the write, `lease.json` is empty, and an empty
 * `lease.json` reads as a lease given back (`lease-file.ts`: what a power
 * loss leaves of a lease whose content never reached the disk). A process
 * that reads it so in that instant is free to take the run, and does so
 * only under the lease lock, by rename; the publisher looks after its
 * write (`lowdb-leases.ts`: the lock, then whether `lease.json` is still
 * the file it made) and goes through the lock when either changed, which
 * judges the lease found there. A process killed between the open and
 * the write leaves that empty file: a run whose holder is gone, as a
 * power loss leaves one.
 *
 * Earlier versions wrote a temp file and hard-linked it to `lease.json`
 * (`link` fails when the name is taken), which was never empty, at two
 * system calls more per run (the link and the unlink of the temp name,
 * issue 16), and which a file system without hard links could not do
 * without the lock.
 *
 * Nothing is flushed, even with `fsync`: a power loss leaves no
 * `lease.json`, this one whole, or a blank one, which reads as a lease
 * given back (`lowdb-leases.ts`, "Flushes"; `lease-file.ts`).
 *
 * @module
 */
import { constants, fchmodSync, fstatSync, openSync } from "node:fs";
import { closeQuietly, writeAllSync } from "./atomic-file.js";
import { hasCode } from "./folder-lock.js";
import type { KeptFile } from "./small-file.js";

/**
 * Makes `file` hold `text` only if it does not exist (see the module
 * comment). Returns the new file, still open (the caller closes `fd`, or
 * keeps it to give the lease back through it: `lowdb-leases.ts`), or
 * undefined (nothing made) when `file` exists. A write that fails (a full
 * disk) leaves the file empty, which reads as a lease given back, and
 * throws: the empty file is not removed, since by then it may be another
 * process's lease (renamed over it under the lock), which an unlink here
 * would take away.
 *
 * @example
 * ```ts
 * const made = publishIfAbsent(files.lease, serialize(lease)); // undefined: a lease is there
 * if (made) closeSync(made.fd);
 * ```
 */
export function publishIfAbsent(file: string, text: string): PublishedFile | undefined {
  let fd: number;
  try {
    fd = openSync(file, CREATE_FLAGS, 0o600);
  } catch (err) {
    if (hasCode(err, "EEXIST")) return undefined;
    throw err;
  }
  try {
    const bytes = Buffer.from(text, "utf8");
    writeAllSync(fd, bytes);
    const stats = fstatSync(fd, { bigint: true });
    // A umask may have taken bits off: lease files are 0600, as every store file.
    if ((stats.mode & 0o777n) !== 0o600n) fchmodSync(fd, 0o600);
    return { file, fd, size: bytes.length, ino: stats.ino };
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
}

/** A file {@link publishIfAbsent} made: open, as a kept small file (`small-file.ts`), with its inode. */
export interface PublishedFile extends KeptFile {
  readonly ino: bigint;
}

/** How `lease.json` is made: a new regular file, never through a link at its name. */
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NONBLOCK;
