/**
 * The floor of a durable chain without fsync: a bare loop that appends one
 * journal-line-sized record to a file with `write(2)`, once per step,
 * synchronously. A `LowdbStore` step must hand its record to the kernel
 * before the next node may start (so a killed process loses no finished
 * step), so a chain of N steps makes at least N such calls; this row
 * measures what they cost on this machine, next to the 10,000-node chain
 * on `MemoryStore` and `LowdbStore` (issue 16, target 3: LowdbStore at most
 * 1.5x MemoryStore), so a reader can tell the store's own cost from the
 * system calls'. The loop and its file are `file-loop.ts`'.
 *
 * @module
 */
import { writeSync } from "node:fs";
import { fileLoop } from "./file-loop.js";
import type { Prepare } from "./types.js";

/** A step's record: a chain step's journal line is about 170 bytes. */
export const RECORD = `${JSON.stringify({ json: { kind: "node", seq: 1234, node: { id: "n1234", nodeId: "n1234", status: "succeeded", attempts: 1, output: 1234, endedAt: Date.now(), startedAt: Date.now() } } })}\n`;

// From the string, as the journal writes a line (journal-file.ts `appendText`).
export const prepare: Prepare = fileLoop("taskloom-bench-write-", "journal.ndjson", (fd) => void writeSync(fd, RECORD));
