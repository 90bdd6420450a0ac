/**
 * Atomic file writes (src/persistence/atomic-file.ts), on both of their
 * paths: small contents with synchronous calls, big ones (from
 * LARGE_WRITE_BYTES on) written through the thread pool. Either way the
 * target holds the old or the new content, is made 0600, no temp file is
 * left, and a symbolic link in the target's place is refused and left.
 */
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LARGE_WRITE_BYTES, writeFileAtomic } from "../src/persistence/atomic-file.js";
import { UnsafeStoreFileError } from "../src/index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-atomic-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sizes = [
  ["small", 100],
  ["big", LARGE_WRITE_BYTES + 12_345],
] as const;

describe.each(sizes)("writeFileAtomic, %s content", (_name, size) => {
  it.each([false, true])("replaces the file whole (fsync %s), 0600, and leaves no temp file", async (fsync) => {
    const file = join(dir, "doc.json");
    await writeFile(file, "old");
    const text = "x".repeat(size);
    await writeFileAtomic(file, text, fsync);
    expect(readFileSync(file, "utf8")).toBe(text);
    expect(lstatSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["doc.json"]);
  });

  it("refuses a symbolic link at the target and leaves it and its target as they were", async () => {
    const victim = join(dir, "victim");
    await writeFile(victim, "keep");
    const file = join(dir, "doc.json");
    await symlink(victim, file);
    await expect(writeFileAtomic(file, "y".repeat(size))).rejects.toBeInstanceOf(UnsafeStoreFileError);
    expect(lstatSync(file).isSymbolicLink()).toBe(true);
    expect(readFileSync(victim, "utf8")).toBe("keep");
    expect(readdirSync(dir).sort()).toEqual(["doc.json", "victim"]);
  });
});
