/**
 * `npm run build`: `dist/` as a few bundled ES modules, not one file per
 * source module.
 *
 * Why bundle: `import "taskloom"` of tsc's output loaded about 180 files,
 * and a fresh process spent most of its import opening, stat-ing and
 * compiling them; one bundle imported in about a third of the time (issue
 * 16, target 7: `import "taskloom"` at most 2.5x p-queue alone).
 *
 * - esbuild bundles each entry below with code splitting, so a module two
 *   entries share lives once, in `dist/chunks/`: a class (an error, a
 *   `TaskGraph`) is the same class through `taskloom`, `taskloom/bullmq`
 *   and the CLI, and `instanceof` holds across them.
 * - Every npm package stays external, imported as before: the optional
 *   peers and the lazily loaded dependencies (`core/lazy-module.ts`) still
 *   load only when used.
 * - tsc still writes the declarations (`.d.ts`, one per module, as the
 *   `types` paths and typedoc expect); it no longer writes the `.js`.
 * - Code that finds files from its own `import.meta.url` must land in a
 *   shared chunk (`dist/chunks/`, one folder under `dist/`, as a module of
 *   `src/state/` is one under `src/`): checked below from the metafile.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const OUT = join(ROOT, "dist");

/** Output name (under `dist/`, no extension) of each file loaded by path: `package.json`'s `exports` and `bin`, and the adapter tests and benches import. */
const ENTRIES = {
  index: "src/index.ts",
  "adapters/bullmq/entry": "src/adapters/bullmq/entry.ts",
  "adapters/bullmq/index": "src/adapters/bullmq/index.ts",
  "cli/main": "src/cli/main.ts",
};

/** Source modules that find taskloom's own files from `import.meta.url` as one folder below its root (`src/state/x.ts` -> `src/`). */
const ONE_FOLDER_DOWN = ["src/state/error-record.ts"];

// The code files of an earlier build go (the bundle's chunk names change, and a tsc build left one file per module);
// the declarations and tsc's incremental state stay, so an unchanged tree rebuilds them in seconds.
function removeCode(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) removeCode(path);
    else if (e.name.endsWith(".js") || e.name.endsWith(".js.map")) rmSync(path);
  }
}
if (existsSync(OUT)) removeCode(OUT);

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: ENTRIES,
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "es2022",
  tsconfig: "tsconfig.build.json",
  packages: "external",
  chunkNames: "chunks/[name]-[hash]",
  // Class and function names as written (esbuild renames a class that refers to itself, `class _X`).
  keepNames: true,
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
});
if (result.warnings.length > 0) throw new Error(`build: esbuild warned ${result.warnings.length} time(s), see above`);

for (const source of ONE_FOLDER_DOWN) {
  const outputs = Object.entries(result.metafile.outputs).filter(([, o]) => o.inputs[source] !== undefined);
  const misplaced = outputs.map(([file]) => file).filter((file) => !/^dist\/chunks\/[^/]+\.js$/.test(file));
  if (outputs.length !== 1 || misplaced.length > 0) {
    throw new Error(`build: ${source} must be bundled once, into dist/chunks/ (it is in ${outputs.map(([f]) => f).join(", ") || "no output"})`);
  }
}
