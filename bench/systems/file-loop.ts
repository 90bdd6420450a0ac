/**
 * The floors' common form (`fdatasync.ts`, `write.ts`): a bare loop that
 * does one step to a file per graph node, in a fresh temp dir under the
 * same parent as the `LowdbStore` dirs (so it writes to the same file
 * system), opened before the round and closed and disposed of after it
 * (`bench/retire.ts`), neither timed. Only the chain shape is meaningful;
 * a "fan-out" is the same loop.
 *
 * @module
 */
import { closeSync, openSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Shape } from "../protocol.js";
import { retire } from "../retire.js";
import type { Prepare, Prepared, Round } from "./types.js";

/** A floor that runs `step(fd)` n times per round on `file` (opened for writing) in a fresh `prefix` temp dir. */
export function fileLoop(prefix: string, file: string, step: (fd: number) => void): Prepare {
  return async (_shape: Shape, n: number): Promise<Prepared> => ({
    buildMs: 0,
    async round(): Promise<Round> {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      const fd = openSync(join(dir, file), "w");
      return {
        run: async () => {
          for (let i = 0; i < n; i++) step(fd);
        },
        cleanup: async () => {
          closeSync(fd);
          await retire(dir);
        },
      };
    },
  });
}
