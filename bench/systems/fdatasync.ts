/**
 * The power-loss floor: a bare loop that writes a few bytes to a small
 * file and `fdatasync`s it, once per step, synchronously. The file lives in
 * a fresh temp dir under the same parent as the `LowdbStore` dirs of the
 * other scenarios, so both flush to the same file system. Only the chain
 * shape is meaningful (one flush per step); a "fan-out" is the same loop.
 *
 * @module
 */
import { fdatasyncSync, writeSync } from "node:fs";
import { fileLoop } from "./file-loop.js";
import type { Prepare } from "./types.js";

/** A step's record: about the size of one journal line. */
const RECORD = Buffer.from(`${JSON.stringify({ node: "n0", status: "succeeded", attempt: 1, at: Date.now(), value: 0 })}\n`);

export const prepare: Prepare = fileLoop("taskloom-bench-fsync-", "floor.log", (fd) => {
  writeSync(fd, RECORD, 0, RECORD.length, 0);
  fdatasyncSync(fd);
});
