/**
 * Stores written in older snapshot formats still read and resume. Each
 * fixture is what the code of its day wrote, made by
 * test/fixtures/v1-store/make-fixture.mjs from the same graphs:
 * - test/fixtures/v1-store (main at b936c08): a version 1 `snapshot.json`,
 *   one object per node record, and version 1 journal lines;
 * - test/fixtures/v2-store (main at 24e1a7f): a version 2 `snapshot.json`,
 *   its node records as column chunks whose ids are lists (version 3,
 *   written now, keeps them as one text).
 *
 * In both, `mixed` failed (a `Date`, a `Map` of a `BigInt`, a `Set`, an
 * `undefined` output, an attempt log, an error with a cause) and `wide`
 * stopped as a crash would, with 40 records in its journal after the
 * snapshot. Read by `getRun`, `listRuns` and the CLI (loads without a
 * layout); resumed (a load with its graph's layout), only the nodes that
 * had not succeeded run, and the stored values come back with their types;
 * a store that holds the old snapshot and new journal lines (the resumes
 * end with an append) reads them alike.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import * as lib from "../src/index.js";
import { getRun, listRuns, LowdbStore, runAsync } from "../src/index.js";
import { runCli } from "./support/cli-process.js";
// @ts-expect-error -- a plain ES module shared with the fixture's maker (no types).
import { mixed, state, wide } from "./fixtures/v1-store/graphs.mjs";

interface FixtureState {
  failing: boolean;
  hang: boolean;
  ran: string[];
  tries: number;
}
const fixtureState = state as FixtureState;
const mixedGraph = (mixed as (l: typeof lib) => lib.TaskGraph<undefined, unknown>)(lib);
const wideGraph = (wide as (l: typeof lib) => lib.TaskGraph<undefined, number>)(lib);

const root = mkdtempSync(join(tmpdir(), "taskloom-old-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A snapshot document as stored (superjson's `json` part), as far as these checks look. */
type StoredSnapshot = { json: { version: number; nodes: unknown } };

const FIXTURES = [
  {
    version: 1,
    fixture: "v1-store",
    /** Version 1 keeps one object per node record. */
    nodesAreOld: (nodes: unknown) => Array.isArray(nodes) && nodes.every((n) => typeof (n as { id?: unknown }).id === "string"),
  },
  {
    version: 2,
    fixture: "v2-store",
    /** Version 2 keeps column chunks whose ids are lists. */
    nodesAreOld: (nodes: unknown) => Array.isArray(nodes) && nodes.every((chunk) => Array.isArray((chunk as { id?: unknown }).id)),
  },
] as const;

describe.each(FIXTURES)("a store written in snapshot format version $version", ({ version, fixture, nodesAreOld }) => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(root, `${fixture}-`));
    cpSync(resolve(import.meta.dirname, "fixtures", fixture, "runs"), join(dir, "runs"), { recursive: true });
    Object.assign(fixtureState, { failing: false, hang: false, ran: [], tries: 1 });
  });

  it(`holds version ${version} files (the fixture is what the old code wrote)`, () => {
    for (const runId of ["mixed", "wide"]) {
      const doc = (JSON.parse(readFileSync(join(dir, "runs", runId, "snapshot.json"), "utf8")) as StoredSnapshot).json;
      expect(doc.version).toBe(version);
      expect(nodesAreOld(doc.nodes)).toBe(true);
    }
    expect(
      readFileSync(join(dir, "runs", "wide", "journal.ndjson"), "utf8")
        .trim()
        .split("\n"),
    ).toHaveLength(41);
  });

  it("is read by getRun and listRuns, values with their types", async () => {
    const store = new LowdbStore({ dir });
    const runs = await listRuns({ store });
    expect(runs.map((r) => [r.runId, r.status]).sort()).toEqual([
      ["mixed", "failed"],
      ["wide", "running"],
    ]);
    const details = await getRun("mixed", { store });
    const node = (id: string) => details.nodes.find((n) => n.id === id);
    expect(node("date")?.output).toEqual(new Date(1_700_000_000_000));
    expect(node("map")?.output).toEqual({ m: new Map([["k", 12345678901234567890n]]), s: new Set([1, 2]) });
    expect(node("nothing")).toMatchObject({ status: "succeeded" });
    expect("output" in node("nothing")!).toBe(true);
    expect(node("nothing")?.output).toBeUndefined();
    expect(node("flaky")).toMatchObject({ status: "succeeded", output: "second try", attempts: 2 });
    expect(node("flaky")?.attemptLog).toMatchObject([{ outcome: "failed", error: { message: "first try fails" } }]);
    expect(node("fails")).toMatchObject({ status: "failed", error: { name: "NonRetryableError", message: "it fails", cause: { name: "TypeError" } } });
    const wideRun = await getRun("wide", { store });
    expect(wideRun.nodes.filter((n) => n.status === "succeeded")).toHaveLength(40);
    expect(wideRun.nodes.find((n) => n.id === "w39")).toMatchObject({ status: "running" });
    await store.close();
  });

  it("is read by the CLI", async () => {
    const runs = await runCli(dir, ["runs", "--json"]);
    expect(runs.code, runs.stderr).toBe(0);
    expect((JSON.parse(runs.stdout) as { runId: string }[]).map((r) => r.runId).sort()).toEqual(["mixed", "wide"]);
    const show = await runCli(dir, ["show", "mixed", "--json"]);
    expect(show.code, show.stderr).toBe(0);
    expect((JSON.parse(show.stdout) as { nodes: { id: string; status: string }[] }).nodes.find((n) => n.id === "fails")?.status).toBe("failed");
  }, 60_000);

  it("resumes: only what had not succeeded runs, stored outputs keep their types, and the run reads back the same", async () => {
    const store = new LowdbStore({ dir });
    await runAsync(mixedGraph, undefined, { store, runId: "mixed" });
    expect(fixtureState.ran.sort()).toEqual(["after", "fails"]);
    const wideOut = await runAsync(wideGraph, undefined, { store, runId: "wide", maxConcurrency: 4 });
    expect(wideOut).toBe(780);
    // The join ran too: its output is the sum of every stored output and w39's.
    expect(fixtureState.ran.filter((id) => id !== "after" && id !== "fails")).toEqual(["w39"]);
    await store.close();

    // Read afresh: the old snapshot and the journal lines the resumes appended.
    const fresh = new LowdbStore({ dir });
    const details = await getRun("mixed", { store: fresh });
    expect(details.status).toBe("succeeded");
    const node = (id: string) => details.nodes.find((n) => n.id === id);
    expect(node("after")?.output).toEqual({ when: new Date(1_700_000_000_000), n: 8 });
    expect(node("map")?.output).toEqual({ m: new Map([["k", 12345678901234567890n]]), s: new Set([1, 2]) });
    expect(node("fails")).toMatchObject({ status: "succeeded", output: 7, attemptLog: [{ outcome: "failed", error: { message: "it fails" } }] });
    // A succeeded run returns its stored outputs and runs nothing.
    fixtureState.ran.length = 0;
    expect(await runAsync(wideGraph, undefined, { store: fresh, runId: "wide" })).toBe(780);
    expect(fixtureState.ran).toEqual([]);
    await fresh.close();
  });
});
