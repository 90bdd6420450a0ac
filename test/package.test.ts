/**
 * The package as a user installs it. A copy of the repository's tracked
 * files (a fresh clone: no dist/) is packed with `npm pack`, which must
 * build the code itself (prepack empties dist/, prepare builds it); the
 * tarball is installed into two scratch projects, an ESM one and the
 * CommonJS one `npm init -y` makes, whose dependencies come from npm's
 * cache (`--prefer-offline`). In them a strict consumer program is
 * type-checked with NodeNext and with Bundler resolution and run, and the
 * `taskloom` bin runs a graph module.
 *
 * About 40 s on an idle machine, most of it the build inside `npm pack` and
 * the type checks.
 */
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const FIXTURES = join(ROOT, "test/fixtures/consumer");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
const REPO_URL = "https://github.com/taskloom/taskloom";
/** Each step spawns npm, tsc or node: generous on a loaded machine. */
const STEP_TIMEOUT_MS = 180_000;

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** npm settings a nested npm keeps: where its cache, its config files and its registry are. */
const KEPT_NPM_SETTINGS = new Set(["npm_config_cache", "npm_config_userconfig", "npm_config_globalconfig", "npm_config_registry"]);

/**
 * The environment without the variables `npm test` sets for its own script: a nested npm would
 * read them (`npm_config_local_prefix` would make the repository its project).
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { FORCE_COLOR: "0", NO_UPDATE_NOTIFIER: "1" };
  for (const [k, v] of Object.entries(process.env)) {
    if ((!/^npm_/i.test(k) || KEPT_NPM_SETTINGS.has(k.toLowerCase())) && k !== "INIT_CWD" && k !== "NODE_OPTIONS") env[k] = v;
  }
  return env;
}

function exec(file: string, args: readonly string[], cwd: string, timeoutMs = 180_000): Promise<Result> {
  return new Promise((done) => {
    execFile(file, args, { cwd, env: cleanEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Runs a command that must succeed; its failure message has the whole output. */
async function must(file: string, args: readonly string[], cwd: string): Promise<Result> {
  const r = await exec(file, args, cwd);
  if (r.code !== 0) throw new Error(`${[file, ...args].join(" ")} (in ${cwd}) exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

const npm = (args: readonly string[], cwd: string): Promise<Result> => must("npm", args, cwd);
const tsc = (project: string, cwd: string): Promise<Result> => must(process.execPath, [TSC, "-p", project], cwd);

/** The files a fresh clone has: tracked and new files, not ignored ones (no dist/, no node_modules). */
function cloneFiles(): Promise<string[]> {
  return must("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT).then((r) =>
    r.stdout.split("\0").filter((f) => f !== "" && existsSync(join(ROOT, f))),
  );
}

/** A strict consumer tsconfig: NodeNext (emitting to out/) or Bundler (type-check only). */
function tsconfig(kind: "nodenext" | "bundler", files: readonly string[], checkLibraries = false): string {
  const resolution =
    kind === "nodenext" ? { module: "NodeNext", moduleResolution: "NodeNext", outDir: "out" } : { module: "ESNext", moduleResolution: "Bundler", noEmit: true };
  return JSON.stringify({
    compilerOptions: {
      ...resolution,
      target: "ES2022",
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      verbatimModuleSyntax: kind === "bundler",
      // Once (the ESM NodeNext check), the shipped declarations themselves are checked too.
      skipLibCheck: !checkLibraries,
      typeRoots: [join(ROOT, "node_modules/@types")],
      types: ["node"],
    },
    files,
  });
}

/** Markdown without its fenced code blocks and inline code spans (whose brackets are code, not links: `handlers["x"](spec)`). */
function withoutCodeBlocks(markdown: string): string {
  let inBlock = false;
  return markdown
    .split("\n")
    .filter((line) => {
      if (/^\s*```/.test(line)) inBlock = !inBlock;
      return !inBlock && !/^\s*```/.test(line);
    })
    .join("\n")
    .replace(/`[^`\n]*`/g, "``");
}

let work: string;
let clone: string;
let tarball: string;
let packed: string[];
let esm: string;
let cjs: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "taskloom-pack-"));
  clone = join(work, "clone");
  for (const file of await cloneFiles()) {
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(clone, file));
  }
  symlinkSync(realpathSync(join(ROOT, "node_modules")), join(clone, "node_modules"), "dir");
  expect(existsSync(join(clone, "dist")), "a fresh clone has no dist/").toBe(false);

  const pack = await npm(["pack", "--json", "--pack-destination", work], clone);
  const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info[0]!.filename);
  packed = info[0]!.files.map((f) => f.path);

  const tsxVersion = (JSON.parse(readFileSync(join(ROOT, "node_modules/tsx/package.json"), "utf8")) as { version: string }).version;
  esm = join(work, "esm");
  cjs = join(work, "cjs");
  mkdirSync(esm);
  mkdirSync(cjs);
  writeFileSync(join(esm, "package.json"), JSON.stringify({ name: "esm-consumer", version: "1.0.0", private: true, type: "module" }));
  await npm(["init", "-y"], cjs);
  for (const f of ["main.ts", "graph.mjs"]) copyFileSync(join(FIXTURES, f), join(esm, f));
  for (const f of ["cjs-main.ts", "cjs-graph.ts", "cjs-tla.ts"]) copyFileSync(join(FIXTURES, f), join(cjs, f));
  writeFileSync(join(esm, "tsconfig.nodenext.json"), tsconfig("nodenext", ["main.ts"], true));
  writeFileSync(join(esm, "tsconfig.bundler.json"), tsconfig("bundler", ["main.ts"]));
  writeFileSync(join(cjs, "tsconfig.nodenext.json"), tsconfig("nodenext", ["cjs-main.ts", "cjs-graph.ts"]));
  const install = ["install", "--prefer-offline", "--no-audit", "--no-fund"];
  await Promise.all([npm([...install, tarball], esm), npm([...install, tarball, `tsx@${tsxVersion}`], cjs)]);
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm pack on a fresh clone", () => {
  it("builds and ships the code, its types, the bin, the license and the docs, and no sources or tests", () => {
    for (const f of ["dist/index.js", "dist/index.d.ts", "dist/cli/main.js", "dist/adapters/bullmq/index.js", "LICENSE", "README.md", "package.json"]) {
      expect(packed, `the tarball lacks ${f}`).toContain(f);
    }
    expect(packed.filter((f) => /^(src|test|examples|bench)\//.test(f) || f.endsWith(".tsbuildinfo"))).toEqual([]);
  });

  it(
    "leaves the bin built in the clone: prepare (which npm install runs too) built dist/",
    async () => {
      // Not `npx taskloom` here: in its own folder, npx installs the package into its cache (and prepares it again).
      const r = await must(process.execPath, [join(clone, "dist/cli/main.js"), "--help"], clone);
      expect(r.stdout).toMatch(/^Usage: taskloom/);
    },
    STEP_TIMEOUT_MS,
  );

  it("ships source maps that carry their sources", () => {
    const maps = packed.filter((f) => f.endsWith(".js.map"));
    // One map per shipped file of code (the build bundles: a few files, each with its map).
    const code = packed.filter((f) => f.endsWith(".js"));
    expect(code.length).toBeGreaterThan(3);
    expect([...maps].sort()).toEqual(code.map((f) => `${f}.map`).sort());
    const lacking = maps.filter((f) => {
      const map = JSON.parse(readFileSync(join(esm, "node_modules/taskloom", f), "utf8")) as { sources: string[]; sourcesContent?: (string | null)[] };
      return map.sourcesContent?.length !== map.sources.length || map.sourcesContent.some((s) => typeof s !== "string");
    });
    expect(lacking, "maps whose sources are neither shipped nor inlined (sourcesContent)").toEqual([]);
  });

  it("has the metadata a registry page shows, and an MIT LICENSE", () => {
    const pkg = JSON.parse(readFileSync(join(esm, "node_modules/taskloom/package.json"), "utf8")) as Record<string, unknown>;
    expect(pkg.license).toBe("MIT");
    expect(pkg.repository).toEqual({ type: "git", url: `git+${REPO_URL}.git` });
    expect(pkg.homepage).toBe(`${REPO_URL}#readme`);
    expect(pkg.bugs).toEqual({ url: `${REPO_URL}/issues` });
    expect((pkg.keywords as string[]).length).toBeGreaterThan(3);
    expect(readFileSync(join(esm, "node_modules/taskloom/LICENSE"), "utf8")).toMatch(/^MIT License\n/);
  });

  it("resolves every relative link of the shipped README and docs inside the package", () => {
    const shipped = new Set(packed);
    const broken: string[] = [];
    for (const doc of packed.filter((f) => f.endsWith(".md"))) {
      const text = withoutCodeBlocks(readFileSync(join(esm, "node_modules/taskloom", doc), "utf8"));
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!) || target!.startsWith("#")) continue;
        const path = posix.normalize(posix.join(posix.dirname(doc), target!.split("#")[0]!));
        if (!shipped.has(path)) broken.push(`${doc}: ${target} (${path} is not in the package; ship it in "files" or link ${REPO_URL}/blob/main/${path})`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe("an ESM project that installed the tarball", () => {
  it(
    "type-checks a strict consumer with NodeNext and with Bundler resolution, and runs it",
    async () => {
      await tsc("tsconfig.nodenext.json", esm);
      await tsc("tsconfig.bundler.json", esm);
      const r = await must(process.execPath, ["out/main.js"], esm);
      expect(JSON.parse(r.stdout)).toEqual({ total: 600, ids: [0, 1, 2], code: "NON_RETRYABLE", handle: null });
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "runs the taskloom bin: --help, and a graph module",
    async () => {
      expect((await must("npx", ["--offline", "taskloom", "--help"], esm)).stdout).toMatch(/^Usage: taskloom/);
      const r = await must("npx", ["--offline", "taskloom", "run", "graph.mjs", "--inputs", '{"n":21}', "--dir", ".taskloom"], esm);
      expect(JSON.parse(r.stdout)).toEqual({ value: 42 });
    },
    STEP_TIMEOUT_MS,
  );
});

describe("a CommonJS project (npm init -y) that installed the tarball", () => {
  it(
    "type-checks a strict consumer with NodeNext, runs it through tsx, and require()s taskloom",
    async () => {
      await tsc("tsconfig.nodenext.json", cjs);
      expect(JSON.parse((await must("npx", ["--offline", "tsx", "cjs-main.ts"], cjs)).stdout)).toEqual({ answer: 42 });
      const r = await must(process.execPath, ["-e", 'const t = require("taskloom"); console.log(typeof t.graph, typeof t.runAsync)'], cjs);
      expect(r.stdout.trim()).toBe("function function");
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "runs a TypeScript graph module with npx taskloom run",
    async () => {
      const r = await must("npx", ["--offline", "taskloom", "run", "cjs-graph.ts", "--inputs", '{"n":4}', "--dir", ".taskloom"], cjs);
      expect(JSON.parse(r.stdout)).toEqual({ value: 8 });
      expect(readdirSync(join(cjs, ".taskloom")).length).toBeGreaterThan(0);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "says in one line what to change for a module that cannot load as CommonJS (top-level await)",
    async () => {
      const r = await exec("npx", ["--offline", "taskloom", "run", "cjs-tla.ts", "--dir", ".taskloom"], cjs);
      expect(r.code).toBe(1);
      expect(r.stderr.trimEnd().split("\n")).toEqual([
        expect.stringMatching(
          /^error\[MODULE_LOAD_FAILED\]: .*cjs-tla\.ts could not be loaded: .*rename it to \.mts \(or \.mjs\), or add "type": "module" to package\.json\.$/,
        ),
      ]);
    },
    STEP_TIMEOUT_MS,
  );
});
