/**
 * A `LowdbStore` journal written with compact records (journal-delta.ts:
 * `reset`, a line of `resets`, `sameLog`), cut anywhere, loads as the state
 * its writer had. Under random histories (a stored run of failed,
 * succeeded, cancelled and pending nodes, loaded, then appends of resets,
 * attempts, results, failures, new activations and run metas):
 *
 * - the journal cut after any line (a crash after a write), or inside a
 *   line (a crash during one: a torn last line), loads as the writer's
 *   state after the last record of the last whole line: a line of resets
 *   brings all of its records or none;
 * - a snapshot written at any seq of that history (compaction, the journal
 *   after it kept) loads as the state after the last record, a line of
 *   resets that straddles the snapshot's seq applying only its records
 *   above it.
 *
 * And, the fix this guards: a resume's resets are one line, however many.
 * On both layouts: a run folder's `journal.ndjson`, and the records after
 * a run file's snapshot line (the default; a compaction there is a new
 * file with the records above its seq).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { replay } from "../src/persistence/replay.js";
import { checkRecord, checkRecordFully } from "../src/persistence/snapshot-schema.js";
import { markFailed, markPending, markRunning, markSucceeded } from "../src/state/node-transitions.js";
import { nodeRecords } from "../src/state/node-table.js";
import type { JournalRecord, NodeRecord, RunMeta } from "../src/state/records.js";
import type { RunState } from "../src/state/run-state.js";
import { runFile, runFileJournal } from "./support/run-file-journal.js";
import { tempStores, type TempStoreOptions } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-journal-prefix-");

/** Where a layout keeps run "r"'s journal records after its snapshot: read as text, and replaced by a given text. */
interface Layout {
  readonly name: string;
  readonly options: TempStoreOptions;
  readonly journal: (dir: string) => string;
  readonly setJournal: (dir: string, text: string) => void;
}

const LAYOUTS: readonly Layout[] = [
  {
    name: "runs kept as folders",
    options: { layout: "folders" },
    journal: (dir) => readFileSync(join(dir, "runs", "r", "journal.ndjson"), "utf8"),
    setJournal: (dir, text) => writeFileSync(join(dir, "runs", "r", "journal.ndjson"), text),
  },
  {
    name: "runs kept as run files (the default)",
    options: {},
    journal: (dir) => runFileJournal(dir, "r"),
    // The file's lines up to its summary line (its lease, snapshot and summary: what these tests' stores write before
    // any record, no lease being taken), then `text`.
    setJournal: (dir, text) => {
      const file = runFile(dir, "r");
      const whole = readFileSync(file, "utf8");
      const summary = whole.indexOf('{"json":{"kind":"summary"');
      writeFileSync(file, whole.slice(0, whole.indexOf("\n", summary) + 1) + text);
    },
  },
];

const META: RunMeta = { runId: "r", graphName: "g", fingerprint: "f", inputs: undefined, status: "failed", createdAt: 1, updatedAt: 2, starts: 1, waits: [] };

/** What a stored node went through before the snapshot. */
const PASTS = ["pending", "succeeded", "failed", "failed twice", "cancelled", "running"] as const;
type Past = (typeof PASTS)[number];

/** One change of an append: to the nodes at `at` (indices into the activations, modulo their number), or a new activation, or a run meta. */
type Op =
  | { readonly kind: "reset" | "run" | "succeed" | "fail"; readonly at: readonly number[] }
  | { readonly kind: "add" }
  | { readonly kind: "meta"; readonly status: RunMeta["status"] };

const op: fc.Arbitrary<Op> = fc.oneof(
  // Resets of several nodes at once, as a resume's start makes them (a line of resets).
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("reset" as const), at: fc.array(fc.nat(40), { minLength: 1, maxLength: 8 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constantFrom("run" as const, "succeed" as const, "fail" as const),
      at: fc.array(fc.nat(40), { minLength: 1, maxLength: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "add" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("meta" as const), status: fc.constantFrom("running" as const, "failed" as const, "succeeded" as const) }),
  },
);
const history = fc.record({
  pasts: fc.array(fc.constantFrom(...PASTS), { minLength: 1, maxLength: 10 }),
  appends: fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
});

const boom = (id: string, n: number) => ({ name: "Error", message: `boom ${n} of ${id}`, stack: `Error: boom\n    at ${id}` });

/** A node record that went through `past`. */
function pastRecord(id: string, past: Past): NodeRecord {
  let n: NodeRecord = { id, nodeId: id, status: "pending", attempts: 0 };
  if (past === "pending") return n;
  n = markRunning(10)(n);
  if (past === "running") return n;
  if (past === "succeeded") return markSucceeded({ id }, true, 11)(n);
  if (past === "cancelled") return { ...n, status: "cancelled", endedAt: 11 };
  n = markFailed(boom(id, 1), 11)(n);
  if (past === "failed") return n;
  return markFailed(boom(id, 2), 13)(markRunning(12)(markPending()(n)));
}

/** The writer's view: the latest record of each activation, in the order they first appeared, and the run meta. */
interface Model {
  readonly records: Map<string, NodeRecord>;
  meta: RunMeta;
}

/** A state holding `model`'s records and meta (what a load of it gives). */
function stateOf(model: Model, seq: number): RunState {
  return replay({ version: 1, seq, meta: model.meta, nodes: [...model.records.values()] }, []).state;
}

/** A run's meta and node records, in table order: what is compared. */
interface Content {
  readonly meta: RunMeta;
  readonly nodes: readonly NodeRecord[];
}

/** The content of a loaded state. */
const contentOf = (state: RunState): Content => ({ meta: state.meta, nodes: [...nodeRecords(state.nodes)] });

/**
 * The records of one append of `ops` to `model` (changed in place), seqs
 * from `seq + 1` on; the writer's state after each record goes to `after`.
 */
function recordsOf(model: Model, ops: readonly Op[], seq: number, now: number, after: Map<number, Content>): JournalRecord[] {
  const out: JournalRecord[] = [];
  const add = (r: JournalRecord) => {
    out.push(r);
    after.set(r.seq, { meta: model.meta, nodes: [...model.records.values()] });
  };
  for (const o of ops) {
    if (o.kind === "meta") {
      model.meta = { ...model.meta, status: o.status, updatedAt: now };
      add({ kind: "run", seq: ++seq, run: model.meta });
      continue;
    }
    if (o.kind === "add") {
      const id = `x${model.records.size}`;
      const node: NodeRecord = { id, nodeId: id, status: "pending", attempts: 0 };
      model.records.set(id, node);
      add({ kind: "node", seq: ++seq, node });
      continue;
    }
    const ids = [...model.records.keys()];
    for (const at of o.at) {
      const id = ids[at % ids.length]!;
      const before = model.records.get(id)!;
      const node =
        o.kind === "reset"
          ? markPending()(before)
          : o.kind === "run"
            ? markRunning(now)(before)
            : o.kind === "succeed"
              ? markSucceeded(at, true, now)(before)
              : markFailed(boom(id, now), now)(before);
      model.records.set(id, node);
      add({ kind: "node", seq: ++seq, node });
    }
  }
  return out;
}

/** The journal's lines (each with its "\n"). */
const linesOf = (text: string) => text.split(/(?<=\n)/).filter((l) => l.length > 0);

/** The highest seq a journal line holds (a line of resets: its `seq`, the last of its records). */
const seqOf = (line: string) => (JSON.parse(line) as { json: { seq: number } }).json.seq;

describe.each(LAYOUTS)("a LowdbStore journal with compact records, $name", (layout) => {
  const store = (dir: string) => lowdb(dir, layout.options);
  /** What a fresh store loads from `dir` with `journal` as the journal records' text. */
  const loadWith = async (dir: string, journal: string): Promise<Content> => {
    layout.setJournal(dir, journal);
    const fresh = store(dir);
    const stored = await fresh.load("r");
    await fresh.close();
    return contentOf(stored!.state);
  };

  it("cut after any line, or inside one, loads as the writer's state after that line; a snapshot at any seq loads as the last state", async () => {
    await fc.assert(
      fc.asyncProperty(history, fc.nat(), async ({ pasts, appends }, pick) => {
        const dir = tempDir();
        const model: Model = { records: new Map(), meta: META };
        pasts.forEach((past, i) => model.records.set(`n${i}`, pastRecord(`n${i}`, past)));
        const writer = store(dir);
        await writer.writeSnapshot(stateOf(model, 5), 5);
        // The writer loads the run, as a resume does: it then knows what the files hold, and writes compact records against it.
        const loaded = (await writer.load("r"))!;
        model.records.clear();
        for (const n of nodeRecords(loaded.state.nodes)) model.records.set(n.id, n);
        // The writer's state after each seq.
        const after = new Map<number, Content>([[5, contentOf(loaded.state)]]);
        let seq = 5;
        for (const [k, ops] of appends.entries()) {
          const records = recordsOf(model, ops, seq, 100 + k, after);
          await writer.append("r", records);
          seq += records.length;
        }
        await writer.close();
        const text = layout.journal(dir);
        const lines = linesOf(text);
        for (let cut = 0; cut <= lines.length; cut++) {
          const whole = lines.slice(0, cut).join("");
          const expected = after.get(cut === 0 ? 5 : seqOf(lines[cut - 1]!))!;
          expect(await loadWith(dir, whole)).toEqual(expected);
          if (cut < lines.length) {
            const next = lines[cut]!;
            expect(await loadWith(dir, whole + next.slice(0, 1 + (pick % (next.length - 1))))).toEqual(expected);
          }
        }
        // A snapshot at any seq of the history (the journal after it kept, a line of resets across it too): the last state.
        layout.setJournal(dir, text);
        // Half the time inside a line of resets, when there is one: the snapshot then covers some of its records only.
        const inside = lines.map((l) => (JSON.parse(l) as { json: { seq: number; resets?: unknown[] } }).json).filter((j) => (j.resets?.length ?? 0) > 1);
        const across = inside[pick % Math.max(1, inside.length)];
        const at = pick % 2 === 0 && across !== undefined ? across.seq - 1 - (pick % (across.resets!.length - 1)) : 5 + (pick % (seq - 5 + 1));
        const compacting = store(dir);
        await compacting.writeSnapshot(stateAt(after.get(at)!), at);
        await compacting.close();
        expect(await loadWith(dir, layout.journal(dir))).toEqual(after.get(seq));
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it("checks a line of resets: ids as text, one at least, and a seq that its first record's is a sequence number below", () => {
    expect(checkRecord({ kind: "node", seq: 4, resets: ["a", "b"] })).toBeUndefined();
    expect(checkRecord({ kind: "node", seq: 1, resets: ["a", "b"] })).toBeUndefined();
    expect(checkRecord({ kind: "node", seq: 0, resets: ["a", "b"] })).toBe("record.resets holds 2 resets, which seq 0 cannot end");
    expect(checkRecord({ kind: "node", seq: 4, resets: [] })).toBe("record.resets holds 0 resets, which seq 4 cannot end");
    expect(checkRecord({ kind: "node", seq: 4, resets: ["a", 3] })).toBe("record.resets[1] is not text");
    expect(checkRecord({ kind: "node", seq: -1, resets: ["a"] })).toBe("record.seq is not a whole number");
    expect(checkRecordFully({ kind: "node", seq: 0, resets: ["a", "b"] })).toBe(checkRecord({ kind: "node", seq: 0, resets: ["a", "b"] }));
  });

  it("writes a resume's resets, however many, as one line", async () => {
    const dir = tempDir();
    const model: Model = { records: new Map(), meta: META };
    for (let i = 0; i < 50; i++) model.records.set(`n${i}`, pastRecord(`n${i}`, i % 5 === 0 ? "succeeded" : "failed twice"));
    const writer = store(dir);
    await writer.writeSnapshot(stateOf(model, 5), 5);
    const loaded = (await writer.load("r"))!;
    const resets: JournalRecord[] = [];
    let seq = 5;
    for (const n of nodeRecords(loaded.state.nodes)) if (n.status === "failed") resets.push({ kind: "node", seq: ++seq, node: markPending()(n) });
    await writer.append("r", [...resets, { kind: "run", seq: seq + 1, run: { ...META, status: "running" } }]);
    await writer.close();
    const lines = linesOf(layout.journal(dir)).map((l) => (JSON.parse(l) as { json: Record<string, unknown> }).json);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual({ kind: "node", seq: 45, resets: resets.map((r) => (r as { node: NodeRecord }).node.id) });
    const back = await loadWith(dir, layout.journal(dir));
    expect(back.nodes.filter((n) => n.status === "pending")).toEqual(resets.map((r) => (r as { node: NodeRecord }).node));
  });
});

/** The state `content` holds, as a `RunState` (for a snapshot of it). */
function stateAt(content: Content): RunState {
  return replay({ version: 1, seq: 0, meta: content.meta, nodes: content.nodes }, []).state;
}
