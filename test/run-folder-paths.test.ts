/**
 * `RunFolders.files` makes a run's paths by concatenation, not `path.join`
 * (run-folder.ts): for every valid run id the two are the same path, inside
 * `runs/`; an invalid id is refused before any path is made.
 */
import fc from "fast-check";
import { basename, dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidRunIdError } from "../src/index.js";
import { RunFolders } from "../src/persistence/run-folder.js";

const folders = new RunFolders("/tmp/store");

describe("a run's paths", () => {
  it("are path.join's for every valid run id, and inside runs/", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/), (runId) => {
        fc.pre(!runId.includes(".."));
        const files = new RunFolders("/tmp/store").files(runId);
        expect(files.dir).toBe(join("/tmp/store", "runs", runId));
        expect(dirname(files.dir)).toBe(folders.runsDir);
        expect(basename(files.dir)).toBe(runId);
        expect(files.journal).toBe(join("/tmp/store", "runs", runId, "journal.ndjson"));
      }),
      { numRuns: 500 },
    );
  });

  it("are not made for an invalid run id", () => {
    for (const runId of ["..", "a..b", "../x", "a/b", ".hidden", "", "a\\b"]) expect(() => folders.files(runId)).toThrow(InvalidRunIdError);
  });
});
