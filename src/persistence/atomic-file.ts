/**
 * Writing a file so that readers (and a crash) see either the old or the
 * new content: a temp file beside it, then a rename.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";

const FILE_MODE = 0o600;

/** Writes `text` to `file` through a temp file and a rename, so readers see the old or the new file. */
export async function writeFileAtomic(file: string, text: string, fsync = false): Promise<void> {
  const temp = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, "wx", FILE_MODE);
    await handle.chmod(FILE_MODE);
    await handle.writeFile(text, "utf8");
    if (fsync) await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, file);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  if (fsync) {
    // The rename is durable once the folder's entry is.
    const dir = await open(dirname(file), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
