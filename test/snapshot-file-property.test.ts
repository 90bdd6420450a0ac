/**
 * Snapshot format versions 2 and 3 (src/persistence/snapshot-file.ts,
 * node-columns.ts) under random input:
 * - node records of every kind (odd values, missing and extra fields, a
 *   `nodeId` other than the id, ids holding a line feed, times that are
 *   not finite) written as column chunks of any size, in version 3 (ids
 *   as one text where they can be) and in version 2 (ids as lists), and
 *   read back are the records written (`storable`'s); given the ids a
 *   load expects (a layout) they are the same records;
 * - damage to a parsed version 3 document (a value replaced or removed):
 *   the check refuses it, or what it lets through is a valid version 1
 *   document (`checkSnapshotFully`), never records the engine cannot use;
 * - damage to a version 3 file's bytes (changed, removed, inserted, cut
 *   short): `LowdbStore.load` refuses it with `SnapshotCorruptError`
 *   naming the file, never another error, or loads what its text decodes
 *   to, which the version 1 walk accepts.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runAsync, SnapshotCorruptError } from "../src/index.js";
import { replay, storable, type SnapshotDocument } from "../src/persistence/replay.js";
import { chunksProblem, fromChunks, startsWithOrder, toChunks } from "../src/persistence/node-columns.js";
import { checkSnapshotFile, fromSnapshotFile, toSnapshotFileDocument, type SnapshotFileDocument } from "../src/persistence/snapshot-file.js";
import { checkSnapshotFully } from "../src/persistence/snapshot-schema.js";
import { deserialize, serialize } from "../src/persistence/serialization.js";
import { NODE_STATUSES } from "../src/state/status.js";
import type { NodeRecord } from "../src/state/records.js";
import { tempStores } from "./support/temp-stores.js";
import { damagedText } from "./support/damaged-text.js";
import { propertyRunGraph } from "./support/property-run-graph.js";

// The run's snapshot.json is damaged here: every store keeps its runs as folders.
const { tempDir, lowdb } = tempStores("taskloom-snapshot-file-", { layout: "folders" });

const value = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(undefined, null, -0, Number.NaN, Number.POSITIVE_INFINITY, 12345678901234567890n, new Date(0), new Map([["k", 1]]), new Set([1])),
);
const time = fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double({ noNaN: true }), fc.constantFrom(Number.POSITIVE_INFINITY, -0));
const error = fc
  .record({ name: fc.string(), message: fc.string() }, { requiredKeys: ["name", "message"] })
  .map((e) => ({ ...e, stack: `${e.name}\n    at x` }));

const record: fc.Arbitrary<NodeRecord> = fc
  .record(
    {
      id: fc.string({ minLength: 1, maxLength: 8 }),
      nodeId: fc.option(fc.string({ minLength: 1, maxLength: 4 }), { nil: undefined }),
      status: fc.constantFrom(...NODE_STATUSES),
      attempts: fc.nat(5),
      output: value,
      durable: fc.boolean(),
      error,
      startedAt: time,
      endedAt: time,
      retryAt: time,
      steps: fc.dictionary(fc.string({ maxLength: 3 }), value, { maxKeys: 2 }),
      visit: fc.nat(3),
      route: fc.string(),
      settleOrder: fc.nat(9),
      attemptLog: fc.array(fc.record({ startedAt: fc.nat(), outcome: fc.constantFrom("failed", "cancelled", "interrupted", "suspended"), error }), {
        maxLength: 2,
      }),
    },
    { requiredKeys: ["id", "status", "attempts"] },
  )
  .map((r) => ({ ...r, nodeId: r.nodeId ?? r.id }));

/** A record whose id may hold a line feed, which an id text cannot (its chunk keeps a list). */
const recordAnyId = fc
  .tuple(record, fc.option(fc.constantFrom("a\nb", "\n", "x\n"), { nil: undefined }))
  .map(([r, id]) => (id === undefined ? r : { ...r, id, nodeId: id }));

const META = { runId: "r", graphName: "g", fingerprint: "f", inputs: undefined, status: "failed", createdAt: 1, updatedAt: 2, starts: 1, waits: [] };

describe("snapshot format versions 2 and 3", () => {
  it("writes any node records as column chunks and reads back the records written", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(recordAnyId, { selector: (r) => r.id, maxLength: 12 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        (records, perChunk, v3) => {
          const doc = { version: v3 ? 3 : 2, seq: 3, meta: META, nodes: toChunks(records, perChunk, v3) };
          const back = deserialize<SnapshotFileDocument>(serialize(doc));
          expect(checkSnapshotFile(back)).toBeUndefined();
          expect(fromSnapshotFile(back).nodes).toEqual(records);
          expect(fromChunks(back.nodes)).toEqual(records);
          // Given the ids expected by position (a load's layout), some right and some not: the same records.
          const order = records.map((r, i) => (i % 3 === 1 ? `${r.id}?` : r.id)).slice(0, Math.max(0, records.length - 1));
          expect(fromChunks(back.nodes, order)).toEqual(records);
          expect(fromSnapshotFile(back, order).nodes).toEqual(records);
          // Given exactly their ids (frozen, as a graph's order is; twice, the second from the kept text): the same
          // records, which hold the layout's own strings and are known to start with it when the ids were text.
          const exact = Object.freeze(records.map((r) => r.id));
          for (let i = 0; i < 2; i++) {
            const laid = fromChunks(back.nodes, exact);
            expect(laid).toEqual(records);
            if (records.length > 0) expect(startsWithOrder(laid, exact)).toBe(v3 && records.every((r) => !r.id.includes("\n")));
          }
          if (records.length > 1) expect(startsWithOrder(fromChunks(back.nodes, order), order)).toBe(false);
          // What a store writes leaves out the outputs flagged not durable.
          const state = replay({ version: 1, seq: 0, meta: META as SnapshotDocument["meta"], nodes: records }, []).state;
          expect(fromSnapshotFile(deserialize(serialize(toSnapshotFileDocument(state, 3)))).nodes).toEqual(records.map((r) => storable(r)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses a damaged document, or lets through only a valid version 1 document", () => {
    const records = fc.sample(record, { numRuns: 7, seed: 16 });
    const text = serialize({ version: 3, seq: 3, meta: META, nodes: toChunks(records, 3) });
    const paths = pathsOf(deserialize(text));
    fc.assert(
      fc.property(fc.nat(paths.length - 1), fc.option(value, { nil: "delete" as const }), (at, replacement) => {
        const doc = deserialize<Record<string, unknown>>(text);
        damage(doc, paths[at]!, replacement);
        const problem = checkSnapshotFile(doc);
        if (problem !== undefined) return;
        expect(checkSnapshotFully(fromSnapshotFile(doc as unknown as SnapshotFileDocument))).toBeUndefined();
      }),
      { numRuns: 2_000 },
    );
    expect(chunksProblem([{ id: ["a"], status: "?", attempts: [1] }])).toBe("nodes[0].status[0] is not a node status letter");
    // An id text's ids are counted by its line feeds; version 2 has no id text.
    expect(chunksProblem([{ id: "a\nb", status: "s", attempts: [1] }])).toBe("nodes[0].status has 1 letters for 2 records");
    expect(checkSnapshotFile({ version: 2, seq: 3, meta: META, nodes: [{ id: "a", status: "s", attempts: [1] }] })).toBe("snapshot.nodes[0].id is not a list");
    // Version 4 (a journal beside it may hold batch lines, journal-batch.ts) is version 3's document; 5 is unknown.
    expect(checkSnapshotFile({ version: 4, seq: 3, meta: META, nodes: [{ id: "a", status: "s", attempts: [1] }] })).toMatch(/^snapshot\.nodes\[0\]\.output/);
    expect(checkSnapshotFile({ version: 5, seq: 3, meta: META, nodes: [] })).toBe("it has snapshot format version 5, expected 1, 2, 3 or 4");
    // A damaged version that cannot be made a string (this property's seed 342143943 found it: a TypeError, not a problem).
    expect(checkSnapshotFile({ version: { toString: 0 }, seq: 3, meta: META, nodes: [] })).toBe(
      "it has snapshot format version an object, expected 1, 2, 3 or 4",
    );
    expect(checkSnapshotFile({ version: [Object.create(null)], seq: 3, meta: META, nodes: [] })).toBe(
      "it has snapshot format version a list, expected 1, 2, 3 or 4",
    );
  });

  it("a file with damaged bytes loads as its text decodes, or is refused naming the file", async () => {
    const { dir, file, text } = await storedRun();
    const bytes = damagedText(text, '{}[]":,0123456789-.aeflnprstuvk \\', '{}[]":,0-1tfnps \\');
    await fc.assert(
      fc.asyncProperty(bytes, async (changed) => {
        writeFileSync(file, changed);
        const store = lowdb(dir);
        const outcome = await store.load("r").then(
          (stored) => ({ stored }),
          (error: unknown) => ({ error }),
        );
        await store.close();
        if ("error" in outcome) {
          expect(outcome.error).toBeInstanceOf(SnapshotCorruptError);
          expect((outcome.error as SnapshotCorruptError).file).toBe(file);
          return;
        }
        // It loaded: the text decodes to a valid document (by the version 1 walk too), and the state is what it replays to.
        const doc = fromSnapshotFile(deserialize<SnapshotFileDocument>(changed));
        expect(checkSnapshotFully(doc)).toBeUndefined();
        expect(outcome.stored?.state).toEqual(replay(doc, []).state);
      }),
      { numRuns: 300 },
    );
  });
});

/** A store folder with one failed run "r" (a `Date` and an `undefined` output, an attempt log, an error with a cause) and its version 4 snapshot. */
async function storedRun(): Promise<{ dir: string; file: string; text: string }> {
  const g = propertyRunGraph();
  const dir = tempDir();
  const store = lowdb(dir);
  await expect(runAsync(g, undefined, { store, runId: "r", continueOnError: true, retry: { maxAttempts: 2, backoff: { initialMs: 0 } } })).rejects.toThrow();
  await store.close();
  const file = join(dir, "runs", "r", "snapshot.json");
  const text = readFileSync(file, "utf8");
  // Written as version 4: version 3's document, beside a journal that may hold batch lines.
  expect((JSON.parse(text) as { json: { version: number } }).json.version).toBe(4);
  return { dir, file, text };
}

type Path = (string | number)[];

/** Every path to a value inside `value` (the root excluded). */
function pathsOf(value: unknown, at: Path = [], out: Path[] = []): Path[] {
  if (typeof value !== "object" || value === null) return out;
  for (const key of Object.keys(value)) {
    const path = [...at, Array.isArray(value) ? Number(key) : key];
    out.push(path);
    pathsOf((value as Record<string, unknown>)[key], path, out);
  }
  return out;
}

/** Replaces (or, with "delete", removes) the value at `path` inside `doc`. */
function damage(doc: Record<string, unknown>, path: Path, replacement: unknown): void {
  let parent = doc as Record<string | number, unknown>;
  for (const piece of path.slice(0, -1)) parent = parent[piece] as Record<string | number, unknown>;
  const key = path.at(-1)!;
  if (replacement !== "delete") parent[key] = replacement;
  else if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete parent[key];
}
