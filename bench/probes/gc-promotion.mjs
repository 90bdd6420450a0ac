/**
 * What the young-generation garbage collector promotes per run (issue 16,
 * target 2: about 29% of the stage runner's CPU is GC). Runs, in child
 * processes with `--trace-gc-nvp`, one workload with V8's allocation-site
 * pretenuring on (the default) and off, and prints the scavenges' pause,
 * the bytes allocated and the bytes promoted to the old generation, per run:
 *
 * - `one-node`: N sequential 1-node runs on a store that keeps nothing
 *   (nothing outlives a run, so anything promoted is garbage kept alive by
 *   dead old-generation objects until a mark-compact);
 * - `stages`: the bench's stage runner (two no-op agent stages) on `MemoryStore`;
 * - `stages-forget`: the same on a `MemoryStore` that deletes each task's
 *   run once it succeeded (what promotion costs the store's own data).
 *
 * - `one-node-settled`: the `one-node` runs, each followed by three forced
 *   minor GCs (`gc({ type: "minor" })`, each on a turn of its own), so no
 *   scavenge falls inside a run: what is promoted then is what a finished
 *   run keeps alive through two scavenges, and nothing else (V8's
 *   `allocated` figure is not meaningful for forced scavenges: not printed).
 *
 * `--semi-space MB` fixes the young generation's semi-spaces at MB (V8's
 * `--min-semi-space-size` and `--max-semi-space-size`; the default grows
 * them to 16). At 64, the stage runner's 10,000 tasks take about 15
 * scavenges, some 670 tasks apart, and still promote about 17,000 B a task
 * (seventeenth pass): a task's run lives about a millisecond, so what is
 * promoted then belongs to runs long finished, kept through a scavenge by
 * dead old-generation objects, not by anything alive.
 *
 * V8 decides pretenuring per allocation site and per process, from what
 * the first scavenges see, so two processes of the same build can differ
 * several times over (thirteenth pass: 24 and 108 MB promoted by 10,000
 * one-node runs of one build); `--processes K` runs K children per setting
 * and prints each.
 *
 *   npm run build   # the probe loads <tree>/dist
 *   node bench/probes/gc-promotion.mjs [tree=.] [one-node|one-node-settled|stages|stages-forget] [N=10000] [--processes K] [--semi-space MB]
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { benchTasks, noOpStageRunner } from "./bench-stages.mjs";

/** The value after `--name` in the arguments, and the arguments without the two. */
function takeOption(args, name) {
  const at = args.indexOf(name);
  if (at === -1) return { value: undefined, rest: args };
  return { value: args[at + 1], rest: args.filter((_, i) => i !== at && i !== at + 1) };
}
const processesOption = takeOption(process.argv.slice(2), "--processes");
const semiOption = takeOption(processesOption.rest, "--semi-space");
const processes = processesOption.value === undefined ? 1 : Number(processesOption.value);
const semiSpaceMB = semiOption.value === undefined ? undefined : Number(semiOption.value);
const positional = semiOption.rest;
const [treeArg = ".", workload = "one-node", nArg = "10000", role] = positional;
if (!(Number.isInteger(processes) && processes >= 1)) throw new Error("gc-promotion: --processes takes a positive integer");
if (semiSpaceMB !== undefined && !(Number.isInteger(semiSpaceMB) && semiSpaceMB >= 1))
  throw new Error("gc-promotion: --semi-space takes a positive integer (MB)");
const semiFlags = semiSpaceMB === undefined ? [] : [`--min-semi-space-size=${semiSpaceMB}`, `--max-semi-space-size=${semiSpaceMB}`];
const tree = resolve(treeArg);
const N = Number(nArg);

if (role === "child") {
  const lib = await import(pathToFileURL(`${tree}/dist/index.js`).href);
  const { graph, MemoryStore, run } = lib;
  /** Keeps nothing: every write is dropped, every load finds nothing, every lease is granted. */
  class NullStore extends MemoryStore {
    async writeSnapshot() {}
    async append() {}
    async load() {
      return undefined;
    }
    async acquireLease(runId, r) {
      return { runId, owner: r.owner, token: "t", pid: r.pid, host: r.host, expiresAt: r.now + r.ttlMs };
    }
    async renewLease(lease) {
      return lease;
    }
    async releaseLease() {}
  }
  /** Deletes a task's run once it succeeded. */
  class ForgetStore extends MemoryStore {
    async append(runId, records, lease, counts) {
      await super.append(runId, records, lease, counts);
      if (records.some((r) => r.kind === "run" && r.run.status === "succeeded")) {
        await this.releaseLease(lease);
        await this.delete(runId);
      }
    }
  }
  if (workload === "one-node" || workload === "one-node-settled") {
    const store = new NullStore();
    const g = graph("one")
      .node("a", () => 1)
      .build();
    const settled = workload === "one-node-settled";
    const turn = () => new Promise((done) => setImmediate(done));
    for (let k = 0; k < N; k++) {
      await run(g, undefined, { runId: `p.t${k}`, store }).result();
      if (settled) for (let i = 0; i < 3; i++) await turn().then(() => globalThis.gc({ type: "minor" }));
    }
  } else {
    const store = workload === "stages-forget" ? new ForgetStore() : new MemoryStore();
    const runner = noOpStageRunner(lib, store);
    const tasks = benchTasks(N);
    await runner.runAsync({ tasks, runId: "probe", batchSize: 300 });
  }
} else {
  for (const flags of [[], ["--no-allocation-site-pretenuring"]])
    for (let p = 1; p <= processes; p++) {
      const child = spawnSync(
        process.execPath,
        ["--trace-gc-nvp", "--expose-gc", ...semiFlags, ...flags, fileURLToPath(import.meta.url), tree, workload, String(N), "child"],
        {
          encoding: "utf8",
          maxBuffer: 1 << 28,
        },
      );
      if (child.status !== 0) throw new Error(`the child failed: ${child.stderr}`);
      let scavenges = 0;
      let pauseMs = 0;
      let allocated = 0;
      let promoted = 0;
      for (const line of child.stdout.split("\n")) {
        if (!line.includes(" gc=s ")) continue;
        scavenges++;
        const field = (name) => Number(new RegExp(`\\s${name}=([\\d.]+)`).exec(line)?.[1] ?? 0);
        pauseMs += field("pause");
        allocated += field("allocated");
        promoted += field("promoted");
      }
      const perRun = (bytes) => `${Math.round(bytes / N)} B`;
      console.log(
        `${workload} N=${N}${semiSpaceMB === undefined ? "" : ` semi-space ${semiSpaceMB} MB`} ${flags.length === 0 ? "pretenuring on " : "pretenuring off"}${processes > 1 ? ` (process ${p})` : ""}: ${scavenges} scavenges, ${pauseMs.toFixed(0)} ms paused; per run ${workload.endsWith("-settled") ? "" : `allocated ${perRun(allocated)}, `}promoted ${perRun(promoted)}`,
      );
    }
}
