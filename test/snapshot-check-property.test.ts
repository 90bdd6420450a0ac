/**
 * The snapshot shape check's fast pass (src/persistence/snapshot-schema.ts)
 * against random damage: it never lets through what the field-by-field
 * walk refuses, and a damaged snapshot file either loads as the walk says
 * it may (equal to what its text replays to) or is refused with
 * `SnapshotCorruptError` naming the file, never another error.
 *
 * Two property tests over a real run's snapshot (a `Date` output, so
 * superjson annotations; a retried node, so an attempt log; a failed node
 * whose error has a cause; an `undefined` output):
 * - damage to the parsed document (a value replaced, a key removed, an
 *   object made prototype-less): `checkSnapshot` and `checkRecord` answer
 *   exactly as `checkSnapshotFully` and `checkRecordFully` do;
 * - damage to the file's bytes (changed, removed, inserted, cut short):
 *   `LowdbStore.load` loads or refuses as above.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runAsync, SnapshotCorruptError } from "../src/index.js";
import { replay, type SnapshotDocument } from "../src/persistence/replay.js";
import { checkRecord, checkRecordFully, checkSnapshot, checkSnapshotFully } from "../src/persistence/snapshot-schema.js";
import { deserialize, serialize } from "../src/persistence/serialization.js";
import { parseDocument } from "../src/persistence/stored-document.js";
import { tempStores } from "./support/temp-stores.js";
import { damagedText } from "./support/damaged-text.js";
import { snapshotDocumentOf } from "./support/snapshot-file.js";
import { propertyRunGraph } from "./support/property-run-graph.js";

// The run's snapshot.json is rewritten and damaged here: every store keeps its runs as folders.
const { tempDir, lowdb } = tempStores("taskloom-check-property-", { layout: "folders" });

/**
 * A store folder with one failed run "r" of the graph above, and its
 * snapshot's text: `text` in format version 1 (which the file then holds:
 * the version a store written before version 2 holds, and the one the
 * fast pass checks), `written` as the store wrote it (version 2).
 */
async function storedRun(): Promise<{ dir: string; file: string; text: string; written: string }> {
  const dir = tempDir();
  const store = lowdb(dir);
  await expect(
    runAsync(propertyRunGraph(), undefined, { store, runId: "r", continueOnError: true, retry: { maxAttempts: 2, backoff: { initialMs: 0 } } }),
  ).rejects.toThrow();
  await store.close();
  const file = join(dir, "runs", "r", "snapshot.json");
  // No journal after the run's final snapshot: the file's text alone is the run.
  expect(existsSync(join(dir, "runs", "r", "journal.ndjson")) ? readFileSync(join(dir, "runs", "r", "journal.ndjson"), "utf8") : "").toBe("");
  const written = readFileSync(file, "utf8");
  const text = serialize(snapshotDocumentOf(written));
  writeFileSync(file, text);
  return { dir, file, text, written };
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

const odd = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(undefined, Number.NaN, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, "succeeded", "pending", "failed", "running", "bogus", true, null, [], {}),
  fc.constant("a Map").map(() => new Map([["k", 1]])),
  fc.constant("a Date").map(() => new Date(0)),
);

type Damage = { kind: "set"; value: unknown } | { kind: "delete" } | { kind: "no prototype" } | { kind: "add key"; key: string; value: unknown };

const damage: fc.Arbitrary<Damage> = fc.oneof(
  odd.map((value) => ({ kind: "set" as const, value })),
  fc.constant({ kind: "delete" as const }),
  fc.constant({ kind: "no prototype" as const }),
  fc
    .tuple(fc.constantFrom("status", "id", "attempts", "error", "cause", "seq", "waits", "attemptLog", "extra", "__proto__"), odd)
    .map(([key, value]) => ({ kind: "add key" as const, key, value })),
);

/** `doc` (a fresh parse) with `d` done at `path`. */
function damaged(doc: unknown, path: Path, d: Damage): unknown {
  const root = { doc };
  let parent: Record<string | number, unknown> = root;
  let key: string | number = "doc";
  for (const piece of path) {
    parent = parent[key] as Record<string | number, unknown>;
    key = piece;
  }
  const target = parent[key];
  switch (d.kind) {
    case "set":
      parent[key] = d.value;
      break;
    case "delete":
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case "no prototype":
      if (typeof target === "object" && target !== null && !Array.isArray(target)) parent[key] = Object.assign(Object.create(null) as object, target);
      break;
    case "add key":
      if (typeof target === "object" && target !== null)
        Object.defineProperty(target, d.key, { value: d.value, enumerable: true, writable: true, configurable: true });
      break;
  }
  return root.doc;
}

describe("the snapshot check's fast pass under random damage", () => {
  it("answers every damaged document and journal record exactly as the full walk does", async () => {
    const { text } = await storedRun();
    const paths = pathsOf(deserialize(text));
    expect(checkSnapshot(deserialize(text))).toBeUndefined();
    fc.assert(
      fc.property(fc.nat(paths.length - 1), damage, fc.boolean(), (at, d, asRecord) => {
        const doc = damaged(deserialize(text), paths[at]!, d);
        expect(checkSnapshot(doc)).toBe(checkSnapshotFully(doc));
        if (!asRecord) return;
        // The same damage, seen as journal records: each node record, and the run meta.
        const parsed = doc as { meta?: unknown; nodes?: unknown };
        const nodes: unknown[] = Array.isArray(parsed.nodes) ? parsed.nodes : [];
        for (const node of nodes) {
          const record = { kind: "node", seq: 1, node };
          expect(checkRecord(record)).toBe(checkRecordFully(record));
        }
        const run = { kind: "run", seq: 1, run: parsed.meta };
        expect(checkRecord(run)).toBe(checkRecordFully(run));
      }),
      { numRuns: 2_000 },
    );
  });

  it("a snapshot file with damaged bytes loads as its text replays, or is refused naming the file", async () => {
    const { dir, file, text } = await storedRun();
    const bytes = damagedText(text, '{}[]":,0123456789-.aeflnrstu \\', '{}[]":,0-1tfn \\');
    await fc.assert(
      fc.asyncProperty(bytes, async (changed) => {
        writeFileSync(file, changed);
        const expected = parseDocument(changed, checkSnapshotFully);
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
        // It loaded: the full walk must agree, and the state is what the text replays to.
        expect(expected.ok).toBe(true);
        if (!expected.ok) return;
        expect(outcome.stored?.state).toEqual(replay(expected.value as SnapshotDocument, []).state);
      }),
      { numRuns: 300 },
    );
  });
});
