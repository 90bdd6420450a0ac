/**
 * The `taskloom` command end to end: every command runs the built CLI
 * (`dist/cli/main.js`, built by `npm test`) in a child `node` process with
 * its own temporary `TASKLOOM_DIR`, and the tests check exit codes, the
 * JSON on stdout, and that errors are one line with their code and no stack.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expectOneLineError, ROOT, runCli as cli } from "./support/cli-process.js";
import { graph, LowdbStore, ManualClock, runAsync } from "../src/index.js";

const FIX = join(ROOT, "test/fixtures/cli");
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "taskloom-cli-"));
  dirs.push(d);
  return d;
}

describe.concurrent("taskloom run", () => {
  it("runs a graph, shows plain progress on stderr and prints the outputs as JSON on stdout", async () => {
    const dir = tempDir();
    const r = await cli(dir, ["run", join(FIX, "ok.mjs"), "--inputs", '{"n":2}', "--run-id", "ok-1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ total: 43, big: "10" });
    expect(r.stderr).toContain("run ok-1 · graph diamond · 4 nodes");
    expect(r.stderr).toMatch(/^✓ seed \d+ms$/m);
    expect(r.stderr).toMatch(/^↻ right retry in 5ms \(attempt 1: Error: flaky the first time\)$/m);
    expect(r.stderr).toMatch(/^✓ join \d+ms$/m);
    expect(r.stderr).toContain("✓ run ok-1 succeeded");
    expect(r.stderr).not.toContain("\r");
  });

  it("reads inputs from a file, maps --retries to maxAttempts and --max-concurrency", async () => {
    const dir = tempDir();
    const inputs = join(dir, "inputs.json");
    writeFileSync(inputs, '{"n":1}');
    // --retries 0: one attempt only, so the flaky node fails the run.
    const once = await cli(dir, ["run", join(FIX, "ok.mjs"), "--inputs-file", inputs, "--retries", "0", "--run-id", "r0"]);
    expect(once.code).toBe(1);
    expect(once.stderr).toContain('error[NODE_FAILED]: node "right" of run "r0" failed after 1 attempt: Error: flaky the first time');
    const ok = await cli(dir, ["run", join(FIX, "ok.mjs"), "--inputs-file", inputs, "--max-concurrency", "1", "--retries", "2"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ total: 23, big: "10" });
  });

  it("loads a TypeScript module through tsx and picks its only graph export", async () => {
    const r = await cli(tempDir(), ["run", join(FIX, "typed.ts"), "--inputs", '{"name":"ada"}']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ greeting: "hello ada" });
    expect(r.stderr).toMatch(/^run run-[0-9a-f-]+ · graph typed · 1 node$/m);
  });

  it("chooses among several graphs with --export", async () => {
    const dir = tempDir();
    const r = await cli(dir, ["run", join(FIX, "two.mjs"), "--export", "second"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ two: 2 });
    expectOneLineError(await cli(dir, ["run", join(FIX, "two.mjs")]), "NO_GRAPH_EXPORT");
    expectOneLineError(await cli(dir, ["run", join(FIX, "two.mjs"), "--export", "third"]), "NO_GRAPH_EXPORT");
  });

  it("fails with exit 1 and one line naming the node; show names the error and its cause", async () => {
    const dir = tempDir();
    const r = await cli(dir, ["run", join(FIX, "fail.mjs"), "--run-id", "f-1"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^✗ load Error: could not write rows$/m);
    const last = r.stderr.trimEnd().split("\n").at(-1);
    expect(last).toMatch(/^error\[NODE_FAILED\]: node "load" of run "f-1" failed after 2 attempts: Error: could not write rows/);
    expect(r.stderr).not.toMatch(/\n\s+at /);

    const show = await cli(dir, ["show", "f-1"]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^status\s+failed$/m);
    expect(show.stdout).toMatch(/^load\s+failed\s+2\s+/m);
    expect(show.stdout).toMatch(/^extract\s+succeeded\s+1\s+/m);
    expect(show.stdout).toContain("Error: could not write rows");
    expect(show.stdout).toContain("caused by TypeError: disk is read-only");
    expect(show.stdout).toContain("NodeFailedError [NODE_FAILED]");

    const json = await cli(dir, ["show", "f-1", "--json"]);
    const details = JSON.parse(json.stdout) as {
      status: string;
      nodes: { id: string; status: string; attempts: number; error?: { message: string; cause?: { name: string } } }[];
    };
    expect(details.status).toBe("failed");
    const load = details.nodes.find((n) => n.id === "load");
    expect(load).toMatchObject({ status: "failed", attempts: 2, error: { message: "could not write rows", cause: { name: "TypeError" } } });
  });

  it("--verbose prints the stack and the causes", async () => {
    const r = await cli(tempDir(), ["run", join(FIX, "throws.mjs"), "--verbose"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error[MODULE_LOAD_FAILED]");
    expect(r.stderr).toMatch(/\n\s+at /);
    expect(r.stderr).toContain("caused by: Error: config file missing");
  });
});

describe.concurrent("waits: run → exit 2, resolve, resume → 0", () => {
  it("prints the open waits, takes the payload, and finishes without running done nodes again", async () => {
    const dir = tempDir();
    const mod = join(FIX, "wait.mjs");
    const first = await cli(dir, ["run", mod, "--run-id", "w-1"]);
    expect(first.code, first.stderr).toBe(2);
    const waiting = JSON.parse(first.stdout) as { runId: string; status: string; waits: { key: string; nodeId: string }[] };
    expect(waiting).toMatchObject({ runId: "w-1", status: "waiting", waits: [{ key: "review:1", nodeId: "review" }] });
    expect(first.stderr).toContain("⏸ run w-1 is saved and waiting for 1 event:");
    expect(first.stderr).toContain("taskloom resolve w-1 review:1 --payload <json>");
    expect(first.stderr).toContain(`taskloom resume w-1 ${mod}`);

    const runs = await cli(dir, ["runs", "--status", "waiting", "--json"]);
    expect((JSON.parse(runs.stdout) as { runId: string }[]).map((r) => r.runId)).toEqual(["w-1"]);

    expectOneLineError(await cli(dir, ["resolve", "w-1", "review:2", "--payload", "{}"]), "WAIT_NOT_FOUND");
    // The run's mark: `show` prints it, and `resolve --instance` delivers only to the run that has it.
    const { instance } = JSON.parse((await cli(dir, ["show", "w-1", "--json"])).stdout) as { instance: string };
    expect(instance).toMatch(/^[0-9a-f]{12}$/);
    expect((await cli(dir, ["show", "w-1"])).stdout).toContain(`run       w-1 (mark ${instance})`);
    const otherMark = instance === "000000000000" ? "000000000001" : "000000000000";
    const stale = await cli(dir, ["resolve", "w-1", "review:1", "--payload", '{"ok":false}', "--instance", otherMark]);
    expectOneLineError(stale, "RUN_NOT_FOUND");
    expect(stale.stderr).toContain(`the run "w-1" with mark "${otherMark}" is gone`);
    const resolved = await cli(dir, ["resolve", "w-1", "review:1", "--payload", '{"ok":true}', "--instance", instance]);
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(resolved.stderr).toContain('resolved "review:1" of run w-1');

    const resumed = await cli(dir, ["resume", "w-1", mod]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toEqual({ published: "draft text", decision: { ok: true } });
    expect(resumed.stderr).toContain("resumed: 1 node kept from before");
    expect(resumed.stderr).not.toMatch(/^✓ draft /m);

    const show = await cli(dir, ["show", "w-1", "--json"]);
    expect(JSON.parse(show.stdout)).toMatchObject({ status: "succeeded", waits: [] });
  });

  it("resume of an unknown run is RUN_NOT_FOUND, not a new run", async () => {
    const dir = tempDir();
    expectOneLineError(await cli(dir, ["resume", "nope", join(FIX, "ok.mjs")]), "RUN_NOT_FOUND");
    expect(existsSync(join(dir, "runs", "nope"))).toBe(false);
  });
});

describe.concurrent("taskloom runs, show, graph, rm", () => {
  it("lists runs as a table and as JSON, filtered by status", async () => {
    const dir = tempDir();
    await cli(dir, ["run", join(FIX, "ok.mjs"), "--run-id", "good"]);
    await cli(dir, ["run", join(FIX, "fail.mjs"), "--run-id", "bad"]);
    const table = await cli(dir, ["runs"]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^RUN ID\s+GRAPH\s+STATUS\s+NODES\s+STARTED\s+UPDATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 4))).toEqual([
      ["bad", "failing", "failed", "1/2, 1 failed"],
      ["good", "diamond", "succeeded", "4/4"],
    ]);
    const failed = JSON.parse((await cli(dir, ["runs", "--status", "failed,cancelled", "--json"])).stdout) as {
      runId: string;
      settledCount: number;
      nodeCount: number;
    }[];
    expect(failed).toMatchObject([{ runId: "bad", settledCount: 1, succeededCount: 1, failedCount: 1, nodeCount: 2 }]);
    expectOneLineError(await cli(dir, ["runs", "--status", "done"]), "INVALID_OPTION");
    const empty = await cli(tempDir(), ["runs"]);
    expect(empty).toMatchObject({ code: 0, stdout: "" });
    expect(empty.stderr).toContain("no runs in");
  });

  it("--dir wins over TASKLOOM_DIR, before or after the command", async () => {
    const dir = tempDir();
    const other = tempDir();
    await cli(dir, ["--dir", other, "run", join(FIX, "two.mjs"), "--export", "first", "--run-id", "elsewhere"]);
    expect(JSON.parse((await cli(dir, ["runs", "--json"])).stdout)).toEqual([]);
    const there = JSON.parse((await cli(dir, ["runs", "--json", "--dir", other])).stdout) as { runId: string }[];
    expect(there.map((r) => r.runId)).toEqual(["elsewhere"]);
  });

  it("prints the graph as Mermaid, dot and JSON, and show --format mermaid colours nodes by status", async () => {
    const dir = tempDir();
    const mod = join(FIX, "ok.mjs");
    const mermaid = await cli(dir, ["graph", mod]);
    expect(mermaid.stdout).toBe('flowchart LR\n  n0["seed"]\n  n1["left"]\n  n2["right"]\n  n3["join"]\n  n0 --> n1\n  n0 --> n2\n  n1 --> n3\n  n2 --> n3\n');
    const dot = await cli(dir, ["graph", mod, "--format", "dot"]);
    expect(dot.stdout).toContain('digraph "diamond" {');
    expect(dot.stdout).toContain('  "left" -> "join";');
    const json = JSON.parse((await cli(dir, ["graph", mod, "--format", "json"])).stdout) as {
      name: string;
      fingerprint: string;
      nodes: { id: string; after: string[] }[];
      edges: unknown[];
    };
    expect(json.name).toBe("diamond");
    expect(json.fingerprint).toMatch(/^[0-9a-f]{16,}$/);
    expect(json.nodes.map((n) => [n.id, n.after])).toEqual([
      ["seed", []],
      ["left", ["seed"]],
      ["right", ["seed"]],
      ["join", ["left", "right"]],
    ]);
    expect(json.edges).toHaveLength(4);
    expectOneLineError(await cli(dir, ["graph", mod, "--format", "png"]), "USAGE");

    await cli(dir, ["run", join(FIX, "fail.mjs"), "--run-id", "f"]);
    const coloured = await cli(dir, ["show", "f", join(FIX, "fail.mjs"), "--format", "mermaid"]);
    expect(coloured.code, coloured.stderr).toBe(0);
    expect(coloured.stdout).toContain('n0["extract"]:::succeeded');
    expect(coloured.stdout).toContain('n1["load"]:::failed');
    expect(coloured.stdout).toContain("n0 --> n1");
    expect(coloured.stdout).toMatch(/classDef failed fill:#[0-9a-f]{6},stroke:#[0-9a-f]{6}/);
    // Without the module: the nodes, coloured, and a note that edges need the module.
    const bare = await cli(dir, ["show", "f", "--format", "mermaid"]);
    expect(bare.stdout).not.toContain("-->");
    expect(bare.stderr).toContain("does not keep the graph's edges");
  });

  it("escapes node ids for Mermaid and dot", async () => {
    const dir = tempDir();
    const r = await cli(dir, ["graph", join(FIX, "tricky.mjs")]);
    expect(r.stdout).toContain('n0["a#60;b#62;#38;#34;c"]');
    expect(r.stdout).toContain('n1["d\'e #96;f#96;"]');
    const dot = await cli(dir, ["graph", join(FIX, "tricky.mjs"), "--format", "dot"]);
    expect(dot.stdout).toContain('"a<b>&\\"c" -> "d\'e `f`";');
  });

  it("rm deletes a run; an unknown or invalid id is an error", async () => {
    const dir = tempDir();
    await cli(dir, ["run", join(FIX, "two.mjs"), "--export", "first", "--run-id", "gone"]);
    const rm = await cli(dir, ["rm", "gone"]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stderr).toContain("removed gone");
    expect(JSON.parse((await cli(dir, ["runs", "--json"])).stdout)).toEqual([]);
    expectOneLineError(await cli(dir, ["rm", "gone"]), "RUN_NOT_FOUND");
    expectOneLineError(await cli(dir, ["rm", "../etc"]), "INVALID_RUN_ID");
  });
});

describe.concurrent("taskloom gc", () => {
  it("removes only runs not updated for longer than --older-than", async () => {
    const dir = tempDir();
    const store = new LowdbStore({ dir });
    const g = graph("aged")
      .node("a", () => 1)
      .build();
    const day = 86_400_000;
    try {
      await runAsync(g, undefined, { runId: "old-1", store, clock: new ManualClock(Date.now() - 40 * day) });
      await runAsync(g, undefined, { runId: "old-2", store, clock: new ManualClock(Date.now() - 31 * day) });
      await runAsync(g, undefined, { runId: "recent", store, clock: new ManualClock(Date.now() - 5 * day) });
    } finally {
      await store.close();
    }
    await cli(dir, ["run", join(FIX, "two.mjs"), "--export", "first", "--run-id", "now"]);

    const dry = await cli(dir, ["gc", "--older-than", "30d", "--dry-run", "--json"]);
    expect(JSON.parse(dry.stdout)).toEqual({ dryRun: true, removed: ["old-2", "old-1"], kept: [] });
    expect((JSON.parse((await cli(dir, ["runs", "--json"])).stdout) as unknown[]).length).toBe(4);

    const gc = await cli(dir, ["gc", "--older-than", "30d"]);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stdout).toMatch(/^removed old-2 \(succeeded, updated .+\)\nremoved old-1 /);
    expect(gc.stderr).toContain("removed 2 of 4 runs not updated for 30d");
    const left = JSON.parse((await cli(dir, ["runs", "--json"])).stdout) as { runId: string }[];
    expect(left.map((r) => r.runId).sort()).toEqual(["now", "recent"]);

    expectOneLineError(await cli(dir, ["gc", "--older-than", "30 days"]), "INVALID_OPTION");
    expectOneLineError(await cli(dir, ["gc"]), "USAGE");
  });
});

describe.concurrent("bad input: exit 1, one line with the code, no stack", () => {
  const dir = tempDir();
  const cases: [string, string[], string][] = [
    ["an unknown command", ["frobnicate"], "USAGE"],
    ["an unknown option", ["runs", "--colour"], "USAGE"],
    ["a missing argument", ["show"], "USAGE"],
    ["a missing module", ["run", "test/fixtures/cli/nothere.mjs"], "MODULE_NOT_FOUND"],
    ["a module without a graph export", ["run", join(FIX, "nograph.mjs")], "NO_GRAPH_EXPORT"],
    ["a module that throws when loaded", ["run", join(FIX, "throws.mjs")], "MODULE_LOAD_FAILED"],
    ["invalid --inputs JSON", ["run", join(FIX, "ok.mjs"), "--inputs", "{n:1}"], "INVALID_OPTION"],
    ["an unreadable --inputs-file", ["run", join(FIX, "ok.mjs"), "--inputs-file", "/nonexistent/inputs.json"], "INVALID_OPTION"],
    ["an invalid --run-id", ["run", join(FIX, "ok.mjs"), "--run-id", "../../etc/passwd"], "INVALID_RUN_ID"],
    ["an invalid run id to show", ["show", "a/b"], "INVALID_RUN_ID"],
    ["an unknown run to show", ["show", "missing"], "RUN_NOT_FOUND"],
    ["a bad --max-concurrency", ["run", join(FIX, "ok.mjs"), "--max-concurrency", "0"], "INVALID_OPTION"],
    ["a bad --retries", ["run", join(FIX, "ok.mjs"), "--retries", "-1"], "INVALID_OPTION"],
    ["invalid --payload JSON", ["resolve", "some-run", "key", "--payload", "nope"], "INVALID_OPTION"],
    ["resolve on an unknown run", ["resolve", "some-run", "key"], "RUN_NOT_FOUND"],
  ];
  it.each(cases)("%s", async (_what, args, code) => {
    expectOneLineError(await cli(dir, args), code);
  });

  it("names the builder when .build() was forgotten", async () => {
    const r = await cli(dir, ["run", join(FIX, "nograph.mjs")]);
    expect(r.stderr).toContain('Export "pipeline" looks like a graph builder: did you forget .build()?');
  });

  it("prints help and the version", async () => {
    const help = await cli(dir, ["--help"]);
    expect(help.code).toBe(0);
    for (const c of ["run", "resume", "runs", "show", "resolve", "graph", "report", "rm", "gc"]) expect(help.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    const version = await cli(dir, ["--version"]);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version);
  });
});
