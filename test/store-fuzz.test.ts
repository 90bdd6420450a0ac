/**
 * Corruption fuzz for a run's files in `LowdbStore`, a run kept as a folder
 * (`layout: "folders"`; test/run-file-fuzz.test.ts damages the run file of
 * the default layout): fast-check damages one of `snapshot.json`,
 * `journal.ndjson`, `summary.json`, `lease.json` (truncation, byte flips,
 * junk lines), then a fresh store reads the run.
 * Every outcome must be the documented one:
 *
 * - a truncated journal loads, as if its torn tail were not there;
 * - otherwise `getRun` returns a well-formed run or rejects with
 *   `SnapshotCorruptError` naming the damaged file; `listRuns` never
 *   rejects, and reports a bad summary through `onProblem`; taking the
 *   lease succeeds or rejects with `SnapshotCorruptError` naming lease.json;
 * - never an untyped error, and reading never changes the file's bytes.
 *
 * Seeded (FUZZ_SEED to replay a failure, FUZZ_RUNS for a longer hunt) and
 * small by default, so it takes seconds.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRun, listRuns, LowdbStore, NODE_STATUSES, RUN_STATUSES, SnapshotCorruptError, type RunDetails } from "../src/index.js";
import { nodeRecord, runRecord, sampleRun } from "./store-conformance.js";

const SEED = Number(process.env.FUZZ_SEED ?? 1414);
const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const FILES = ["snapshot.json", "journal.ndjson", "summary.json", "lease.json"] as const;
type Target = (typeof FILES)[number];

let root: string;
let template: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "taskloom-fuzz-"));
  template = join(root, "template");
  const store = new LowdbStore({ dir: template, layout: "folders" });
  const state = sampleRun("r1", {
    nodeIds: ["a", "b", "c", "d", "e", "f"],
    output: { when: new Date(5), tags: new Set(["x"]), big: 12n, m: new Map([["k", [1, 2]]]) },
  });
  await store.writeSnapshot(state, 0);
  await store.append("r1", [
    nodeRecord(1, "b", { status: "succeeded", output: { rows: [1, 2, 3], at: new Date(7) }, endedAt: 3_000 }),
    nodeRecord(2, "c", { status: "retrying", error: { name: "Error", message: "flaky", code: "E1" }, retryAt: 4_000 }),
    nodeRecord(3, "c", { status: "running", steps: { fetch: { n: 1 } } }),
    runRecord(4, { ...state.meta, status: "waiting", waits: [{ key: "k1", nodeId: "c", since: 3_500 }] }),
  ]);
  await store.acquireLease("r1", { owner: "o1", pid: 999_999_999, host: hostname(), ttlMs: 60_000, now: Date.now() });
  await store.close();
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const junkLine = fc.oneof(
  fc.string(),
  fc.json(),
  fc.constantFrom(
    "{}",
    "null",
    '{"json":null}',
    '{"json":[]}',
    '{"json":{"kind":"node","seq":1}}',
    '{"json":{"kind":"node","seq":9,"node":{"id":"b"}}}',
    '{"json":{"kind":"run","seq":99,"run":{"runId":"r1"}}}',
    '{"json":{"kind":"run","seq":99,"run":{"runId":"other"}}}',
    '{"json":1,"meta":{"values":["Date"]}}',
    '{"json":"x","meta":{"values":["bigint"]}}',
    '{"json":{"a":1},"meta":{"values":{"a":["map"]}}}',
    '{"json":{"__proto__":{"polluted":true}}}',
    '{"json":{"a":{}},"meta":{"values":{"a.__proto__":["map"]}}}',
  ),
);

/** A position in [0, 1), spread evenly (fast-check's default bias would pick the ends). */
const fraction = fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((n) => n / 1_000_000);

const damage = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fraction }),
  fc.record({
    kind: fc.constant("flip" as const),
    flips: fc.array(fc.record({ at: fraction, byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant("junk" as const), at: fraction, line: junkLine }),
  // Valid JSON, wrong shape: one field of one document (or journal line) deleted or replaced.
  fc.record({
    kind: fc.constant("edit" as const),
    line: fraction,
    at: fraction,
    value: fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
  }),
);
type Damage = typeof damage extends fc.Arbitrary<infer D> ? D : never;

/** The damaged bytes, and for a journal truncation the complete lines left. */
function apply(bytes: Buffer, d: Damage): Buffer {
  const pos = (at: number, n: number) => Math.min(n - 1, Math.floor(at * n));
  switch (d.kind) {
    case "truncate":
      return bytes.subarray(0, Math.min(bytes.length - 1, Math.floor(d.at * bytes.length)));
    case "flip": {
      const out = Buffer.from(bytes);
      for (const f of d.flips) if (out.length > 0) out[pos(f.at, out.length)] = f.byte;
      return out;
    }
    case "junk": {
      // At a line boundary: after one of the file's "\n", or at the start.
      const starts = [0];
      for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) starts.push(i + 1);
      const at = starts[pos(d.at, starts.length)]!;
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(`${d.line.replace(/\n/g, " ")}\n`), bytes.subarray(at)]);
    }
    case "edit": {
      const lines = bytes.toString("utf8").split("\n");
      const i = pos(d.line, Math.max(1, lines.length - (lines.at(-1) === "" ? 1 : 0)));
      const doc = JSON.parse(lines[i]!) as { json: unknown };
      const paths: (string | number)[][] = [];
      const walk = (v: unknown, path: (string | number)[]) => {
        if (path.length > 0) paths.push(path);
        // Structure, not user values: the fields the engine reads are at most 3 deep.
        if (path.length < 3 && v !== null && typeof v === "object")
          for (const [k, c] of Object.entries(v)) walk(c, [...path, Array.isArray(v) ? Number(k) : k]);
      };
      walk(doc.json, []);
      if (paths.length > 0) {
        const path = paths[pos(d.at, paths.length)]!;
        const parent = path
          .slice(0, -1)
          .reduce<Record<string | number, unknown>>((o, k) => o[k] as Record<string | number, unknown>, doc.json as Record<string, unknown>);
        const key = path.at(-1)!;
        if (d.value === undefined) delete parent[key];
        else parent[key] = d.value;
      }
      lines[i] = JSON.stringify(doc);
      return Buffer.from(lines.join("\n"));
    }
  }
}

let cases = 0;
/** A fresh copy of the template store with `target` damaged; its folder, the file and its bytes. */
async function damagedCopy(target: Target, d: Damage) {
  const dir = join(root, `case-${++cases}`);
  await cp(template, dir, { recursive: true });
  const file = join(dir, "runs", "r1", target);
  const bytes = apply(await readFile(file), d);
  await writeFile(file, bytes);
  return { dir, file, bytes };
}

async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

function expectWellFormed(run: RunDetails): void {
  expect(RUN_STATUSES).toContain(run.status);
  expect([typeof run.runId, typeof run.graphName, typeof run.fingerprint]).toEqual(["string", "string", "string"]);
  expect([typeof run.createdAt, typeof run.updatedAt, typeof run.starts]).toEqual(["number", "number", "number"]);
  expect(Array.isArray(run.waits)).toBe(true);
  for (const n of run.nodes) {
    expect(NODE_STATUSES).toContain(n.status);
    expect([typeof n.id, typeof n.nodeId, typeof n.attempts]).toEqual(["string", "string", "number"]);
  }
}

function expectCorruptNaming(error: unknown, file: string): void {
  expect(error, String(error)).toBeInstanceOf(SnapshotCorruptError);
  expect((error as SnapshotCorruptError).file).toBe(file);
}

describe("damaged run files give the documented recovery or SnapshotCorruptError naming the file, and are never changed by a read", () => {
  for (const target of FILES) {
    it(target, { timeout: 60_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(damage, async (d) => {
          const { dir, file, bytes } = await damagedCopy(target, d);
          const store = new LowdbStore({ dir, layout: "folders" });
          try {
            const got = await settle(getRun("r1", { store }));
            if (got.ok) expectWellFormed(got.value);
            else expectCorruptNaming(got.error, file);
            if (target === "journal.ndjson" && d.kind === "truncate") {
              // A torn tail is ignored: the run is what the complete lines make.
              expect(got.ok, got.ok ? "" : String(got.error)).toBe(true);
              const complete = bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1);
              const reference = join(dir, "..", `ref-${cases}`);
              await cp(template, reference, { recursive: true });
              await writeFile(join(reference, "runs", "r1", "journal.ndjson"), complete);
              const expected = await getRun("r1", { store: new LowdbStore({ dir: reference, layout: "folders" }) });
              if (got.ok) expect(got.value).toEqual(expected);
            }

            const problems: unknown[] = [];
            const listed = await listRuns({ store, onProblem: (p) => problems.push(p) });
            expect(listed.length + problems.length).toBe(1);
            for (const p of problems) expectCorruptNaming(p, join(dir, "runs", "r1", "summary.json"));

            expect(await readFile(file)).toEqual(bytes);

            if (target === "lease.json") {
              const taken = await settle(store.acquireLease("r1", { owner: "o2", pid: process.pid, host: hostname(), ttlMs: 1_000, now: Date.now() }));
              if (!taken.ok) {
                // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
                expect(taken.error).toMatchObject({ code: expect.stringMatching(/^(SNAPSHOT_CORRUPT|RUN_LOCKED)$/) });
                if ((taken.error as { code: string }).code === "SNAPSHOT_CORRUPT") expectCorruptNaming(taken.error, file);
                expect(await readFile(file)).toEqual(bytes);
              }
            }
          } finally {
            await store.close();
            await rm(dir, { recursive: true, force: true });
          }
        }),
        { seed: SEED + FILES.indexOf(target), numRuns: NUM_RUNS },
      );
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  }
});
