/**
 * The floor of a durable chain without fsync: a bare loop that appends one
 * journal-line-sized record to a file with `write(2)`, once per step,
 * synchronously. A `LowdbStore` step must hand its record to the kernel
 * before the next node may start (so a killed process loses no finished
 * step), so a chain of N steps makes at least N such calls; this row
 * measures what they cost on this machine, next to the 10,000-node chain
 * on `MemoryStore` and `LowdbStore` (issue 16, target 3: LowdbStore at most
 * 1.5x MemoryStore), so a reader can tell the store's own cost from the
 * system calls'. The file lives in a fresh temp dir under the same parent
 * as the `LowdbStore` dirs. Only the chain shape is meaningful; a "fan-out"
 * is the same loop.
 *
 * @module
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Shape } from "../protocol.js";
import { retire } from "../retire.js";
import type { Prepare, Prepared, Round } from "./types.js";

/** A step's record: a chain step's journal line is about 170 bytes. */
const RECORD = `${JSON.stringify({ json: { kind: "node", seq: 1234, node: { id: "n1234", nodeId: "n1234", status: "succeeded", attempts: 1, output: 1234, endedAt: Date.now(), startedAt: Date.now() } } })}\n`;

export const prepare: Prepare = async (_shape: Shape, n: number): Promise<Prepared> => ({
  buildMs: 0,
  async round(): Promise<Round> {
    const dir = await mkdtemp(join(tmpdir(), "taskloom-bench-write-"));
    const fd = openSync(join(dir, "journal.ndjson"), "w");
    return {
      run: async () => {
        // From the string, as the journal writes a line (journal-file.ts `appendText`).
        for (let i = 0; i < n; i++) writeSync(fd, RECORD);
      },
      cleanup: async () => {
        closeSync(fd);
        await retire(dir);
      },
    };
  },
});
