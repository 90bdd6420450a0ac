/**
 * What a power loss leaves of a file whose name reached the disk before
 * its content did: an empty file, or zeros (ext4 and XFS). A `LowdbStore`
 * links a new run's lease and renames its summary into place without
 * flushing their content, even with `fsync` (`lowdb-leases.ts` and
 * `summary-file.ts`, "Flushes"), so both are read with that in mind
 * (`stored-document.ts`, `readDocumentOrBlankSync`):
 * - a blank `lease.json` reads as a lease given back: the run is free (its
 *   holder died with the machine), and the next `runAsync` takes it and
 *   resumes, where it used to be refused as corrupt;
 * - a blank `summary.json` reads as missing, and `list` makes the summary
 *   again from the run's files (`store-corruption.test.ts` has the
 *   public-API case);
 * - anything else that does not parse is still `SnapshotCorruptError`: one
 *   byte that is not zero in a blank file is damage, not a power loss.
 *
 * These files are those of a run kept as a folder (`runs/<runId>/`: the
 * stores are made with `layout: "folders"`).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { graph, NonRetryableError, runAsync, SnapshotCorruptError } from "../src/index.js";
import { readLeaseFileSync, BLANK_LEASE } from "../src/persistence/lease-file.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { readSummaryFile } from "../src/persistence/summary-file.js";
import { isBlank } from "../src/persistence/stored-document.js";
import { leaseRequest } from "./support/lease-request.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-power-loss-blank-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const runFile = (runId: string, name: string) => join(dir, "runs", runId, name);

/** A graph whose node "b" fails while `state.failing` is set, so that a first run stops failed and a second one resumes. */
function resumable(state: { failing: boolean; ran: string[] }) {
  return graph("resumable")
    .node("a", () => {
      state.ran.push("a");
      return 1;
    })
    .node(
      "b",
      ({ deps }) => {
        state.ran.push("b");
        if (state.failing) throw new NonRetryableError("b fails on the first run");
        return deps.a + 1;
      },
      { after: ["a"] },
    )
    .output((o) => o.b)
    .build();
}

describe("a lease.json left blank by a power loss", () => {
  for (const [name, blank] of [
    ["empty", Buffer.alloc(0)],
    ["zeros", Buffer.alloc(238)],
  ] as const) {
    for (const fsync of [false, true]) {
      it(`(${name}, fsync ${fsync}) reads as free: the next runAsync takes the run and resumes it, never re-running a saved node`, async () => {
        const state = { failing: true, ran: [] as string[] };
        const g = resumable(state);
        const first = new LowdbStore({ dir, fsync, layout: "folders" });
        await expect(runAsync(g, undefined, { store: first, runId: "r", retry: { maxAttempts: 1 } })).rejects.toThrow();
        await first.close();
        writeFileSync(runFile("r", "lease.json"), blank);

        state.failing = false;
        state.ran.length = 0;
        const second = new LowdbStore({ dir, fsync, layout: "folders" });
        await expect(runAsync(g, undefined, { store: second, runId: "r" })).resolves.toBe(2);
        await second.close();
        expect(state.ran).toEqual(["b"]);
        // The lease was written anew, whole, and given back: marked released in place, or (fsync) replaced by rename.
        expect(isBlank(readFileSync(runFile("r", "lease.json"), "utf8"))).toBe(false);
        expect(readLeaseFileSync(runFile("r", "lease.json"))).toMatchObject({ givenBack: true });
      });
    }
  }

  it("is taken by acquire as a lease given back (token 1), and its old holder's release leaves the new lease alone", async () => {
    const store = new LowdbStore({ dir, layout: "folders" });
    const lease = await store.acquireLease("r", leaseRequest("first"));
    writeFileSync(runFile("r", "lease.json"), Buffer.alloc(300));
    const taken = await store.acquireLease("r", leaseRequest("second"));
    expect(taken).toMatchObject({ owner: "second", token: 1 });
    // The first holder no longer holds the file: giving its lease back changes nothing.
    await expect(store.releaseLease(lease)).resolves.toBeUndefined();
    expect(readLeaseFileSync(runFile("r", "lease.json"))).toMatchObject({ owner: "second" });
    await store.close();
  });
});

describe("blank and damaged lease and summary files (property)", () => {
  it("zeros of any length read as a lease given back and as no summary; one other byte among them is SnapshotCorruptError", async () => {
    const store = new LowdbStore({ dir, layout: "folders" });
    await store.acquireLease("r", leaseRequest("owner"));
    await store.close();
    const lease = runFile("r", "lease.json");
    const summary = runFile("r", "summary.json");
    fc.assert(
      fc.property(fc.nat({ max: 4096 }), fc.option(fc.record({ at: fc.nat(), byte: fc.integer({ min: 1, max: 255 }) })), (length, damage) => {
        const bytes = Buffer.alloc(damage ? length + 1 : length);
        if (damage) bytes[damage.at % bytes.length] = damage.byte;
        writeFileSync(lease, bytes);
        writeFileSync(summary, bytes);
        if (!damage) {
          expect(readLeaseFileSync(lease)).toBe(BLANK_LEASE);
          expect(readSummaryFile(summary)).toBeNull();
          return;
        }
        // A lone digit parses as a number, which is no lease or summary either.
        expect(() => readLeaseFileSync(lease)).toThrow(SnapshotCorruptError);
        expect(() => readSummaryFile(summary)).toThrow(SnapshotCorruptError);
      }),
      { numRuns: 300 },
    );
  });
});
