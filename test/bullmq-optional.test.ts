/**
 * bullmq and ioredis are optional peers: only the `taskloom/bullmq` entry
 * (src/adapters/bullmq/) may import them statically; the CLI's worker
 * command imports the adapter dynamically, so `taskloom` and its CLI load
 * without them. Where they are missing, importing `taskloom/bullmq` (and
 * the worker command) fails with the one-line BULLMQ_MISSING advice, not a
 * bare ERR_MODULE_NOT_FOUND: checked in a scratch consumer project that has
 * the built package (dist/, `npm run build` first) and no bullmq.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as entry from "../src/adapters/bullmq/entry.js";
import * as adapter from "../src/adapters/bullmq/index.js";
import { BullmqMissingError, TaskloomError } from "../src/index.js";

const SRC = resolve(import.meta.dirname, "../src");
const ADAPTER = join(SRC, "adapters", "bullmq");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Static value imports (`import … from "x"`, `export … from "x"`), not `import type` and not `import("x")`. */
function staticImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+"([^"]+)"/gms)) out.push(m[1]!);
  return out;
}

describe("optional peers", () => {
  it("are imported statically only by the taskloom/bullmq entry", () => {
    const offenders: string[] = [];
    for (const file of sources(SRC)) {
      if (file.startsWith(ADAPTER)) continue;
      for (const spec of staticImports(readFileSync(file, "utf8"))) {
        if (/^(bullmq|ioredis)(\/|$)/.test(spec) || spec.includes("adapters/bullmq")) offenders.push(`${relative(SRC, file)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("sees the adapter's own static imports (the check can fail)", () => {
    const imports = staticImports(readFileSync(join(ADAPTER, "executor.ts"), "utf8"));
    expect(imports).toContain("bullmq");
  });
});

describe("taskloom/bullmq without bullmq installed", () => {
  const ROOT = resolve(import.meta.dirname, "..");
  const consumer = mkdtempSync(join(tmpdir(), "taskloom-no-bullmq-"));
  afterAll(() => rmSync(consumer, { recursive: true, force: true }));

  /** A consumer project with the built taskloom and its dependencies (linked) in node_modules, and no optional peer. */
  function install(): void {
    const modules = join(consumer, "node_modules");
    const pkg = join(modules, "taskloom");
    mkdirSync(pkg, { recursive: true });
    cpSync(join(ROOT, "dist"), join(pkg, "dist"), { recursive: true });
    cpSync(join(ROOT, "package.json"), join(pkg, "package.json"));
    const { dependencies } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    for (const name of Object.keys(dependencies)) {
      if (!existsSync(join(modules, name))) symlinkSync(realpathSync(join(ROOT, "node_modules", name)), join(modules, name), "dir");
    }
    writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }));
  }

  function node(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile(process.execPath, args, { cwd: consumer, timeout: 30_000 }, (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
      );
    });
  }

  it("importing it throws BullmqMissingError with the install advice, not ERR_MODULE_NOT_FOUND", { timeout: 60_000 }, async () => {
    install();
    writeFileSync(
      join(consumer, "main.js"),
      `const { BullmqMissingError } = await import("taskloom");\n` +
        `import("taskloom/bullmq").then(() => console.log("loaded"), (e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message, missing: e.missing, taskloomClass: e instanceof BullmqMissingError })));\n`,
    );
    const r = await node(["main.js"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      name: "BullmqMissingError",
      code: "BULLMQ_MISSING",
      message: 'taskloom/bullmq needs the optional packages bullmq and ioredis (not found: bullmq, ioredis). Run "npm install bullmq ioredis" in your project.',
      missing: ["bullmq", "ioredis"],
      // The entry's error is the class "taskloom" exports, not a copy (the built entries share their code).
      taskloomClass: true,
    });
    // Uncaught, it is one message line (with the stack below it), never the loader's ERR_MODULE_NOT_FOUND.
    writeFileSync(join(consumer, "bare.js"), `import "taskloom/bullmq";\n`);
    const bare = await node(["bare.js"]);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain("BullmqMissingError: taskloom/bullmq needs the optional packages bullmq and ioredis");
    expect(bare.stderr).not.toContain("ERR_MODULE_NOT_FOUND");
  });

  it("the worker command gives the same advice", { timeout: 60_000 }, async () => {
    install();
    writeFileSync(join(consumer, "graphs.js"), `export {};\n`);
    const r = await node([join("node_modules", "taskloom", "dist", "cli", "main.js"), "worker", "graphs.js"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      'error[BULLMQ_MISSING]: the worker command needs the optional packages bullmq and ioredis (not found: bullmq, ioredis). Run "npm install bullmq ioredis" in your project.',
    );
  });

  it("the installed CLI prints its own package's version", { timeout: 60_000 }, async () => {
    install();
    const r = await node([join("node_modules", "taskloom", "dist", "cli", "main.js"), "--version"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version);
  });

  it("with the peers installed, the entry exports what the adapter exports", () => {
    expect(Object.keys(entry).sort()).toEqual(Object.keys(adapter).sort());
    for (const name of Object.keys(adapter)) expect(entry[name as keyof typeof entry], name).toBe(adapter[name as keyof typeof adapter]);
    expect(new BullmqMissingError(["bullmq"])).toBeInstanceOf(TaskloomError);
  });
});
