/**
 * CLI audit: what `run`, `resume` and `show` print. Outputs a run can hold
 * print as valid JSON on stdout (a cycle included, which JSON.stringify
 * refuses), and the `taskloom resume` command the CLI suggests for a
 * failed or waiting run names the `--export` the run was started with (a
 * resume without it loads another graph and stops with GRAPH_CHANGED).
 * Run in process, on graph modules written to a temporary folder that
 * import taskloom from src/.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/program.js";
import { jsonText, visible } from "../src/cli/text.js";
import { CommandContext } from "../src/cli/context.js";
import { gcCommand } from "../src/cli/commands/gc.js";
import { graph, runAsync, type Lease } from "../src/index.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";

const SRC = resolve(import.meta.dirname, "../src/index.ts");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "taskloom-cli-audit-"));
  dirs.push(d);
  return d;
}

/** A graph module in its own folder (which is also the store folder's parent); returns [module path, store dir]. */
function moduleWith(source: string): [string, string] {
  const dir = tempDir();
  const file = join(dir, "graphs.mjs");
  writeFileSync(file, `import { graph } from ${JSON.stringify(SRC)};\n${source}\n`);
  return [file, join(dir, "store")];
}

/** The CLI's streams, written to strings, with TASKLOOM_DIR set to `store`. */
function capturedIo(store: string, now: () => number = Date.now) {
  const written = { out: "", err: "" };
  const io = {
    out: { write: (s: string) => (written.out += s) },
    err: { write: (s: string) => (written.err += s) },
    cwd: tmpdir(),
    env: { ...process.env, TASKLOOM_DIR: store },
    now,
  };
  return { io, written };
}

async function cli(store: string, args: string[], now: () => number = Date.now): Promise<{ code: number; out: string; err: string }> {
  const { io, written } = capturedIo(store, now);
  const code = await runCli(args, io);
  return { code, ...written };
}

describe("JSON output of any value", () => {
  it("taskloom run prints outputs that hold a cycle as JSON, exit 0", async () => {
    const [mod, store] = moduleWith(`export default graph("cyclic").node("a", () => { const o = { n: 1 }; o.self = o; return o; }).build();`);
    const r = await cli(store, ["run", mod, "--run-id", "cyc-1"]);
    expect(r.err).not.toContain("error[");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ a: { n: 1, self: "[Circular]" } });
  });

  it("jsonText is valid JSON for any value, cycles, BigInt, Map, Set, Date and errors included", () => {
    const leaf = fc.oneof(fc.anything(), fc.bigInt(), fc.date(), fc.constant(-0), fc.string({ unit: "binary" }), fc.constant(new Error("e")));
    fc.assert(
      fc.property(fc.array(leaf, { maxLength: 4 }), leaf, fc.nat(3), (items, other, cycleAt) => {
        const obj: Record<string, unknown> = {
          items,
          map: new Map<unknown, unknown>([
            [1, items[0]],
            ["k", items],
          ]),
          set: new Set(items),
        };
        const target = [obj, obj.items, obj.map, obj.set][cycleAt];
        if (target instanceof Map) target.set("back", obj);
        else if (target instanceof Set) target.add(obj);
        else if (Array.isArray(target)) target.push(obj);
        else (target as Record<string, unknown>).self = obj;
        // A value seen twice without a cycle prints twice, in full.
        const shared = { other };
        obj.first = shared;
        obj.second = [shared];
        const parsed = JSON.parse(jsonText(obj)) as { first: unknown; second: unknown[] };
        expect(parsed.second[0]).toEqual(parsed.first);
        expect(parsed.first).toEqual(JSON.parse(jsonText(shared)));
      }),
      { numRuns: 200 },
    );
  });
});

describe("the resume command the CLI suggests", () => {
  const source = [
    `export default graph("other").node("x", () => 1).build();`,
    `export const failing = graph("failing").node("boom", () => { throw new Error("no"); }, { retry: { maxAttempts: 1 } }).build();`,
    `export const waiting = graph("waiting").node("w", ({ waitFor }) => waitFor("go")).build();`,
  ].join("\n");

  it("names --export for a run that failed", async () => {
    const [mod, store] = moduleWith(source);
    const r = await cli(store, ["run", mod, "--export", "failing", "--run-id", "f-1"]);
    expect(r.code).toBe(1);
    const line = r.err.trimEnd().split("\n").at(-1) ?? "";
    expect(line).toMatch(/^error\[NODE_FAILED\]/);
    expect(line).toContain(`continue it with: taskloom resume f-1 ${mod} --export failing`);
    // And the suggested command works: it loads the failing graph again (not GRAPH_CHANGED).
    const resumed = await cli(store, ["resume", "f-1", mod, "--export", "failing"]);
    expect(resumed.err).toContain("error[NODE_FAILED]");
  });

  it("names --export for a run that waits", async () => {
    const [mod, store] = moduleWith(source);
    const r = await cli(store, ["run", mod, "--export", "waiting", "--run-id", "w-1"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`continue: taskloom resume w-1 ${mod} --export waiting`);
    expect(JSON.parse(r.out)).toMatchObject({ runId: "w-1", status: "waiting" });
  });
});

describe("taskloom worker's options", () => {
  it("an empty TASKLOOM_REDIS means the default, as an empty TASKLOOM_DIR does", async () => {
    const store = tempDir();
    let err = "";
    const io = {
      out: { write: () => true },
      err: { write: (s: string) => (err += s) },
      cwd: store,
      env: { ...process.env, TASKLOOM_DIR: store, TASKLOOM_REDIS: "" },
      now: () => Date.now(),
    };
    // The module does not exist: the command gets that far (and stops there) once the Redis URL is accepted.
    const code = await runCli(["worker", join(store, "missing.mjs")], io);
    expect(code).toBe(1);
    expect(err).not.toContain("--redis");
    expect(err).toMatch(/^error\[(MODULE_NOT_FOUND|BULLMQ_MISSING)\]/);
  });

  it("--concurrency takes whole numbers only, as every other count option", async () => {
    for (const bad of ["0x10", "1e1", " ", "2.0", "-1", "Infinity"]) {
      const r = await cli(tempDir(), ["worker", "missing.mjs", "--concurrency", bad]);
      expect(r.err, bad).toMatch(/^error\[INVALID_OPTION\]: option --concurrency must be a whole number of at least 1/);
    }
  });
});

describe("taskloom rm and gc of a run a live process drives", () => {
  it("is refused with RUN_LOCKED, advice that speaks the command line, and the run kept; gc keeps it, dry run or not", async () => {
    const { graph, LowdbStore, run, getRun } = await import("../src/index.js");
    const storeDir = tempDir();
    const store = new LowdbStore({ dir: storeDir });
    let release!: () => void;
    const gate = new Promise<void>((done) => (release = done));
    let started!: () => void;
    const running = new Promise<void>((done) => (started = done));
    const g = graph("live")
      .node("a", async () => {
        started();
        await gate;
        return 1;
      })
      .build();
    const handle = run(g, undefined, { runId: "live-1", store });
    try {
      await running;
      const r = await cli(storeDir, ["rm", "live-1"]);
      expect(r.code).toBe(1);
      const lines = r.err.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^error\[RUN_LOCKED\]/);
      expect(lines[0]).not.toContain("runAsync");
      expect(lines[0]).toContain("taskloom rm live-1");
      expect((await getRun("live-1", { store })).status).toBe("running");
      // gc keeps it, and so says a dry run (a day from now, when the run is old enough to collect).
      const dayLater = () => Date.now() + 86_400_000;
      for (const dry of [["--dry-run"], []]) {
        const gc = await cli(storeDir, ["gc", "--older-than", "1h", "--json", ...dry], dayLater);
        expect(gc.code, gc.err).toBe(0);
        expect(JSON.parse(gc.out), dry.join(" ")).toMatchObject({ removed: [], kept: [{ runId: "live-1", reason: "a live process drives it" }] });
      }
    } finally {
      release();
      await handle.result();
      await store.close();
    }
  });
});

describe("the advice of a run that was cancelled", () => {
  it("names taskloom resume, and not runAsync", async () => {
    const [mod, store] = moduleWith(
      `export default graph("slow").node("a", ({ signal }) => { globalThis.__auditStarted?.(); return new Promise((_, no) => signal.addEventListener("abort", () => no(signal.reason))); }).build();`,
    );
    const g = globalThis as { __auditStarted?: () => void };
    const started = new Promise<void>((done) => (g.__auditStarted = done));
    const running = cli(store, ["run", mod, "--run-id", "c-1"]);
    await started;
    const cancelled = await cli(store, ["cancel", "c-1"]);
    expect(cancelled.code).toBe(0);
    const r = await running;
    delete g.__auditStarted;
    expect(r.code).toBe(1);
    const line = r.err.trimEnd().split("\n").at(-1) ?? "";
    expect(line).toMatch(/^error\[RUN_CANCELLED\]/);
    expect(line).not.toContain("runAsync");
    expect(line).toContain(`continue it with: taskloom resume c-1 ${mod}`);
  });
});

describe("a run that passed its deadline", () => {
  it("can be continued from the command line with a new deadline, which the advice names", async () => {
    const { LowdbStore, runAsync, RunTimeoutError } = await import("../src/index.js");
    const [mod, store] = moduleWith(
      `export default graph("deadline").node("a", ({ signal }) => globalThis.__auditHang ? new Promise((_, no) => signal.addEventListener("abort", () => no(signal.reason))) : 1).build();`,
    );
    const { default: g } = (await import(mod)) as { default: Parameters<typeof runAsync>[0] };
    const flags = globalThis as { __auditHang?: boolean };
    flags.__auditHang = true;
    const s = new LowdbStore({ dir: store });
    try {
      await expect(runAsync(g, undefined, { runId: "t-1", store: s, timeoutMs: 20 })).rejects.toBeInstanceOf(RunTimeoutError);
    } finally {
      await s.close();
      delete flags.__auditHang;
    }
    const again = await cli(store, ["resume", "t-1", mod]);
    expect(again.code).toBe(1);
    const line = again.err.trimEnd().split("\n").at(-1) ?? "";
    expect(line).toMatch(/^error\[RUN_TIMEOUT\]/);
    expect(line).not.toContain("runAsync");
    expect(line).toContain(`taskloom resume t-1 ${mod} --timeout <duration>`);

    const resumed = await cli(store, ["resume", "t-1", mod, "--timeout", "10m"]);
    expect(resumed.err).not.toContain("error[");
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.out)).toEqual({ a: 1 });
  });

  it("--timeout takes a duration above zero", async () => {
    for (const bad of ["0s", "soon", "", "-1m"]) {
      const r = await cli(tempDir(), ["run", "missing.mjs", "--timeout", bad]);
      expect(r.code, bad).toBe(1);
      expect(r.err, bad).toMatch(/^error\[INVALID_OPTION\]: option --timeout /);
    }
  });
});

describe("taskloom scheduler start --poll", () => {
  it("is refused as INVALID_OPTION, before any module is loaded, when no timer can wait that long or it is zero", async () => {
    for (const bad of ["0s", "100w", "soon"]) {
      const r = await cli(tempDir(), ["scheduler", "start", "missing.mjs", "--poll", bad]);
      expect(r.code, bad).toBe(1);
      expect(r.err, bad).toMatch(/^error\[INVALID_OPTION\]: option --poll /);
    }
  });
});

describe("taskloom run with a stored run's id and other inputs", () => {
  it("is RUN_INPUTS_MISMATCH, with advice that speaks the command line, and the stored run is kept", async () => {
    const [mod, store] = moduleWith(`export default graph("echo").node("a", ({ inputs }) => inputs).build();`);
    expect((await cli(store, ["run", mod, "--run-id", "i-1", "--inputs", "1"])).code).toBe(0);
    const r = await cli(store, ["run", mod, "--run-id", "i-1", "--inputs", "2"]);
    expect(r.code).toBe(1);
    const line = r.err.trimEnd().split("\n").at(-1) ?? "";
    expect(line).toMatch(/^error\[RUN_INPUTS_MISMATCH\]/);
    expect(line).not.toMatch(/undefined|runId\b/);
    expect(line).toContain(`taskloom resume i-1 ${mod}`);
    const shown = await cli(store, ["show", "i-1", "--json"]);
    expect(JSON.parse(shown.out)).toMatchObject({ status: "succeeded", inputs: 1 });
  });
});

describe("taskloom rm of several runs", () => {
  it("removes every run it can, names each one it cannot, and exits 1 when one failed", async () => {
    const [mod, store] = moduleWith(`export default graph("one").node("a", () => 1).build();`);
    for (const id of ["r-a", "r-b"]) expect((await cli(store, ["run", mod, "--run-id", id])).code).toBe(0);
    const r = await cli(store, ["rm", "r-a", "missing", "r-b"]);
    expect(r.code).toBe(1);
    expect(r.err.trimEnd().split("\n")).toEqual([
      "removed r-a",
      expect.stringMatching(/^error\[RUN_NOT_FOUND\]: no stored run has id "missing"/),
      "removed r-b",
    ]);
    const listed = await cli(store, ["runs", "--json"]);
    expect(JSON.parse(listed.out)).toEqual([]);
    // Twice: nothing left to remove, each id said so.
    const again = await cli(store, ["rm", "r-a", "r-b"]);
    expect(again.code).toBe(1);
    expect(
      again.err
        .trimEnd()
        .split("\n")
        .map((l) => l.slice(0, 21)),
    ).toEqual(["error[RUN_NOT_FOUND]:", "error[RUN_NOT_FOUND]:"]);
  });
});

describe("taskloom gc when one run cannot be deleted", () => {
  it("names it in an error line, keeps it, collects the others, and exits 1", async () => {
    const store = join(tempDir(), "store");
    const g = graph("gc-one")
      .node("a", () => 1)
      .build();
    for (const runId of ["gc-a", "gc-b", "gc-c"]) await runAsync(g, undefined, { store: new LowdbStore({ dir: store }), runId });
    const { io, written } = capturedIo(store, () => Date.now() + 10 * 86_400_000);
    // A store whose delete of one run fails as the file system may (EACCES on a folder another user owns, EBUSY…).
    class Refusing extends LowdbStore {
      override async delete(runId: string, lease?: Lease): Promise<boolean> {
        if (runId === "gc-b") throw Object.assign(new Error("EACCES: permission denied, unlink"), { code: "EACCES" });
        return super.delete(runId, lease);
      }
    }
    const ctx = new CommandContext(io, {});
    const refusing = new Refusing({ dir: store });
    ctx.store = () => refusing;
    const code = await gcCommand(ctx, { olderThan: "1d" });
    expect(code).toBe(1);
    expect(written.err.split("\n").filter((l) => l.startsWith("error"))).toEqual([expect.stringMatching(/^error\[EACCES\]: /)]);
    expect(written.err).toContain("kept gc-b: it could not be deleted (EACCES)");
    expect((await new LowdbStore({ dir: store }).list()).map((r) => r.runId)).toEqual(["gc-b"]);
    expect(written.out).toContain("removed gc-a");
    expect(written.out).toContain("removed gc-c");
  });
});

describe("text output of what a run holds, on a terminal", () => {
  // ESC ] (retitle) … BEL, ESC [ 2 J (clear), a carriage return (overwrite), a right-to-left override.
  const hostile = "\u001b]0;pwned\u0007\u001b[2Jred\rover\u202eevil\u009b31m";
  // eslint-disable-next-line no-control-regex -- the control characters are what it finds
  const unsafe = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

  it("run's error line and show's errors write control characters as visible escapes", async () => {
    const [mod, store] = moduleWith(`export default graph("hostile").node("a", () => { throw new Error(${JSON.stringify(hostile)}); }).build();`);
    const r = await cli(store, ["run", mod, "--run-id", "hostile-1"]);
    expect(r.code).toBe(1);
    expect(r.err).not.toMatch(unsafe);
    expect(r.err).toContain("\\x1b]0;pwned\\x07\\x1b[2Jred\\x0dover\\u202eevil\\x9b31m");
    const show = await cli(store, ["show", "hostile-1"]);
    expect(show.out + show.err).toContain("\\x1b[2Jred");
    expect(show.out + show.err).not.toMatch(unsafe);
  });

  it("visible leaves nothing a terminal acts on but tabs and line feeds, and changes nothing else (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        const shown = visible(text);
        expect(shown).not.toMatch(unsafe);
        if (!unsafe.test(text)) expect(shown).toBe(text);
      }),
    );
  });
});
