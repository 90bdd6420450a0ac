/**
 * The TypeScript snippets of README.md and docs/*.md run as written. Every
 * fence opened with ```ts is extracted and type-checked, as its own module,
 * with the repository's strict options; ```ts runnable fences are also run,
 * and must exit 0 by themselves within 30 s (so they close what they open).
 * The rules a snippet follows are in docs/development.md ("Snippets in the
 * docs"):
 *
 * - it imports every taskloom name it uses, from "taskloom" or "taskloom/bullmq"
 *   (resolved to src/ here, so no build is needed);
 * - the user's own code it calls (a database client `db`, a `fetchForecast`
 *   function, an earlier snippet's `runner`…) is declared, with a line on
 *   what it stands for, in test/fixtures/snippets/helpers.d.ts; a runnable
 *   snippet uses none of it;
 * - a first line `// graphs.ts` names the module, so later snippets of the
 *   same page import it (`import { etl } from "./graphs.js"`); on a page
 *   without one, "./graphs.js" is test/fixtures/snippets/graphs.ts, the
 *   graphs the docs name (`etl`, `digest`, `report`…).
 *
 * A failure names the page and line of the snippet and says what to fix.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const HELPERS = join(ROOT, "test/fixtures/snippets/helpers.d.ts");
const GRAPHS = join(ROOT, "test/fixtures/snippets/graphs.ts");
const RUN_TIMEOUT_MS = 30_000;

/** One ```ts fence of a page. */
interface Snippet {
  /** The page, relative to the repository (`docs/waits.md`). */
  readonly page: string;
  /** The page's line of the snippet's first code line (1-based). */
  readonly line: number;
  readonly code: string;
  readonly runnable: boolean;
  /** The module's file name in the page's folder of the scratch project. */
  readonly file: string;
}

const PAGES = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];

/** The ```ts fences of a page; other languages (sh, console, json) are not TypeScript and are left alone. */
function snippetsOf(page: string): Snippet[] {
  const lines = readFileSync(join(ROOT, page), "utf8").split("\n");
  const out: Snippet[] = [];
  const names = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(ts|typescript)(?:\s+(.*))?\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const markers = (open[3] ?? "").split(/\s+/).filter(Boolean);
    const unknown = markers.filter((m) => m !== "runnable");
    if (unknown.length > 0)
      throw new Error(`${page}:${i + 1}: unknown fence marker(s) ${unknown.join(", ")}; the only marker is "runnable" (\`\`\`ts runnable)`);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(Math.min(indent, /^\s*/.exec(lines[j]!)![0].length)));
    if (j === lines.length) throw new Error(`${page}:${i + 1}: the \`\`\`ts fence is never closed`);
    const named = /^\/\/\s*([\w.-]+\.m?ts)\b/.exec(body[0] ?? "")?.[1];
    const file = named ?? `snippet-${i + 2}.ts`;
    if (names.has(file)) throw new Error(`${page}:${i + 2}: a second snippet names itself ${file}; give it another file name`);
    names.add(file);
    out.push({ page, line: i + 2, code: body.join("\n"), runnable: markers.includes("runnable"), file });
    i = j;
  }
  return out;
}

const snippets = PAGES.flatMap(snippetsOf);

let scratch: string;
const fileOf = (s: Snippet): string => join(scratch, s.page.replace(/[/.]/g, "_"), s.file);

const compilerOptions = (): ts.CompilerOptions => ({
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2023.d.ts"],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  skipLibCheck: true,
  noEmit: true,
  types: ["node"],
  typeRoots: [join(ROOT, "node_modules/@types")],
  paths: { taskloom: [join(ROOT, "src/index.ts")], "taskloom/bullmq": [join(ROOT, "src/adapters/bullmq/index.ts")] },
});

/** Diagnostics of the snippets, as `page:line: message`, by page. */
let problems: Map<string, string[]>;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "taskloom-snippets-"));
  symlinkSync(join(ROOT, "node_modules"), join(scratch, "node_modules"), "dir");
  writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "snippets", private: true, type: "module" }));
  // tsx (running the runnable ones) reads the same paths from here.
  writeFileSync(
    join(scratch, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", paths: compilerOptions().paths } }),
  );
  const byFile = new Map<string, Snippet>();
  for (const s of snippets) {
    const file = fileOf(s);
    mkdirSync(join(file, ".."), { recursive: true });
    // `export {}` makes every snippet a module: its names are its own, and top-level await is allowed.
    writeFileSync(file, `${s.code}\nexport {};\n`);
    byFile.set(file, s);
  }

  // A page that imports "./graphs.js" without a snippet of that name gets the stand-in graphs.
  for (const page of PAGES) {
    const folder = join(scratch, page.replace(/[/.]/g, "_"));
    if (snippets.some((s) => s.page === page && s.file === "graphs.ts") || !snippets.some((s) => s.page === page)) continue;
    copyFileSync(GRAPHS, join(folder, "graphs.ts"));
  }

  const program = ts.createProgram([...byFile.keys(), HELPERS], compilerOptions());
  problems = new Map(PAGES.map((p) => [p, []]));
  const others: string[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n  ");
    const snippet = d.file ? byFile.get(resolve(d.file.fileName)) : undefined;
    if (!d.file || !snippet) {
      others.push(`${d.file ? relative(ROOT, d.file.fileName) : "tsc"}: ${message}`);
      continue;
    }
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    problems
      .get(snippet.page)!
      .push(`${snippet.page}:${snippet.line + line}:${character + 1} (snippet at line ${snippet.line}): TS${d.code} ${message}${advice(d.code)}`);
  }
  if (others.length > 0) throw new Error(`type-checking the snippets failed outside them:\n${others.join("\n")}`);
}, 300_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** What to do about the usual errors. */
function advice(code: number): string {
  if (code === 2304 || code === 2552) {
    return ` → import it (a taskloom name: import { … } from "taskloom"), define it in the snippet, or, for the reader's own code, declare it in test/fixtures/snippets/helpers.d.ts`;
  }
  if (code === 2307)
    return ` → a snippet imports "taskloom", "taskloom/bullmq", a dependency of this repository, or an earlier snippet of its page named by a first line "// name.ts"`;
  return "";
}

/** The members of `interface RunOptions` in src/runner/run-options.ts. */
function runOptionNames(): string[] {
  const file = join(ROOT, "src/runner/run-options.ts");
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022);
  const names: string[] = [];
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === "RunOptions") {
      for (const member of node.members) if (member.name && ts.isIdentifier(member.name)) names.push(member.name.text);
    }
  });
  return names;
}

/** The option names in the first column of README's "## Options" table. */
function readmeOptionNames(): string[] {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = text.slice(text.indexOf("\n## Options\n"), text.indexOf("\n## ", text.indexOf("\n## Options\n") + 1));
  return section
    .split("\n")
    .filter((l) => l.startsWith("| `"))
    .flatMap((l) => [...l.split("|")[1]!.matchAll(/`(\w+)`/g)].map((m) => m[1]!));
}

describe("README.md's options table", () => {
  it("lists every run option", () => {
    const listed = new Set(readmeOptionNames());
    expect(runOptionNames().length).toBeGreaterThan(10);
    expect(
      runOptionNames().filter((n) => !listed.has(n)),
      'run options missing from the README\'s "## Options" table: add a row (option, default, meaning)',
    ).toEqual([]);
  });
});

describe("TypeScript snippets in README.md and docs/*.md", () => {
  it("finds the snippets", () => {
    expect(snippets.length).toBeGreaterThan(20);
    expect(snippets.some((s) => s.runnable)).toBe(true);
  });

  for (const page of PAGES) {
    if (!snippets.some((s) => s.page === page)) continue;
    it(`${page}: every snippet type-checks strictly`, () => {
      expect(problems.get(page), `fix these snippets of ${page} (rules: docs/development.md, "Snippets in the docs")`).toEqual([]);
    });
  }

  for (const s of snippets.filter((x) => x.runnable)) {
    it(
      `${s.page}:${s.line}: the runnable snippet runs and exits by itself`,
      async () => {
        const store = join(scratch, `store-${basename(s.page)}-${s.line}`);
        const r = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((done) => {
          execFile(
            process.execPath,
            ["--import", "tsx", fileOf(s)],
            { cwd: join(fileOf(s), ".."), env: { ...process.env, TASKLOOM_DIR: store }, timeout: RUN_TIMEOUT_MS, killSignal: "SIGKILL" },
            (error, stdout, stderr) =>
              done({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, signal: error?.signal ?? null, stdout, stderr }),
          );
        });
        if (r.signal === "SIGKILL") {
          throw new Error(
            `${s.page}:${s.line}: the snippet did not exit within ${RUN_TIMEOUT_MS / 1000} s: it leaves something open; close the stores, executors, workers and schedulers it opens`,
          );
        }
        expect(r.code, `${s.page}:${s.line}: the snippet failed:\n${r.stderr}`).toBe(0);
      },
      RUN_TIMEOUT_MS + 30_000,
    );
  }
});
