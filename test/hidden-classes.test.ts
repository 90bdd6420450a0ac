/**
 * A warm run makes no hidden classes. In V8 11 (Node 20) some ways of
 * writing an object give each object a hidden class ("map") of its own: a
 * literal that starts with a spread and then adds a key (`{ ...n, key }`),
 * and a function that gets its name from where it is written when the
 * build wraps it to keep that name (`keepNames`). Each such map costs
 * about 2 µs to make and turns every reader of those objects megamorphic
 * (docs/architecture.md, "Hidden classes"). This test runs a graph that
 * takes a route (a trigger and a skip), a retry and a journaled step on
 * the built package under `--log-maps`, for two counts of runs after as
 * many warm-up runs, and checks that the extra runs made (almost) no maps:
 * on MemoryStore, on LowdbStore with and without fsync, and for tasks
 * through the stage runner (whose agent reads its signal).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const DIST = join(ROOT, "dist", "index.js");
const CHILD = join(ROOT, "test", "fixtures", "hidden-classes-child.mjs");
const logs = mkdtempSync(join(tmpdir(), "taskloom-maps-"));
/** The child's workloads (see test/fixtures/hidden-classes-child.mjs). */
// Not a resume: it turns the run's meta into a dictionary once (the deletes of \`setRunStatus\`), and a node with
// \`after\` gets a deps object that is one on purpose (engine/attempts.ts, #deps); neither is made per node.
const KINDS = ["memory", "lowdb", "lowdb-fsync", "stages"] as const;
type Kind = (typeof KINDS)[number];
afterAll(() => rmSync(logs, { recursive: true, force: true }));

/** The hidden classes V8 made in a child that did `runs` runs after `runs` warm-up runs, by event (Transition, NormalizeCached, …) and key. */
function mapsMade(runs: number, store: Kind): Promise<Map<string, number>> {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" first (npm test does)`);
  const log = join(logs, `${store}-${runs}.log`);
  const args = ["--log-maps", "--no-log-maps-details", `--logfile=${log}`, "--no-logfile-per-isolate", CHILD, String(runs), store];
  return new Promise((done, fail) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error || stdout.trim() !== "ok") return fail(new Error(`the child failed: ${stderr}`));
      const counts = new Map<string, number>();
      for (const line of readFileSync(log, "utf8").split("\n")) {
        if (!line.startsWith("map,")) continue;
        const fields = line.split(",");
        // map,<event>,<time>,<from>,<to>,<pc>,<line>,<column>,<reason>,<name>
        const key = `${fields[1]} ${fields[8]} ${fields[9] ?? ""}`.trim();
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      done(counts);
    });
  });
}

describe("hidden classes", () => {
  it.each(KINDS)("a warm run (%s) makes none: 200 runs make no more maps than 100", async (store) => {
    const [few, many] = await Promise.all([mapsMade(100, store), mapsMade(200, store)]);
    // What the extra 100 runs (and their 100 warm-up runs) made, by kind and key; V8's own maps for code it
    // optimizes later may add a few, never one per run.
    // Node's AbortSignal is the one exception, and not taskloom's: its constructor sets the prototype of an
    // EventTarget, so each signal gets maps of its own (keys `kAborted`, `kReason`, `kComposite`); a run makes
    // one for each retry's backoff and for each attempt whose signal is read.
    const extra = [...many]
      .map(([key, n]) => [key, n - (few.get(key) ?? 0)] as const)
      .filter(([key, n]) => n >= 50 && !/symbol\("k(Aborted|Reason|Composite)"/.test(key));
    expect(extra, "kinds of map made about once a run or more (event, reason, key)").toEqual([]);
  });
});
