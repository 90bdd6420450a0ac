/**
 * The power-loss floor: a bare loop that writes a few bytes to a small
 * file and `fdatasync`s it, once per step, synchronously. The file lives in
 * a fresh temp dir under the same parent as the `LowdbStore` dirs of the
 * other scenarios, so both flush to the same file system. Only the chain
 * shape is meaningful (one flush per step); a "fan-out" is the same loop.
 *
 * @module
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Shape } from "../protocol.js";
import { retire } from "../retire.js";
import type { Prepare, Prepared, Round } from "./types.js";

/** A step's record: about the size of one journal line. */
const RECORD = Buffer.from(`${JSON.stringify({ node: "n0", status: "succeeded", attempt: 1, at: Date.now(), value: 0 })}\n`);

export const prepare: Prepare = async (_shape: Shape, n: number): Promise<Prepared> => ({
  buildMs: 0,
  async round(): Promise<Round> {
    const dir = await mkdtemp(join(tmpdir(), "taskloom-bench-fsync-"));
    const fd = openSync(join(dir, "floor.log"), "w");
    return {
      run: async () => {
        for (let i = 0; i < n; i++) {
          writeSync(fd, RECORD, 0, RECORD.length, 0);
          fdatasyncSync(fd);
        }
      },
      cleanup: async () => {
        closeSync(fd);
        await retire(dir);
      },
    };
  },
});
