/**
 * Crash tests of `RunFileStore` (one file per run, `<dir>/<runId>.run`):
 * real `node` children run the compiled package (`dist/`) on a run file and
 * are SIGKILLed, then a new child resumes the run on the same folder and
 * run id.
 *
 * - The crash-resume matrix of test/crash-resume.test.ts
 *   (test/fixtures/crash-child.mjs with STORE=runfile): killed at the start
 *   and end of every node and during a retry backoff (and, with `fsync`, at
 *   a few of those points), the resumed run's outputs equal an
 *   uninterrupted run's, no node saved before the kill runs again, every
 *   node succeeds, and `list` reads the run as `load` does.
 * - Kills in the store's own writes (test/fixtures/run-file-fanout-child.mjs:
 *   a 1,000-node fan-out whose nodes each fail once, so its journal passes
 *   the compaction threshold mid-run, its records are appended as batch
 *   lines, and it ends with a compaction too): at chosen points (the
 *   start's snapshot line written half, a batch line written half, a
 *   compaction's temp file written half, complete but not renamed, renamed
 *   but the run's lock not given back, a takeover's copy of the run file
 *   not renamed), and at moments set by timers (after the run began, and
 *   just after its first compaction began), with and without `fsync`.
 *   After each kill, reading the run never throws nor reports a problem:
 *   `load` returns the run (undefined only when its start line was torn),
 *   holding every append and snapshot the child saw resolve, and `list`
 *   agrees. The resume succeeds with every node's output right, runs no
 *   node saved before the kill again, compacts the run from its own pid
 *   beside the temp file the dead one left, and leaves no temp file or
 *   lock of its own behind (the dead one's temp file stays: nothing
 *   removes it).
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loggedIds, logLines, type ChildResult } from "./support/child-process.js";
import { getRun, type StoredRun, type StoreProblem } from "../src/index.js";
import { RunFileStore } from "../src/persistence/run-file-store.js";
import { nodeRecords } from "../src/state/node-table.js";

const CRASH_CHILD = resolve(import.meta.dirname, "fixtures/crash-child.mjs");
const FANOUT_CHILD = resolve(import.meta.dirname, "fixtures/run-file-fanout-child.mjs");
const root = mkdtempSync(join(tmpdir(), "taskloom-run-file-crash-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * Where a child is killed: once a log line starting with `on` appears (the
 * child stops dead there), or `ms` after a log line starting with `after`
 * appears (the child going on meanwhile: the kill lands wherever it is).
 */
type Kill = { readonly on: string } | { readonly after: string; readonly ms: number };

/** The lines appended to `log` since the last call (whole lines only): a watcher reads a growing log without reading it all each time. */
function logTail(log: string): () => string[] {
  let offset = 0;
  let carry = "";
  return () => {
    if (!existsSync(log)) return [];
    const fd = openSync(log, "r");
    try {
      const chunk = Buffer.alloc(1 << 16);
      let text = "";
      for (let n = readSync(fd, chunk, 0, chunk.length, offset); n > 0; n = readSync(fd, chunk, 0, chunk.length, offset)) {
        offset += n;
        text += chunk.toString("latin1", 0, n);
      }
      const lines = (carry + text).split("\n");
      carry = lines.pop() ?? "";
      return lines;
    } finally {
      closeSync(fd);
    }
  };
}

/**
 * Runs `script` with `node` itself (TASKLOOM_DIR, RUN_ID, LOG and `env` in
 * its environment); with `kill`, SIGKILLs it at that point (as
 * test/support/child-process.ts does, with the extra environment and the
 * timer this file needs).
 */
function runChild(script: string, dir: string, runId: string, log: string, env: Readonly<Record<string, string>>, kill?: Kill): Promise<ChildResult> {
  return new Promise((resolvePromise, reject) => {
    const killOn = kill !== undefined && "on" in kill ? kill.on : "";
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, TASKLOOM_DIR: dir, RUN_ID: runId, LOG: log, KILL_ON: killOn, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let watcher: NodeJS.Timeout | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (kill !== undefined) {
      const wanted = "on" in kill ? kill.on : kill.after;
      const next = logTail(log);
      watcher = setInterval(() => {
        if (!next().some((l) => l.startsWith(`${wanted} `) && l.endsWith(` ${child.pid}`))) return;
        clearInterval(watcher);
        if ("on" in kill) child.kill("SIGKILL");
        else timer = setTimeout(() => child.kill("SIGKILL"), kill.ms);
      }, 5);
    }
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearInterval(watcher);
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, pid: child.pid ?? -1 });
    });
  });
}

/** What a fresh `RunFileStore` reads in `dir` (which holds run `runId` only): its `load` of the run, its `list`, and the problems `list` reported. */
async function readRun(dir: string, runId: string) {
  const store = new RunFileStore({ dir });
  const problems: StoreProblem[] = [];
  try {
    const loaded = await store.load(runId);
    const listed = await store.list({ onProblem: (p) => void problems.push(p) });
    return { loaded, listed, problems };
  } finally {
    await store.close();
  }
}

/** The ids of the nodes `loaded` holds as succeeded. */
function succeededIds(loaded: StoredRun | undefined): string[] {
  return loaded === undefined ? [] : [...nodeRecords(loaded.state.nodes)].filter((n) => n.status === "succeeded").map((n) => n.id);
}

/**
 * Whether `file` ends in a fragment of a line: its last byte before its
 * preallocated zeros (with `fsync`) or its end (without) is not "\n".
 */
function endsTorn(file: string): boolean {
  const bytes = readFileSync(file);
  const end = bytes.at(-1) === 0 ? bytes.indexOf(0) : bytes.length;
  return end > 0 && bytes[end - 1] !== 0x0a;
}

/** The names in `dir` that end with `suffix`. */
const namesEnding = (dir: string, suffix: string) => readdirSync(dir).filter((n) => n.endsWith(suffix));
/** The names in the temp folder of the store `dir` (`tmp/`, where run files' temp files are made), none when it was never made. */
const tempFolderNames = (dir: string) => (existsSync(join(dir, "tmp")) ? readdirSync(join(dir, "tmp")) : []);
/** The temp files (`tmp/r.run.<pid>.<random>.tmp`) that process `pid` made in the store `dir`. */
const tempsOf = (dir: string, pid: number | undefined) => tempFolderNames(dir).filter((n) => n.startsWith(`r.run.${pid}.`) && n.endsWith(".tmp"));

// ---- kills inside the store's writes -------------------------------------------------------------

const N = 1000;
const MIDDLE = Array.from({ length: N }, (_, i) => `n${i}`);
/** join's output: the sum of 3 * i over the middle nodes. */
const TOTAL = (3 * N * (N - 1)) / 2;
/** Middle node `i`'s output, as the fan-out child makes it. */
const outputOf = (i: number) => ({ i, v: 3 * i, pad: `${"p".repeat(200)}${i}` });

/** The seqs in the log lines `<kind> ... <seq>` of `pid` (the last word before the pid). */
function loggedSeqs(log: string, pid: number, prefix: RegExp): number[] {
  return logLines(log, pid)
    .filter((l) => prefix.test(l))
    .map((l) => Number(l.split(" ").at(-1)));
}

/**
 * Checks what a fresh store reads of run "r" after `killed` (the fan-out
 * child) died: it reads without throwing or reporting a problem; it is
 * absent only while the child had not logged its start snapshot as written
 * (and then not listed either); otherwise it holds every append and
 * snapshot the child saw resolve, every middle node if join had started,
 * and `list` gives its status. Returns the load.
 */
async function checkAfterKill(dir: string, log: string, killed: ChildResult): Promise<StoredRun | undefined> {
  expect(killed.signal, `the child was meant to be killed; it ended with code ${killed.code}; stderr: ${killed.stderr}`).toBe("SIGKILL");
  const { loaded, listed, problems } = await readRun(dir, "r");
  expect(problems).toEqual([]);
  const lines = logLines(log, killed.pid);
  if (lines.includes("snapshot 1 after 0")) expect(loaded, "the start was written, yet the run reads as absent").toBeDefined();
  if (loaded === undefined) {
    expect(listed).toEqual([]);
    return undefined;
  }
  expect(listed.map((s) => s.status)).toEqual([loaded.state.meta.status]);
  const acked = [...loggedSeqs(log, killed.pid, /^appended /), ...loggedSeqs(log, killed.pid, /^snapshot \d+ after /)];
  expect(loaded.seq).toBeGreaterThanOrEqual(Math.max(0, ...acked));
  if (lines.includes("start join 1")) {
    const done = new Set(succeededIds(loaded));
    expect(MIDDLE.filter((id) => !done.has(id))).toEqual([]);
  }
  return loaded;
}

/**
 * Resumes run "r" in `dir` with a new fan-out child and checks it: it
 * succeeds with the right total, runs none of `savedDone` again, leaves
 * every node succeeded with its output, `starts` as given, `list` in step,
 * and none of its own temp files or locks behind. Returns the child.
 */
async function resumeAndCheck(
  dir: string,
  log: string,
  savedDone: readonly string[],
  starts: number,
  fsync: boolean,
  env: Record<string, string> = {},
): Promise<ChildResult> {
  const next = await runChild(FANOUT_CHILD, dir, "r", log, { NODES: String(N), FSYNC: fsync ? "1" : "0", BODY_MS: "2", ...env });
  expect(next.code, next.stderr).toBe(0);
  expect(JSON.parse(next.stdout.trim())).toEqual({ total: TOTAL });
  const rerun = new Set(loggedIds(log, next.pid, "start"));
  expect(
    savedDone.filter((id) => rerun.has(id)),
    "nodes saved before the kill ran again",
  ).toEqual([]);

  const { loaded, listed, problems } = await readRun(dir, "r");
  expect(problems).toEqual([]);
  expect(loaded?.state.meta.status).toBe("succeeded");
  expect(loaded?.state.meta.starts).toBe(starts);
  expect(loaded?.state.meta.outputs).toEqual({ total: TOTAL });
  const nodes = new Map([...nodeRecords(loaded!.state.nodes)].map((n) => [n.id, n]));
  expect(nodes.size).toBe(N + 2);
  expect([...nodes.values()].filter((n) => n.status !== "succeeded").map((n) => n.id)).toEqual([]);
  expect(nodes.get("root")?.output).toEqual({ base: 3 });
  expect(nodes.get("join")?.output).toBe(TOTAL);
  const wrong = MIDDLE.filter((id, i) => JSON.stringify(nodes.get(id)?.output) !== JSON.stringify(outputOf(i)));
  expect(wrong, "middle nodes whose stored output is wrong").toEqual([]);
  expect(listed).toEqual([expect.objectContaining({ runId: "r", status: "succeeded", nodeCount: N + 2, settledCount: N + 2, succeededCount: N + 2 })]);

  expect(tempsOf(dir, next.pid)).toEqual([]);
  expect(namesEnding(dir, ".lock")).toEqual([]);
  return next;
}

/** The fan-out child's first run in a fresh folder, killed at `kill`. */
async function firstRun(name: string, kill: Kill, fsync: boolean) {
  const dir = join(root, name);
  const log = join(root, `${name}.log`);
  // Killed by a timer, bodies of 60 ms: the run lasts at least 1,000 x 2 attempts x 60 ms / 50 at a time = 2.4 s after `begin`,
  // and half that after its first compaction starts: well past every timer below.
  const first = await runChild(FANOUT_CHILD, dir, "r", log, { NODES: String(N), FSYNC: fsync ? "1" : "0", BODY_MS: "on" in kill ? "2" : "60" }, kill);
  return { dir, log, first };
}

describe.concurrent("RunFileStore: SIGKILL in a compaction or a takeover (temp files and the lock left behind)", () => {
  it.concurrent.each([
    { point: "snapshot 2 torn", temp: true, fsync: false },
    { point: "snapshot 2 rename", temp: true, fsync: true },
    { point: "snapshot 2 renamed", temp: false, fsync: false },
    { point: "final rename", temp: true, fsync: false },
  ])(
    "killed in a compaction at '$point' (fsync: $fsync): the old file or the new one reads whole, and a resume compacts from its own pid",
    { timeout: 60_000 },
    async ({ point, temp, fsync }) => {
      const { dir, log, first } = await firstRun(`${point.replace(/\s+/g, "-")}-${fsync ? "fsync" : "plain"}`, { on: point }, fsync);
      expect(logLines(log, first.pid), "the kill point was never reached").toContain(point);
      // What the dead compaction left: its temp file (unless it was renamed) and the run's lock.
      const leftovers = tempsOf(dir, first.pid);
      expect(leftovers.length, `temp files of pid ${first.pid} left by the kill`).toBe(temp ? 1 : 0);
      // In the temp folder, none beside the run file (a takeover lists that folder, not the store's).
      expect(namesEnding(dir, ".tmp")).toEqual([]);
      if (point.endsWith("torn")) expect(endsTorn(join(dir, "tmp", leftovers[0]!))).toBe(true);
      expect(namesEnding(dir, ".lock")).toEqual(["r.run.lock"]);

      const loaded = await checkAfterKill(dir, log, first);
      expect(loaded).toBeDefined();
      // The compaction killed: the first one (snapshot 2: the start is snapshot 1), or the run's end.
      const k = point.startsWith("final") ? loggedSeqs(log, first.pid, /^snapshot \d+ before /).length : 2;
      const [compactedAt] = loggedSeqs(log, first.pid, new RegExp(`^snapshot ${k} before `));
      // Renamed: the new file, at the compaction's seq; not renamed: the old file, which holds every record up to it too.
      if (point.endsWith("renamed")) expect(loaded!.seq).toBe(compactedAt);
      else expect(loaded!.seq).toBeGreaterThanOrEqual(compactedAt!);

      const next = await resumeAndCheck(dir, log, succeededIds(loaded), 2, fsync);
      // Killed mid-run, the resume has half the run to go: it compacts the run from its own pid (its temp file beside
      // the dead one's). Killed in the run's end, every middle node was saved: it has only join to run again.
      const compactions = logLines(log, next.pid).filter((l) => /^snapshot \d+ renamed$/.test(l));
      if (point.startsWith("final")) expect(loggedIds(log, next.pid, "start")).toEqual(["join"]);
      else expect(compactions.length).toBeGreaterThan(0);
      expect(namesEnding(dir, ".run")).toEqual(["r.run"]);
      // The resume's takeover removed what the dead compaction left.
      expect(tempFolderNames(dir)).toEqual([]);
      expect(namesEnding(dir, ".tmp")).toEqual([]);
    },
  );

  it(
    "killed twice: in its first run, then in a takeover (from another host) before its copy of the run file is renamed; a third run finishes",
    { timeout: 60_000 },
    async () => {
      const { dir, log, first } = await firstRun("takeover", { on: "append 1 torn" }, false);
      const loaded = await checkAfterKill(dir, log, first);
      expect(loaded).toBeDefined();

      // A resume on this host takes a dead holder's run without a copy (run-file-leases.ts); one whose host name
      // differs cannot tell the holder is dead, so with `takeover: true` it makes the claim, the wait and the copy.
      const elsewhere = { OTHER_HOST: "1" };
      const second = await runChild(FANOUT_CHILD, dir, "r", log, { NODES: String(N), FSYNC: "0", BODY_MS: "2", ...elsewhere }, { on: "takeover rename" });
      expect(logLines(log, second.pid), "the kill point was never reached").toContain("takeover rename");
      expect(tempsOf(dir, second.pid)).toHaveLength(1);
      expect(loggedIds(log, second.pid, "start")).toEqual([]);
      const again = await checkAfterKill(dir, log, second);
      expect(again?.seq).toBe(loaded!.seq);

      // The third run, from that host too, finds the second's lease in its claim, its holder dead; but the run file's
      // last lease is still the first run's, whose holder it cannot tell is dead (another host name): it copies the
      // file again rather than write beside a holder that may live, and removes the second's temp file.
      const third = await resumeAndCheck(dir, log, succeededIds(loaded), 2, false, elsewhere);
      expect(logLines(log, third.pid)).toContain("takeover renamed");
    },
  );
});

describe.concurrent("RunFileStore: SIGKILL in the middle of a write (a torn tail)", () => {
  it.concurrent.each([
    { point: "snapshot 1 torn", fsync: false },
    { point: "snapshot 1 torn", fsync: true },
    { point: "append 1 torn", fsync: false },
    { point: "append 5 torn", fsync: true },
  ])("killed at '$point' (fsync: $fsync): a torn tail reads as the run before it, and the resume goes on", { timeout: 60_000 }, async ({ point, fsync }) => {
    const { dir, log, first } = await firstRun(`${point.replace(/\s+/g, "-")}-${fsync ? "fsync" : "plain"}`, { on: point }, fsync);
    expect(logLines(log, first.pid), "the kill point was never reached").toContain(point);
    expect(endsTorn(join(dir, "r.run")), "the run file ends in a fragment of a line").toBe(true);
    const loaded = await checkAfterKill(dir, log, first);
    if (point === "snapshot 1 torn") expect(loaded, "a run whose start line is torn reads as absent").toBeUndefined();
    else expect(loaded).toBeDefined();
    if (point.startsWith("append")) {
      // The torn batch line is none of its records: the run reads as the last append the child saw resolve left it.
      expect(loaded!.seq).toBe(Math.max(...loggedSeqs(log, first.pid, /^appended /)));
    }
    await resumeAndCheck(dir, log, succeededIds(loaded), loaded === undefined ? 1 : 2, fsync);
  });
});

describe.concurrent("RunFileStore: SIGKILL at a moment set by a timer, in a 1,000-node fan-out", () => {
  // After `begin`: in the start, or among appends. After the first compaction began (it holds the process for tens of
  // milliseconds: the old file read under the run's lock, the temp file written and renamed, the new file opened): in
  // it, or in the appends right after it.
  const cases = [
    { after: "begin", ms: 0, fsync: false },
    { after: "begin", ms: 500, fsync: false },
    { after: "snapshot 2 before", ms: 0, fsync: false },
    { after: "snapshot 2 before", ms: 70, fsync: false },
    { after: "snapshot 2 before", ms: 40, fsync: true },
  ];
  it.concurrent.each(cases)(
    "killed $ms ms after '$after' (fsync: $fsync): reads, resumes, outputs right",
    { timeout: 60_000 },
    async ({ after, ms, fsync }) => {
      const { dir, log, first } = await firstRun(`timer-${after.replace(/\s+/g, "-")}-${ms}-${fsync ? "fsync" : "plain"}`, { after, ms }, fsync);
      const loaded = await checkAfterKill(dir, log, first);
      await resumeAndCheck(dir, log, succeededIds(loaded), loaded === undefined ? 1 : 2, fsync);
    },
  );
});

// ---- the crash-resume matrix ------------------------------------------------------------------------

const NODES = ["seed", "w1", "w2", "w3", "w4", "w5", "w6", "sum", "flaky", "c1", "c2", "c3"];
const killPoints = [...NODES.flatMap((id) => [`start ${id}`, `end ${id}`]), "fail flaky"];
const fsyncKillPoints = ["start seed", "end sum", "fail flaky"];

describe.concurrent("RunFileStore: resume after SIGKILL (the crash-resume matrix)", () => {
  let baseline: unknown;

  beforeAll(async () => {
    const result = await runChild(CRASH_CHILD, join(root, "baseline"), "baseline", join(root, "baseline.log"), { STORE: "runfile", FSYNC: "0" });
    expect(result.code, result.stderr).toBe(0);
    baseline = superjson.parse(result.stdout.trim());
  }, 60_000);

  it("has every kill point of crash-resume.test.ts", () => {
    expect(killPoints.length).toBeGreaterThanOrEqual(20);
  });

  const cases = [...killPoints.map((point) => ({ point, fsync: false })), ...fsyncKillPoints.map((point) => ({ point, fsync: true }))];
  it.concurrent.each(cases)("killed at '$point' (fsync: $fsync): resumes, never re-runs a saved node, outputs equal", async ({ point, fsync }) => {
    const slug = `${fsync ? "fsync-" : ""}${point.replace(/\s+/g, "-")}`;
    const dir = join(root, slug);
    const log = join(root, `${slug}.log`);
    const runId = `crash-${slug}`;
    const env = { STORE: "runfile", FSYNC: fsync ? "1" : "0" };

    const first = await runChild(CRASH_CHILD, dir, runId, log, env, { on: point });
    expect(first.signal, `the child was meant to die at "${point}"; stderr: ${first.stderr}`).toBe("SIGKILL");

    // Every kill point is in a node body or a backoff, after the run's start was written.
    const saved = await readRun(dir, runId);
    expect(saved.loaded, "the run reads as absent after the kill").toBeDefined();
    expect(saved.problems).toEqual([]);
    expect(saved.listed.map((s) => s.status)).toEqual([saved.loaded!.state.meta.status]);
    const savedDone = succeededIds(saved.loaded);

    const second = await runChild(CRASH_CHILD, dir, runId, log, env);
    expect(second.code, second.stderr).toBe(0);
    expect(superjson.parse(second.stdout.trim())).toEqual(baseline);

    const rerun = loggedIds(log, second.pid, "start");
    for (const id of savedDone) expect(rerun, `node "${id}" was saved before the kill but ran again`).not.toContain(id);

    // Every node ran to completion in one process or the other.
    const ended = new Set([...loggedIds(log, first.pid, "end"), ...loggedIds(log, second.pid, "end")]);
    for (const id of NODES) expect(ended, `node "${id}" never finished`).toContain(id);

    const store = new RunFileStore({ dir });
    try {
      const final = await getRun(runId, { store });
      expect(final.status).toBe("succeeded");
      expect(final.starts).toBe(2);
      expect(final.nodes.map((n) => n.id).sort()).toEqual([...NODES].sort());
      expect(final.nodes.every((n) => n.status === "succeeded")).toBe(true);
      expect(await store.list()).toEqual([expect.objectContaining({ runId, status: "succeeded", nodeCount: NODES.length, settledCount: NODES.length })]);
    } finally {
      await store.close();
    }
    expect(tempFolderNames(dir)).toEqual([]);
    expect(namesEnding(dir, ".tmp")).toEqual([]);
    expect(namesEnding(dir, ".lock")).toEqual([]);
  });
});
