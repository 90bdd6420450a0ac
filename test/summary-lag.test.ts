/**
 * A run's `summary.json` after a power loss that kept what was flushed
 * (the journal, the snapshot and the names its folder flushes covered)
 * but not a summary renamed into place after the last flush of its folder
 * (with `fsync`, a run that ends by an append flushes no folder after its
 * summaries: `lowdb-store.ts`, `summary-lag.ts`). The disk may then hold
 * the summary written before the end, whole, saying the run is running, or
 * none at all (a new run's first summary, renamed after the start's folder
 * flush). `list` (and so `listRuns` and `taskloom runs`) must read the
 * stopped run, with the counts its end stored; a run that is really still
 * going keeps its summary.
 *
 * The power loss is stood in for by putting back in place what the disk
 * may hold: the summary text of before the end, or no summary. `node:fs`
 * is wrapped to log renames and folder flushes, so the property below
 * only sets up states a power loss can leave (a summary whose rename a
 * folder flush followed is kept).
 *
 * These are runs kept as folders (`runs/<runId>/`: the stores are made
 * with `layout: "folders"`).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it, vi } from "vitest";
import { graph, listRuns, NonRetryableError, runAsync, type GraphBuilder } from "../src/index.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { deserialize } from "../src/persistence/serialization.js";
import type { RunMeta, RunSummary } from "../src/state/records.js";

const disk = vi.hoisted(() => ({
  /** Path of each open descriptor. */
  paths: new Map<number, string>(),
  /** What was done, in order (`support/logged-fs.ts`): `rename <from> <to>`, `fsync <path>`, … */
  log: [] as string[],
}));

vi.mock("node:fs", async (importOriginal) => {
  const { loggedFs } = await import("./support/logged-fs.js");
  return loggedFs(await importOriginal<typeof import("node:fs")>(), disk);
});

type LooseBuilder = GraphBuilder<undefined, Record<string, unknown>, never>;

const root = mkdtempSync(join(tmpdir(), "taskloom-summary-lag-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

const runFile = (dir: string, runId: string, name: string) => join(dir, "runs", runId, name);
/** The summary a summary file's text holds. */
const summaryIn = (text: string) => deserialize<RunSummary>(text);

/**
 * Runs a chain of `n` nodes on a store with fsync; node `failAt` (if any)
 * fails for good. Returns the summary text the run's folder held while its
 * first node ran (before the end), the one it holds after the end, and
 * whether its folder was flushed after the summary's last rename.
 */
async function chainRun(
  dir: string,
  runId: string,
  n: number,
  failAt?: number,
  fsync = true,
): Promise<{ before: string; after: string; flushedAfter: boolean }> {
  let before = "";
  let b = (graph("lag-chain") as unknown as LooseBuilder).node("n0", () => {
    before = readFileSync(runFile(dir, runId, "summary.json"), "utf8");
    if (failAt === 0) throw new NonRetryableError("boom");
    return 0;
  });
  for (let i = 1; i < n; i++) {
    b = b.node(
      `n${i}`,
      () => {
        if (failAt === i) throw new NonRetryableError("boom");
        return i;
      },
      { after: [`n${i - 1}`] as never },
    );
  }
  const store = new LowdbStore({ dir, fsync, layout: "folders" });
  disk.log.length = 0;
  await runAsync(b.build(), undefined, { store, runId, retry: { maxAttempts: 1 } }).catch(() => undefined);
  await store.close();
  const summary = runFile(dir, runId, "summary.json");
  const lastRename = disk.log.findLastIndex((e) => e.startsWith("rename ") && e.endsWith(` ${summary}`));
  const flushedAfter = disk.log.indexOf(`fsync ${join(dir, "runs", runId)}`, lastRename) !== -1;
  return { before, after: readFileSync(runFile(dir, runId, "summary.json"), "utf8"), flushedAfter };
}

describe("a summary that lags behind its run's end (power loss after the journal's end line)", () => {
  it("list reads the finished run, with its end's counts, from a summary that still says running", async () => {
    const dir = join(root, `s${counter++}`);
    const { before, after, flushedAfter } = await chainRun(dir, "r", 5);
    expect(flushedAfter).toBe(false);
    expect(summaryIn(before).status).toBe("running");
    const [fresh] = await new LowdbStore({ dir, layout: "folders" }).list();
    expect(fresh).toMatchObject({ runId: "r", status: "succeeded", nodeCount: 5, settledCount: 5, succeededCount: 5 });

    writeFileSync(runFile(dir, "r", "summary.json"), before);
    const store = new LowdbStore({ dir, layout: "folders" });
    expect(await store.list()).toEqual([fresh]);
    expect(await store.list({ status: "running" })).toEqual([]);
    expect((await listRuns({ store, status: "succeeded" })).map((s) => s.runId)).toEqual(["r"]);
    // Nothing is written by a read: the file is as the power loss left it.
    expect(readFileSync(runFile(dir, "r", "summary.json"), "utf8")).toBe(before);
    expect(after).not.toBe(before);
  });

  it("list reads the finished run from its snapshot and journal when its summary is missing", async () => {
    const dir = join(root, `s${counter++}`);
    const { after } = await chainRun(dir, "m", 3);
    unlinkSync(runFile(dir, "m", "summary.json"));
    expect(await new LowdbStore({ dir, layout: "folders" }).list()).toEqual([summaryIn(after)]);
  });

  it("a run still going keeps its summary (its journal ends in a node record), and the store's own running run too", async () => {
    const dir = join(root, `s${counter++}`);
    const seen: string[] = [];
    let b = (graph("lag-live") as unknown as LooseBuilder).node("n0", () => 0);
    for (let i = 1; i < 4; i++) {
      b = b.node(
        `n${i}`,
        async () => {
          const [s] = await new LowdbStore({ dir, layout: "folders" }).list();
          seen.push(s!.status);
          // What a crash here leaves: copied now, read after the run.
          if (i === 2) cpSync(join(dir, "runs"), join(dir, "..", `${counter}-crash`, "runs"), { recursive: true });
          return i;
        },
        { after: [`n${i - 1}`] as never },
      );
    }
    const store = new LowdbStore({ dir, fsync: true, layout: "folders" });
    await runAsync(b.build(), undefined, { store, runId: "live" });
    await store.close();
    expect(seen).toEqual(["running", "running", "running"]);
    const [crashed] = await new LowdbStore({ dir: join(dir, "..", `${counter}-crash`), layout: "folders" }).list();
    expect(crashed).toMatchObject({ runId: "live", status: "running" });
  });

  it("property: whatever the chain and however it ends, the lagging summary reads as the end's", async () => {
    await fc.assert(
      // Without fsync nothing is flushed (no promise holds against a power loss), but a run that ended by an
      // append (its snapshot still the start's) is read from the same files the same way.
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.option(fc.nat(5), { nil: undefined }), fc.boolean(), async (n, failAt, fsync) => {
        const dir = join(root, `p${counter++}`);
        const { before, after, flushedAfter } = await chainRun(dir, "p", n, failAt !== undefined && failAt < n ? failAt : undefined, fsync);
        const end = summaryIn(after);
        expect(end.status).not.toBe("running");
        const file = runFile(dir, "p", "summary.json");
        // What the disk may hold: the end's summary; unless its rename was flushed, the one before or none.
        const lags = fsync ? !flushedAfter : deserialize<{ meta: RunMeta }>(readFileSync(runFile(dir, "p", "snapshot.json"), "utf8")).meta.status === "running";
        for (const state of lags ? [after, before, undefined] : [after]) {
          if (state === undefined) unlinkSync(file);
          else writeFileSync(file, state);
          expect(await new LowdbStore({ dir, layout: "folders" }).list()).toEqual([end]);
        }
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 40 },
    );
  });
});
