/**
 * The command line speaks command line: GRAPH_CHANGED names the nodes that
 * changed and the --allow-graph-change flag, a failed run names the
 * `taskloom resume` command, every command's --help lists the global
 * options and describes every argument, a usage error points at the
 * command's own help, and a graph that declares inputs is not run without
 * them. Run through the built CLI (`npm run build` first), except the help
 * pages, which are read in process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli as runInProcess } from "../src/cli/program.js";
import { GraphChangedError, graph, MemoryStore, NonRetryableError, runAsync } from "../src/index.js";
import { expectOneLineError, ROOT, runCli as cli } from "./support/cli-process.js";

const FIX = join(ROOT, "test/fixtures/cli");
const VERSIONS = join(FIX, "versions.mjs");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "taskloom-advice-"));
  dirs.push(d);
  return d;
}

/** Runs the CLI in this process; resolves to its exit code and what it wrote. */
async function inProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io = {
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
    cwd: ROOT,
    env: { ...process.env, TASKLOOM_DIR: join(tmpdir(), "taskloom-advice-unused") },
    now: () => Date.now(),
  };
  const code = await runInProcess(args, io);
  return { code, out, err };
}

describe.concurrent("errors of run and resume", () => {
  it("a failed run names the taskloom resume command, not runAsync", async () => {
    const dir = tempDir();
    const r = await cli(dir, ["run", VERSIONS, "--run-id", "v-1"]);
    expect(r.code).toBe(1);
    const line = r.stderr.trimEnd().split("\n").at(-1) ?? "";
    expect(line).toMatch(/^error\[NODE_FAILED\]: node "load" of run "v-1" failed after 1 attempt: Error: could not write rows\./);
    expect(line).toContain(`The run is saved as failed: fix the cause, then continue it with: taskloom resume v-1 ${VERSIONS}`);
    expect(line).not.toContain("runAsync");
  });

  it("GRAPH_CHANGED names the nodes added and removed and the --allow-graph-change flag", async () => {
    const dir = tempDir();
    expect((await cli(dir, ["run", VERSIONS, "--run-id", "v-2"])).code).toBe(1);
    const r = await cli(dir, ["resume", "v-2", VERSIONS], { GRAPH_VERSION: "v2" });
    expectOneLineError({ ...r, stderr: r.stderr.replace(/^run .*\n/, "") }, "GRAPH_CHANGED");
    expect(r.stderr).toContain("What changed: nodes added: store, notify; nodes removed: load.");
    expect(r.stderr).toContain(`To continue it with this graph: taskloom resume v-2 ${VERSIONS} --allow-graph-change; or start afresh with another --run-id.`);
    expect(r.stderr).not.toContain("allowGraphChange");
    const rewired = await cli(dir, ["run", VERSIONS, "--run-id", "v-2"], { GRAPH_VERSION: "v3" });
    expect(rewired.stderr).toContain(
      "What changed: no node was added or removed, so edges (after, routes) or a node's retry, timeout or map options were rewired.",
    );
    const allowed = await cli(dir, ["resume", "v-2", VERSIONS, "--allow-graph-change"], { GRAPH_VERSION: "v2" });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ notify: "stored 3" });
  });

  it("run refuses a graph that declares inputs when none are given, before any node runs", async () => {
    const dir = tempDir();
    const r = await cli(dir, ["run", join(FIX, "typed-inputs.mjs"), "--run-id", "no-inputs"]);
    expectOneLineError(r, "INPUTS_MISSING");
    expect(r.stderr).toContain(`graph "greeting" declares inputs (.input()) and none were given: pass them with --inputs '<json>' or --inputs-file <file>`);
    expect((await cli(dir, ["runs", "--json"])).stdout.trim()).toBe("[]");
    const ok = await cli(dir, ["run", join(FIX, "typed-inputs.mjs"), "--inputs", '{"name":"ada"}']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ greet: "hello ada" });
  });
});

describe("GraphChangedError", () => {
  it("carries the nodes added and removed", async () => {
    const store = new MemoryStore();
    const v1 = graph("g")
      .node("a", () => 1)
      .node(
        "b",
        () => {
          throw new NonRetryableError("no");
        },
        { after: ["a"] },
      )
      .build();
    await expect(runAsync(v1, undefined, { store, runId: "r" })).rejects.toThrow();
    const v2 = graph("g")
      .node("a", () => 1)
      .node("c", () => 2, { after: ["a"] })
      .build();
    const err = await runAsync(v2, undefined, { store, runId: "r" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraphChangedError);
    expect((err as GraphChangedError).changes).toEqual({ added: ["c"], removed: ["b"] });
    expect((err as GraphChangedError).message).toContain("What changed: nodes added: c; nodes removed: b.");
  });
});

describe("help pages and usage errors", () => {
  const COMMANDS = [
    ["run"],
    ["resume"],
    ["runs"],
    ["show"],
    ["resolve"],
    ["graph"],
    ["report"],
    ["rm"],
    ["gc"],
    ["worker"],
    ["schedule", "add"],
    ["schedule", "ls"],
    ["schedule", "pause"],
    ["schedule", "resume"],
    ["schedule", "rm"],
    ["schedule", "history"],
    ["scheduler", "start"],
  ];

  it.each(COMMANDS)("taskloom %s --help lists the global options and describes every argument", async (...words: string[]) => {
    const { code, out } = await inProcess([...words.filter(Boolean), "--help"]);
    expect(code).toBe(0);
    expect(out).toMatch(/^Global Options:$/m);
    expect(out).toMatch(/^ {2}--dir <path> +the store folder/m);
    expect(out).toMatch(/^ {2}--verbose +print stacks/m);
    const args = /^Arguments:\n((?: {2}.*\n)+)/m.exec(out)?.[1] ?? "";
    for (const line of args.split("\n").filter((l) => /^ {2}\S/.test(l))) expect(line, `${words.join(" ")}: ${line}`).toMatch(/^ {2}\S+ {2,}\S/);
  });

  it("a usage error points at the command's own help page", async () => {
    const resume = await inProcess(["resume", "some-run"]);
    expect(resume.code).toBe(1);
    expect(resume.err).toBe("error[USAGE]: missing required argument 'module' (see taskloom resume --help)\n");
    expect((await inProcess(["schedule", "add", "--bogus"])).err).toContain("(see taskloom schedule add --help)");
    expect((await inProcess(["show", "x", "--format", "png"])).err).toContain("(see taskloom show --help)");
    expect((await inProcess(["nope"])).err).toContain("(see taskloom --help)");
  });
});
