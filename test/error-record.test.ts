/**
 * Stored errors keep the caller's frames, not taskloom's (`storedStack`):
 * a failed node's record names where the body threw, and a run with many
 * failures does not store the engine's frames once per record.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { getRun, graph, LowdbStore, runAsync, type LowdbStoreOptions } from "../src/index.js";
import { storedStack, toErrorRecord } from "../src/state/error-record.js";
import { readSnapshotDocument } from "./support/snapshot-file.js";

const OWN = new URL("../src/", import.meta.url).pathname;

describe("storedStack", () => {
  it("leaves out taskloom's and Node's internal frames and keeps the rest in order", () => {
    const stack = [
      "Error: boom",
      "    at fn (/app/etl.ts:4:9)",
      `    at Attempts.#start (${OWN}engine/attempts.ts:243:18)`,
      "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
      "    at helper (/app/lib.ts:1:1)",
      `    at RunLoop.dispatch (file://${OWN}engine/run-loop.ts:165:39)`,
    ].join("\n");
    expect(storedStack(stack)).toBe("Error: boom\n    at fn (/app/etl.ts:4:9)\n    at helper (/app/lib.ts:1:1)");
  });

  it("keeps the first frame of a stack whose frames are all taskloom's", () => {
    const stack = `NodeFailedError: node "a" failed\n    at RunLoop.settle (${OWN}engine/run-loop.ts:255:25)\n    at Attempts.#end (${OWN}engine/attempts.ts:315:25)`;
    expect(storedStack(stack)).toBe(`NodeFailedError: node "a" failed\n    at RunLoop.settle (${OWN}engine/run-loop.ts:255:25)`);
  });

  it("returns a stack with no internal frame unchanged (property)", () => {
    const line = fc.string().filter((s) => !s.includes("\n") && !s.includes(OWN) && !s.includes("node:internal/"));
    fc.assert(fc.property(fc.array(line, { maxLength: 12 }), (lines) => storedStack(lines.join("\n")) === lines.join("\n")));
  });

  it("never drops a line that is not an internal frame, and keeps their order (property)", () => {
    const user = fc.constantFrom("Error: x", "    at f (/app/a.ts:1:1)", "    at g (/app/b.ts:2:2)", "  more message", "");
    const internal = fc.constantFrom(`    at h (${OWN}engine/x.ts:1:1)`, "    at i (node:internal/timers:1:1)");
    fc.assert(
      fc.property(fc.array(fc.oneof(user, internal), { minLength: 1, maxLength: 20 }), (lines) => {
        const out = storedStack(lines.join("\n")).split("\n");
        const userLines = lines.filter((l) => !l.includes(OWN) && !l.includes("node:internal/"));
        const dropped = lines.length - userLines.length;
        const userFrames = userLines.filter((l) => l.startsWith("    at ")).length;
        // Every user line survives, in order; one internal frame comes back only when no frame was left.
        const extra = dropped > 0 && userFrames === 0 ? 1 : 0;
        expect(out.length).toBe(userLines.length + extra);
        expect(out.filter((l) => !l.includes(OWN) && !l.includes("node:internal/"))).toEqual(userLines);
      }),
    );
  });

  it("toErrorRecord stores the trimmed stack, with the cause's trimmed too", () => {
    const cause = new Error("inner");
    const err = new Error("outer", { cause });
    const record = toErrorRecord(err);
    expect(record.stack?.startsWith("Error: outer")).toBe(true);
    expect(record.stack).not.toContain("node:internal/");
    expect(record.cause?.stack).not.toContain("node:internal/");
    expect(record.stack).toContain("error-record.test.ts");
  });
});

/**
 * Runs a graph whose one node fails on a store kept as `layout` says, and
 * checks the stack stored with its error, as `readStack` reads it back
 * from the store's folder `dir`.
 */
async function bodyFrameStored(layout: LowdbStoreOptions["layout"], readStack: (dir: string) => Promise<string>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "taskloom-error-record-"));
  try {
    const g = graph("fails")
      .node("a", async () => {
        throw new Error("boom");
      })
      .build();
    const store = new LowdbStore({ dir, layout });
    await expect(runAsync(g, undefined, { store, runId: "r1", retry: { maxAttempts: 1 } })).rejects.toThrow(/boom/);
    await store.close();
    const stack = await readStack(dir);
    expect(stack.split("\n")[0]).toBe("Error: boom");
    expect(stack).toContain("error-record.test.ts");
    expect(stack).not.toContain(`${OWN}engine/`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("a failed node's stored error", () => {
  it("names the body's frame and none of the engine's", () =>
    // A run folder's snapshot.json, read as it is on disk.
    bodyFrameStored("folders", async (dir) => readSnapshotDocument(join(dir, "runs", "r1", "snapshot.json")).nodes[0]?.error?.stack ?? ""));

  it("runs kept as run files (the default): names the body's frame and none of the engine's", () =>
    // The run file `r1.run`, read back by a fresh store.
    bodyFrameStored("files", async (dir) => {
      const store = new LowdbStore({ dir });
      try {
        return (await getRun("r1", { store })).nodes[0]?.error?.stack ?? "";
      } finally {
        await store.close();
      }
    }));
});
