/**
 * The floor of a durable chain, with the engine in it: the 10,000-node
 * chain on `MemoryStore` whose every node body appends one
 * journal-line-sized record to a file with `write(2)` (the `write` floor's
 * record and call), in a fresh temp dir per round. A `LowdbStore` chain
 * makes that call once per step too, so this row is what LowdbStore's
 * chain would cost if its own code added nothing (issue 16, target 3).
 *
 * Why not only the bare loop (`write.ts`): on a machine whose kernel
 * isolates its page tables (`pti=on`) and whose CPU offers no PCID, every
 * system call empties the TLB, so the engine's code after each write runs
 * slower for a while too. The fourteenth pass measured, on such a machine,
 * a no-op chain on MemoryStore with a `write` to `/dev/null` in each body:
 * 2.6 µs inside the call and 4.5 µs added to each step; a bare loop of the
 * same calls shows only the first figure.
 *
 * @module
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Shape } from "../protocol.js";
import { retire } from "../retire.js";
import { taskloom } from "../taskloom-lib.js";
import { buildGraph } from "./taskloom.js";
import type { Prepare, Prepared, Round } from "./types.js";
import { RECORD } from "./write.js";

const { MemoryStore, runAsync } = taskloom;

/** The file the running round's bodies append to (one round runs at a time in a child). */
let fd = -1;

/** Node i's body: one append of the record, then its output, as a no-op node returns. */
const writingBody = (i: number) => async (): Promise<number> => {
  writeSync(fd, RECORD);
  return i;
};

export const prepare: Prepare = async (shape: Shape, n: number, concurrency: number): Promise<Prepared> => {
  const t0 = performance.now();
  const g = buildGraph(shape, n, writingBody);
  const buildMs = performance.now() - t0;
  return {
    buildMs,
    async round(index: number): Promise<Round> {
      const dir = await mkdtemp(join(tmpdir(), "taskloom-bench-memory-write-"));
      // Appending, as the journal opens its file (journal-file.ts).
      fd = openSync(join(dir, "journal.ndjson"), "a");
      const store = new MemoryStore();
      return {
        run: async () => {
          await runAsync(g, undefined, { store, runId: `bench-${index}`, maxConcurrency: concurrency });
          await store.close();
        },
        cleanup: async () => {
          closeSync(fd);
          fd = -1;
          await retire(dir);
        },
      };
    },
  };
};
