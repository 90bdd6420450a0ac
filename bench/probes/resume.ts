/**
 * Probe of the cold resume (issue 16, target 5): a stored 10,000-node
 * fan-out with 9,000 middle nodes done and 1,000 failed, resumed by a
 * second `runAsync` through a new `LowdbStore`, as the bench's `resume`
 * scenario does (bench/systems/taskloom.ts). Not part of `npm run bench`.
 *
 *   node --import tsx bench/probes/resume.ts ab [rounds] [rootA] [rootB]
 *     resume / full run ratio of two checkouts of taskloom (default: /work/main
 *     and this one) loaded side by side in one process, rounds alternating;
 *     prints the medians of each, wall time and CPU time (user + system).
 *   node --cpu-prof --import tsx bench/probes/resume.ts profile [rounds] [root]
 *     only resumes, with the checkout at `root` (default: this one); the
 *     stored run is made once by a child process and copied for each
 *     round, for a CPU profile of the resume alone.
 *   valgrind --tool=callgrind node --import tsx bench/probes/resume.ts count <k> [root]
 *     the first run, then `k` resumes of copies of it: the difference of the
 *     instruction counts of `count k` and `count 0`, over k, is one resume's
 *     (a count of work, steady on a loaded machine).
 *   node --import tsx bench/probes/resume.ts split [rounds] [root]
 *     where one resume's time goes, medians over rounds of copies of one
 *     stored run (the store's calls timed from the start of `runAsync`):
 *     the load, the start's append, the run up to its last append, that
 *     append and the end (the run's end, its final append, `close`).
 *   node --expose-gc --import tsx bench/probes/resume.ts resumes [rounds] [rootA] [rootB]
 *     resumes only (no full run between them), the two checkouts alternating
 *     on copies of a stored run each side wrote itself (the snapshot format
 *     may differ between them): the medians of each side's CPU time and
 *     minor page faults per resume (faults are a count, steady under load;
 *     on this VM each costs about 10 us of system time).
 *   node --import tsx bench/probes/resume.ts prepare <dir> [root]
 *     the first run only, into `dir`, by the checkout at `root` (default:
 *     this one; used by `profile`, `split` and `resumes`).
 *
 * @module
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { median } from "../stats.js";

/** The part of taskloom's public API this probe uses. */
interface Lib {
  graph(name: string): Loose;
  LowdbStore: new (options: { dir: string }) => { close(): Promise<void> };
  NonRetryableError: new (message: string) => Error;
  runAsync(g: unknown, inputs: undefined, options: Record<string, unknown>): Promise<unknown>;
}
interface Loose {
  node(id: string, fn: () => Promise<number>, options?: { after: readonly string[] }): Loose;
  output(fn: () => null): { build(): unknown };
}

const N = 10_000;
const RUN_ID = "probe-resume";
const here = fileURLToPath(new URL(".", import.meta.url));

async function load(root: string): Promise<Lib> {
  return (await import(pathToFileURL(join(resolve(root), "dist/index.js")).href)) as Lib;
}

/** The bench's fan-out: root, `N` middle nodes, join; middle node i runs `body(i)`. */
function fanout(lib: Lib, body: (i: number) => () => Promise<number>): unknown {
  const ids = Array.from({ length: N }, (_, i) => `n${i}`);
  let b = lib.graph("fanout").node("root", async () => 0);
  for (let i = 0; i < N; i++) b = b.node(ids[i]!, body(i), { after: ["root"] });
  return b
    .node("join", async () => 0, { after: ids })
    .output(() => null)
    .build();
}

/** One checkout's graphs and rounds. */
class Side {
  failing = true;
  readonly resumable: unknown;
  readonly full: unknown;
  constructor(readonly lib: Lib) {
    this.resumable = fanout(lib, (i) => async () => {
      if (this.failing && i % 10 === 0) throw new lib.NonRetryableError(`planned failure of n${i}`);
      return i;
    });
    this.full = fanout(lib, (i) => async () => i);
  }

  async firstRun(dir: string): Promise<void> {
    this.failing = true;
    const store = new this.lib.LowdbStore({ dir });
    await this.lib
      .runAsync(this.resumable, undefined, { store, runId: RUN_ID, maxConcurrency: 8, continueOnError: true, retry: { maxAttempts: 1 } })
      .catch(() => undefined);
    await store.close();
  }

  /** Time of the second run only (its CPU time goes to `cpu`). */
  async resume(dir: string, cpu: number[] = []): Promise<number> {
    this.failing = false;
    const c = process.cpuUsage();
    const t = performance.now();
    const store = new this.lib.LowdbStore({ dir });
    await this.lib.runAsync(this.resumable, undefined, { store, runId: RUN_ID, maxConcurrency: 8, retry: { maxAttempts: 1 } });
    await store.close();
    const ms = performance.now() - t;
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / 1000);
    return ms;
  }

  async fullRun(cpu: number[] = []): Promise<number> {
    const dir = mkdtempSync(join(tmpdir(), "probe-resume-full-"));
    const c = process.cpuUsage();
    const t = performance.now();
    const store = new this.lib.LowdbStore({ dir });
    await this.lib.runAsync(this.full, undefined, { store, runId: RUN_ID, maxConcurrency: 8 });
    await store.close();
    const ms = performance.now() - t;
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / 1000);
    rmSync(dir, { recursive: true, force: true });
    return ms;
  }

  async resumeRound(cpu?: number[]): Promise<number> {
    const dir = mkdtempSync(join(tmpdir(), "probe-resume-"));
    await this.firstRun(dir);
    const ms = await this.resume(dir, cpu);
    rmSync(dir, { recursive: true, force: true });
    return ms;
  }
}

const [mode = "ab", a, b, c] = process.argv.slice(2);
if (mode === "prepare") {
  await new Side(await load(b ?? join(here, "../.."))).firstRun(a!);
} else if (mode === "profile") {
  const rounds = Number(a ?? 10);
  const template = mkdtempSync(join(tmpdir(), "probe-resume-template-"));
  const made = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "prepare", template], { stdio: "inherit" });
  if (made.status !== 0) throw new Error("prepare failed");
  const side = new Side(await load(b ?? join(here, "../..")));
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const dir = mkdtempSync(join(tmpdir(), "probe-resume-"));
    cpSync(template, dir, { recursive: true });
    times.push(await side.resume(dir));
    rmSync(dir, { recursive: true, force: true });
  }
  rmSync(template, { recursive: true, force: true });
  console.log(`resume ms: first ${times[0]!.toFixed(1)}, median ${median(times).toFixed(1)} (${times.map((t) => t.toFixed(1)).join(" ")})`);
} else if (mode === "split") {
  const rounds = Number(a ?? 15);
  const template = mkdtempSync(join(tmpdir(), "probe-resume-template-"));
  const made = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "prepare", template], { stdio: "inherit" });
  if (made.status !== 0) throw new Error("prepare failed");
  const side = new Side(await load(b ?? join(here, "../..")));
  // Each call of the store's load and append, as [name, start, end] in ms since the round started.
  const calls: [string, number, number][] = [];
  let t0 = 0;
  const proto = side.lib.LowdbStore.prototype as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of ["acquireLease", "load", "append", "writeSnapshot", "releaseLease", "close"]) {
    const original = proto[name]!;
    proto[name] = async function (this: unknown, ...args: unknown[]) {
      const start = performance.now() - t0;
      try {
        return await original.apply(this, args);
      } finally {
        calls.push([name, start, performance.now() - t0]);
      }
    };
  }
  const parts: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    const dir = mkdtempSync(join(tmpdir(), "probe-resume-"));
    cpSync(template, dir, { recursive: true });
    calls.length = 0;
    t0 = performance.now();
    const total = await side.resume(dir);
    const appends = calls.filter(([name]) => name === "append");
    if (r === rounds - 1) for (const [name, from, to] of calls) console.log(`  ${name} at ${from.toFixed(2)} ms, ${(to - from).toFixed(2)} ms`);
    const [, , loaded] = calls.find(([name]) => name === "load")!;
    const [first, last] = [appends[0]!, appends.at(-2) ?? appends[0]!];
    const split = {
      "load (lease, read, parse, check, replay)": loaded,
      "prepare, engine made, start append": first[2] - loaded,
      "run up to its results' append": last[1] - first[2],
      "results' append": last[2] - last[1],
      "join, end, final append, close": total - last[2],
      total,
    };
    for (const [k, v] of Object.entries(split)) (parts[k] ??= []).push(v);
    rmSync(dir, { recursive: true, force: true });
  }
  rmSync(template, { recursive: true, force: true });
  for (const [k, v] of Object.entries(parts)) console.log(`${k.padEnd(42)} ${median(v).toFixed(2)} ms`);
} else if (mode === "count") {
  const side = new Side(await load(b ?? join(here, "../..")));
  const template = mkdtempSync(join(tmpdir(), "probe-resume-template-"));
  await side.firstRun(template);
  for (let r = 0; r < Number(a ?? 1); r++) {
    const dir = mkdtempSync(join(tmpdir(), "probe-resume-"));
    cpSync(template, dir, { recursive: true });
    await side.resume(dir);
    rmSync(dir, { recursive: true, force: true });
  }
  rmSync(template, { recursive: true, force: true });
} else if (mode === "resumes") {
  const rounds = Number(a ?? 30);
  const roots = [b ?? "/work/main", c ?? join(here, "../..")];
  // Each side resumes a run its own code stored: a checkout may not read a newer snapshot format.
  const templates = roots.map((root) => {
    const template = mkdtempSync(join(tmpdir(), "probe-resume-template-"));
    const made = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "prepare", template, root], { stdio: "inherit" });
    if (made.status !== 0) throw new Error("prepare failed");
    return template;
  });
  const sides = await Promise.all(roots.map(async (root) => new Side(await load(root))));
  const cpu: number[][] = sides.map(() => []);
  const faults: number[][] = sides.map(() => []);
  for (let r = -2; r < rounds; r++) {
    for (let i = 0; i < sides.length; i++) {
      const dir = mkdtempSync(join(tmpdir(), "probe-resume-"));
      cpSync(templates[i]!, dir, { recursive: true });
      const before = process.resourceUsage().minorPageFault;
      const used: number[] = [];
      await sides[i]!.resume(dir, used);
      if (r >= 0) {
        cpu[i]!.push(used[0]!);
        faults[i]!.push(process.resourceUsage().minorPageFault - before);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const template of templates) rmSync(template, { recursive: true, force: true });
  for (let i = 0; i < sides.length; i++) console.log(`${roots[i]}: resume cpu ${median(cpu[i]!).toFixed(1)} ms, page faults ${median(faults[i]!)}`);
} else if (mode === "ab") {
  const rounds = Number(a ?? 7);
  const roots = [b ?? "/work/main", c ?? join(here, "../..")];
  const sides = await Promise.all(roots.map(async (root) => new Side(await load(root))));
  const res: number[][] = sides.map(() => []);
  const full: number[][] = sides.map(() => []);
  const resCpu: number[][] = sides.map(() => []);
  const fullCpu: number[][] = sides.map(() => []);
  for (const s of sides) {
    await s.resumeRound(); // warm-up
    await s.fullRun();
  }
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < sides.length; i++) {
      res[i]!.push(await sides[i]!.resumeRound(resCpu[i]));
      full[i]!.push(await sides[i]!.fullRun(fullCpu[i]));
    }
  }
  for (let i = 0; i < sides.length; i++) {
    const [rm, fm, rc, fc] = [median(res[i]!), median(full[i]!), median(resCpu[i]!), median(fullCpu[i]!)];
    const ratios = res[i]!.map((x, k) => x / full[i]![k]!);
    console.log(
      `${roots[i]}: wall: resume ${rm.toFixed(1)} ms, full ${fm.toFixed(1)} ms, ratio of medians ${(rm / fm).toFixed(2)}, median of round ratios ${median(ratios).toFixed(2)}; ` +
        `cpu: resume ${rc.toFixed(1)} ms, full ${fc.toFixed(1)} ms, ratio ${(rc / fc).toFixed(2)}`,
    );
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
