/**
 * Making a run's `lease.json` only if it does not exist (`lowdb-leases.ts`,
 * "Taking a free lease"): the lease is written to a temp file (made with
 * `O_EXCL | O_NOFOLLOW`, mode 0600), which is then hard-linked to
 * `lease.json` (`link` fails when the name is taken, and never follows a
 * link there) and unlinked. Of two processes publishing at once, exactly
 * one links; the other is told, with nothing of its own left behind.
 *
 * Nothing is flushed, even with `fsync`: a power loss leaves no
 * `lease.json`, this one whole, or a blank one, which reads as a lease
 * given back (`lowdb-leases.ts`, "Flushes"; `lease-file.ts`).
 *
 * @module
 */
import { closeSync, constants, fchmodSync, fstatSync, linkSync, openSync, renameSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { closeQuietly, unlinkQuietly, writeAllSync } from "./atomic-file.js";
import { hasCode } from "./folder-lock.js";

/**
 * Makes `file` hold `text` only if it does not exist (see the module
 * comment). Returns the new file's inode, or undefined (nothing left
 * behind) when `file` exists. On a file system without hard links, the
 * temp file is renamed onto `file` when `renameIfNoLinks` (the caller
 * holds the lease lock, so nobody can publish meanwhile), else nothing is
 * done and undefined says so.
 *
 * @example
 * ```ts
 * const ino = publishIfAbsent(files.lease, serialize(lease), false); // undefined: a lease is there
 * ```
 */
export function publishIfAbsent(file: string, text: string, renameIfNoLinks: boolean): bigint | undefined {
  const temp = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  const fd = openSync(temp, CREATE_FLAGS, 0o600);
  let ino: bigint;
  try {
    writeAllSync(fd, Buffer.from(text, "utf8"));
    const stats = fstatSync(fd, { bigint: true });
    // A umask may have taken bits off: lease files are 0600, as every store file.
    if ((stats.mode & 0o777n) !== 0o600n) fchmodSync(fd, 0o600);
    ino = stats.ino;
    closeSync(fd);
  } catch (err) {
    closeQuietly(fd);
    unlinkQuietly(temp);
    throw err;
  }
  try {
    linkSync(temp, file);
  } catch (err) {
    const noLinks = NO_HARD_LINKS.some((code) => hasCode(err, code));
    if (noLinks && renameIfNoLinks) return renameInto(temp, file, ino);
    unlinkQuietly(temp);
    if (hasCode(err, "EEXIST") || noLinks) return undefined;
    throw err;
  }
  // A temp file left (this unlink failing, or a crash before it) is a second name of the lease: harmless.
  unlinkQuietly(temp);
  return ino;
}

/** {@link publishIfAbsent}'s end on a file system without hard links: the temp file renamed onto `file`. */
function renameInto(temp: string, file: string, ino: bigint): bigint {
  try {
    renameSync(temp, file);
  } catch (err) {
    unlinkQuietly(temp);
    throw err;
  }
  return ino;
}

/** What `link` says on a file system without hard links (FAT, some FUSE and network file systems). */
const NO_HARD_LINKS = ["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK"];

/** How the temp file is made: a new regular file, never through a link at its name. */
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NONBLOCK;
