/**
 * The CLI with damaged or planted store files (built CLI, real child
 * process): `taskloom runs` and `taskloom gc` serve the good runs and print
 * one warning line per bad one; `taskloom report` writes its HTML (which
 * holds the run's inputs) with mode 0600, like the store's files. The
 * damage is done to runs kept as folders (`runs/<runId>/`: stores made
 * with `layout: "folders"`), and to the run files (`<runId>.run`) of the
 * default layout.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expectOneLineError, runCli as cli } from "./support/cli-process.js";
import { graph, LowdbStore, ManualClock, runAsync, type LowdbStoreOptions } from "../src/index.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const DAY = 86_400_000;
const g = graph("small")
  .node("a", () => ({ secret: "s3cr3t" }))
  .build();

/** A store folder with old runs `ids` (40 days old), written by a store made with `options`. */
async function storeWith(ids: readonly string[], options: Omit<LowdbStoreOptions, "dir"> = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "taskloom-cli-problems-"));
  dirs.push(dir);
  const store = new LowdbStore({ ...options, dir });
  try {
    for (const runId of ids) await runAsync(g, undefined, { runId, store, clock: new ManualClock(Date.now() - 40 * DAY) });
  } finally {
    await store.close();
  }
  return dir;
}

const runFile = (dir: string, runId: string, name: string) => join(dir, "runs", runId, name);
/** Every run kept as a folder, whose files the tests below damage. */
const FOLDERS = { layout: "folders" } as const;

/**
 * `taskloom runs` on `dir` (runs good-1 and bad-1), as a table and as JSON: good-1 listed, bad-1 left out, and one
 * warning naming `badFile`.
 */
async function expectListedWithoutBad1(dir: string, badFile: string): Promise<void> {
  const table = await cli(dir, ["runs"]);
  expect(table.code, table.stderr).toBe(0);
  expect(table.stdout).toContain("good-1");
  expect(table.stdout).not.toContain("bad-1");
  const warnings = table.stderr.trimEnd().split("\n");
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/^warning\[SNAPSHOT_CORRUPT\]: /);
  expect(warnings[0]).toContain(badFile);

  const json = await cli(dir, ["runs", "--json"]);
  expect(json.code, json.stderr).toBe(0);
  expect((JSON.parse(json.stdout) as { runId: string }[]).map((r) => r.runId)).toEqual(["good-1"]);
  expect(json.stderr).toContain("warning[SNAPSHOT_CORRUPT]");
}

describe.concurrent("one bad run does not take the listing down", () => {
  // The damage in these two was an empty summary.json until a blank one became what a power loss leaves,
  // read as missing (the last case below): it is now a summary cut short, which no power loss makes.
  it("taskloom runs lists the good runs and warns about a run with a summary.json cut short", async () => {
    const dir = await storeWith(["good-1", "bad-1"], FOLDERS);
    truncateSync(runFile(dir, "bad-1", "summary.json"), 7);
    await expectListedWithoutBad1(dir, runFile(dir, "bad-1", "summary.json"));
  });

  it("taskloom gc removes the old good runs, keeps and names a run with a bad summary or a bad lease.json", async () => {
    const dir = await storeWith(["good-1", "bad-summary", "bad-lease"], FOLDERS);
    truncateSync(runFile(dir, "bad-summary", "summary.json"), 7);
    writeFileSync(runFile(dir, "bad-lease", "lease.json"), "{", { mode: 0o600 });
    const gc = await cli(dir, ["gc", "--older-than", "30d", "--json"]);
    expect(gc.code, gc.stderr).toBe(0);
    const result = JSON.parse(gc.stdout) as { removed: string[]; kept: { runId: string; reason: string }[] };
    expect(result.removed).toEqual(["good-1"]);
    expect(result.kept.map((k) => k.runId)).toEqual(["bad-lease"]);
    expect(gc.stderr).toContain(`warning[SNAPSHOT_CORRUPT]: `);
    expect(gc.stderr).toContain(runFile(dir, "bad-summary", "summary.json"));
    expect(gc.stderr).toContain(runFile(dir, "bad-lease", "lease.json"));
    expect(gc.stderr).not.toMatch(/\n\s+at /);
  });

  it("taskloom runs lists a run whose summary.json a power loss left blank, from its files, with no warning", async () => {
    const dir = await storeWith(["good-1", "blank-1"], FOLDERS);
    writeFileSync(runFile(dir, "blank-1", "summary.json"), Buffer.alloc(512));
    const json = await cli(dir, ["runs", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stderr).toBe("");
    const runs = JSON.parse(json.stdout) as { runId: string; status: string }[];
    expect(runs.map((r) => [r.runId, r.status]).sort()).toEqual([
      ["blank-1", "succeeded"],
      ["good-1", "succeeded"],
    ]);
  });

  it("taskloom show of a run with a corrupt snapshot is one error line naming the file", async () => {
    const dir = await storeWith(["bad-1"], FOLDERS);
    truncateSync(runFile(dir, "bad-1", "snapshot.json"), 3);
    const r = await cli(dir, ["show", "bad-1"]);
    expectOneLineError(r, "SNAPSHOT_CORRUPT");
    expect(r.stderr).toContain(runFile(dir, "bad-1", "snapshot.json"));
  });
});

/** The run file of run `runId` (the default layout). */
const runFileOf = (dir: string, runId: string) => join(dir, `${runId}.run`);

/**
 * Cuts the first line of `kind` (`{"json":{"kind":"<kind>"…`) in run `runId`'s file short, after its kind (a line
 * whose kind cannot be read is one `list` passes over); the lines after it are kept, so that it is not a torn append.
 */
function cutLine(dir: string, runId: string, kind: string): void {
  const file = runFileOf(dir, runId);
  const lines = readFileSync(file, "utf8").split(/(?<=\n)/);
  const i = lines.findIndex((l) => l.startsWith(`{"json":{"kind":"${kind}"`));
  expect(i, `no ${kind} line in ${file}`).toBeGreaterThanOrEqual(0);
  expect(i, `the ${kind} line is the last of ${file}`).toBeLessThan(lines.length - 1);
  lines[i] = `${lines[i]!.slice(0, `{"json":{"kind":"${kind}",`.length + 3)}\n`;
  writeFileSync(file, lines.join(""));
}

describe.concurrent("one bad run file (the default layout) does not take the listing down", () => {
  it("taskloom runs lists the good runs and warns about a run whose summary line is cut short", async () => {
    const dir = await storeWith(["good-1", "bad-1"]);
    cutLine(dir, "bad-1", "summary");
    await expectListedWithoutBad1(dir, runFileOf(dir, "bad-1"));
  });

  it("taskloom gc removes the old good runs, keeps and names a run with a bad summary line or a bad lease line", async () => {
    const dir = await storeWith(["good-1", "bad-summary", "bad-lease"]);
    cutLine(dir, "bad-summary", "summary");
    cutLine(dir, "bad-lease", "lease");
    const gc = await cli(dir, ["gc", "--older-than", "30d", "--json"]);
    expect(gc.code, gc.stderr).toBe(0);
    const result = JSON.parse(gc.stdout) as { removed: string[]; kept: { runId: string; reason: string }[] };
    expect(result.removed).toEqual(["good-1"]);
    expect(result.kept.map((k) => k.runId)).toEqual(["bad-lease"]);
    expect(gc.stderr).toContain(`warning[SNAPSHOT_CORRUPT]: `);
    expect(gc.stderr).toContain(runFileOf(dir, "bad-summary"));
    expect(gc.stderr).toContain(runFileOf(dir, "bad-lease"));
    expect(gc.stderr).not.toMatch(/\n\s+at /);
  });

  it("taskloom show of a run with a corrupt snapshot line is one error line naming the run file", async () => {
    const dir = await storeWith(["bad-1"]);
    cutLine(dir, "bad-1", "snapshot");
    const r = await cli(dir, ["show", "bad-1"]);
    expectOneLineError(r, "SNAPSHOT_CORRUPT");
    expect(r.stderr).toContain(runFileOf(dir, "bad-1"));
  });
});

describe.concurrent("taskloom report writes the HTML for its owner only", () => {
  it("a new report file has mode 0600", async () => {
    const dir = await storeWith(["r1"]);
    const out = join(dir, "r1.html");
    const r = await cli(dir, ["report", "r1", "-o", out, "--renderer", "svg"]);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it("an existing report file readable by others is made 0600 before the run's data is written to it", async () => {
    const dir = await storeWith(["r1"]);
    const out = join(dir, "r1.html");
    writeFileSync(out, "old");
    chmodSync(out, 0o644);
    const r = await cli(dir, ["report", "r1", "-o", out, "--renderer", "svg"]);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });
});
