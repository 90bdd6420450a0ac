/**
 * Writing a file so that readers (and a crash) see either the old or the
 * new content: a temp file beside it, then a rename.
 *
 * Nothing planted in the folder is followed (see `store-files.ts`): the
 * folder must be a real folder owned by this user, an existing file at
 * the target must be a regular file owned by this user (a symbolic link
 * there is refused, not replaced), and the temp file is made with
 * `O_CREAT | O_EXCL | O_NOFOLLOW`, so a link at its name fails the write
 * instead of sending it elsewhere. A refusal is `UnsafeStoreFileError`,
 * with nothing written.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { constants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { FILE_MODE, openStoreFile, verifyPath } from "./store-files.js";

/** Writes `text` to `file` through a temp file and a rename, so readers see the old or the new file. */
export async function writeFileAtomic(file: string, text: string, fsync = false): Promise<void> {
  const dir = dirname(file);
  await verifyPath(dir, "folder");
  await verifyPath(file, "file");
  const temp = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  let handle: FileHandle | undefined;
  let created = false;
  try {
    handle = await openStoreFile(temp, "create");
    if (!handle) throw new Error(`taskloom internal error: ${temp} was not created`);
    created = true;
    await handle.chmod(FILE_MODE);
    await handle.writeFile(text, "utf8");
    if (fsync) await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, file);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    // Only a temp file made here is removed: a name taken by something else stays as it was.
    if (created) await unlink(temp).catch(() => undefined);
    throw err;
  }
  if (fsync) {
    // The rename is durable once the folder's entry is.
    const folder = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }
}
