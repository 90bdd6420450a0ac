/**
 * Crash test of the preallocated journal (`journal-file.ts`, a
 * `LowdbStore` with `fsync`): a real `node` child appends to a run's
 * journal in a tight loop (test/fixtures/journal-append-child.ts) and is
 * SIGKILLed after a chosen number of acknowledged appends, several times
 * over on the same run, each child going on from what the last one left.
 * After each kill:
 *
 * - the journal reads as a prefix of what the children wrote: seq 1, 2, 3…
 *   with no gap and no torn or foreign record, each record the one the
 *   child made for its seq;
 * - nothing acknowledged is lost (the prefix reaches the last seq logged);
 * - the journal still ends in zero (preallocated), and `load` replays
 *   exactly that prefix.
 *
 * At the end a store without `fsync` and then one with it append after
 * the last kill, and a load sees both records right after the prefix.
 * The run is kept as a folder (`layout: "folders"`), whose journal.ndjson
 * is read here.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readJournal } from "../src/persistence/journal-reading.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import type { JournalRecord, NodeRecord } from "../src/state/records.js";
import { nodeOf } from "../src/state/run-state.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";

const CHILD = "test/fixtures/journal-append-child.ts";
const RUN = "crash-journal";
let root: string;
let dir: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "taskloom-journal-crash-"));
  dir = join(root, "store");
  const store = new LowdbStore({ dir, fsync: true, layout: "folders" });
  await store.writeSnapshot(sampleRun(RUN, { nodeIds: ["a", "b", "c", "d"] }), 0);
  await store.close();
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The pad length of record `seq`, as the child makes it. */
const padOf = (seq: number) => 200 + ((seq * 37) % 1800);

/** Runs the child until it logged `acks` more acknowledged appends, then SIGKILLs it; the last seq it logged. */
async function runAndKill(log: string, acks: number): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
    env: { ...process.env, TASKLOOM_DIR: dir, RUN_ID: RUN, LOG: log },
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
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill("SIGKILL");
  expect(await exited, stderr).toBe("SIGKILL");
  return Math.max(...acked());
}

function readAll(): JournalRecord[] {
  const out: JournalRecord[] = [];
  readJournal(join(dir, "runs", RUN, "journal.ndjson"), (r) => void out.push(r));
  return out;
}

/** Checks the journal is seq 1…n of the children's records, and returns n. */
function checkPrefix(records: readonly JournalRecord[]): number {
  records.forEach((r, i) => {
    expect(r.seq).toBe(i + 1);
    expect(r.kind).toBe("node");
    const node = (r as { node: NodeRecord }).node;
    expect(node.id).toBe(["a", "b", "c", "d"][r.seq % 4]);
    expect(node.output).toEqual({ seq: r.seq, pad: "x".repeat(padOf(r.seq)) });
  });
  return records.length;
}

describe("a LowdbStore with fsync, SIGKILLed while it appends", () => {
  it("keeps a prefix of whole records with every acknowledged one, kill after kill, and takes appends after it", { timeout: 240_000 }, async () => {
    const log = join(root, "log.txt");
    let top = 0;
    // Appends of about 1 KB: the later kills land after several growths of the journal.
    for (const acks of [40, 150, 5, 300, 90]) {
      const lastAcked = await runAndKill(log, acks);
      const n = checkPrefix(readAll());
      expect(n).toBeGreaterThanOrEqual(lastAcked);
      expect(n).toBeGreaterThan(top);
      top = n;
      const bytes = await readFile(join(dir, "runs", RUN, "journal.ndjson"));
      expect(bytes.at(-1)).toBe(0);
      const loaded = await new LowdbStore({ dir, layout: "folders" }).load(RUN);
      expect(loaded?.seq).toBe(n);
      const last = readAll().at(-1) as { node: NodeRecord };
      expect(nodeOf(loaded!.state, last.node.id).output).toEqual(last.node.output);
    }

    const plain = new LowdbStore({ dir, layout: "folders" });
    expect((await plain.load(RUN))?.seq).toBe(top);
    await plain.append(RUN, [nodeRecord(top + 1, "a", { status: "succeeded", output: "plain" })]);
    await plain.close();
    const durable = new LowdbStore({ dir, fsync: true, layout: "folders" });
    expect((await durable.load(RUN))?.seq).toBe(top + 1);
    await durable.append(RUN, [nodeRecord(top + 2, "b", { status: "succeeded", output: "durable" })]);
    await durable.close();
    const records = readAll();
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: top + 2 }, (_, i) => i + 1));
    const loaded = await new LowdbStore({ dir, layout: "folders" }).load(RUN);
    expect(loaded?.seq).toBe(top + 2);
    expect(nodeOf(loaded!.state, "b").output).toBe("durable");
  });
});
