/**
 * Crash test of batch journal lines (src/persistence/journal-batch.ts): a
 * real `node` child appends groups of 64 to 200 node records to a run's
 * journal in a tight loop (test/fixtures/journal-batch-child.ts), each
 * group one batch line of tens of kilobytes, and is SIGKILLed after a
 * chosen number of acknowledged appends, several times over on the same
 * run, each child going on from what the last one left; with and without
 * `fsync`. After each kill:
 *
 * - the journal reads as a prefix of what the children wrote: seq 1, 2, 3…
 *   with no gap and no torn or foreign record, each record the one the
 *   child made for its seq, every line a whole batch (a torn one is none
 *   of its records);
 * - nothing acknowledged is lost (the prefix reaches the last seq logged);
 * - `load` replays exactly that prefix.
 *
 * The run is kept as a folder (`layout: "folders"`), whose journal.ndjson
 * is read here; a run file's torn batch lines are in run-file-crash.test.ts.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eachRecord, type StoredRecord } from "../src/persistence/journal-delta.js";
import { readJournal } from "../src/persistence/journal-reading.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import type { JournalRecord, NodeRecord } from "../src/state/records.js";
import { nodeOf } from "../src/state/run-state.js";
import { sampleRun } from "./store-conformance.js";

const CHILD = "test/fixtures/journal-batch-child.ts";
const RUN = "crash-batch";
const roots: string[] = [];

afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

/** The pad length of record `seq`, as the child makes it. */
const padOf = (seq: number) => 100 + ((seq * 37) % 400);

/** Runs the child until it logged `acks` more acknowledged appends, then SIGKILLs it; the last seq it logged. */
async function runAndKill(dir: string, fsync: boolean, log: string, acks: number): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
    env: { ...process.env, TASKLOOM_DIR: dir, RUN_ID: RUN, LOG: log, FSYNC: fsync ? "1" : "0" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
  const acked = (): number[] =>
    existsSync(log)
      ? readFileSync(log, "utf8")
          .split("\n")
          .filter((l) => l.startsWith("acked ") && l.endsWith(` ${child.pid}`))
          .map((l) => Number(l.split(" ")[1]))
      : [];
  const until = Date.now() + 60_000;
  let done = false;
  void exited.then(() => (done = true));
  while (acked().length < acks) {
    if (done) throw new Error(`the child exited before it was killed: ${stderr}`);
    if (Date.now() > until) throw new Error(`the child acknowledged only ${acked().length} appends in 60 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 1));
  }
  child.kill("SIGKILL");
  expect(await exited, stderr).toBe("SIGKILL");
  return Math.max(...acked());
}

/** The journal's lines as stored, and the records they stand for. */
function readAll(dir: string): { lines: StoredRecord[]; records: JournalRecord[] } {
  const lines: StoredRecord[] = [];
  const records: JournalRecord[] = [];
  readJournal(join(dir, "runs", RUN, "journal.ndjson"), (r) => {
    lines.push(r);
    eachRecord(r, (one) => void records.push(one as JournalRecord));
  });
  return { lines, records };
}

/** Checks the records are seq 1…n of the children's, and returns n. */
function checkPrefix(records: readonly JournalRecord[]): number {
  records.forEach((r, i) => {
    expect(r.seq).toBe(i + 1);
    expect(r.kind).toBe("node");
    const node = (r as { node: NodeRecord }).node;
    expect(node.id).toBe(["a", "b", "c", "d"][r.seq % 4]);
    expect(node).toStrictEqual({
      id: node.id,
      nodeId: node.id,
      status: "succeeded",
      attempts: 1,
      startedAt: r.seq,
      endedAt: r.seq + 1,
      output: { seq: r.seq, pad: "x".repeat(padOf(r.seq)) },
    });
  });
  return records.length;
}

describe.each([false, true])("a LowdbStore (fsync %s), SIGKILLed while it appends batch lines", (fsync) => {
  it("keeps a prefix of whole batches with every acknowledged record, kill after kill", { timeout: 240_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), "taskloom-batch-crash-"));
    roots.push(root);
    const dir = join(root, "store");
    const setup = new LowdbStore({ dir, fsync, layout: "folders" });
    await setup.writeSnapshot(sampleRun(RUN, { nodeIds: ["a", "b", "c", "d"] }), 0);
    await setup.close();
    const log = join(root, "log.txt");
    let top = 0;
    for (const acks of [3, 20, 1, 40, 8]) {
      const lastAcked = await runAndKill(dir, fsync, log, acks);
      const { lines, records } = readAll(dir);
      // Every line is a batch of the child's (64 or more records); none is cut short.
      for (const line of lines) expect("batch" in line && line.batch.status.length >= 64).toBe(true);
      const n = checkPrefix(records);
      expect(n).toBeGreaterThanOrEqual(lastAcked);
      expect(n).toBeGreaterThan(top);
      top = n;
      const loaded = await new LowdbStore({ dir, layout: "folders" }).load(RUN);
      expect(loaded?.seq).toBe(n);
      expect(loaded?.journalRecords).toBe(n);
      const last = records.at(-1) as { node: NodeRecord };
      expect(nodeOf(loaded!.state, last.node.id)).toStrictEqual(last.node);
    }
  });
});
