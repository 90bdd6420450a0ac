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
 * - No `keepNames`. With it, esbuild wraps every function that gets its
 *   name from where it is written (`const f = () => …`, `{ get: () => … }`)
 *   in a call that redefines its `name`, each time the function is made:
 *   for a closure made per run, a property definition per run that also
 *   turns the function's map into a dictionary (V8 logs it as
 *   `NormalizeCached`, 26 a task in the stage runner). Without it the
 *   stage runner ran 7.8% fewer instructions and allocated 20% fewer bytes
 *   a task (issue 16, seventeenth pass, `bench/README.md`). What it was for
 *   is checked below instead: esbuild renames a class whose body names the
 *   class (`var X = class _X`, and `X.name` is then "_X"), so the build
 *   fails on any such class, naming it; refer to the class as `this` in
 *   its static members, or through a function outside the class body.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
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
  // No keepNames: see the module comment; the renamed classes it prevented are refused below.
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
});
if (result.warnings.length > 0) throw new Error(`build: esbuild warned ${result.warnings.length} time(s), see above`);

// A class whose body names the class comes out as `var X = class _X`, and its `name` (in util.inspect, error
// names, stack frames) as "_X": refused, so that no class is shown under a name it was not given.
const renamed = [];
for (const file of Object.keys(result.metafile.outputs).filter((f) => f.endsWith(".js"))) {
  for (const m of readFileSync(join(ROOT, file), "utf8").matchAll(/\b(?:var|let|const) ([\w$]+) = class _\1\b/g)) renamed.push(`${m[1]} (${file})`);
}
if (renamed.length > 0) {
  throw new Error(
    `build: esbuild renamed ${renamed.length} class(es) whose body names the class: ${renamed.join(", ")}. ` +
      "Refer to the class as `this` in its static members, or through a function outside the class body (see src/graph/builder.ts, builderOf).",
  );
}

for (const source of ONE_FOLDER_DOWN) {
  const outputs = Object.entries(result.metafile.outputs).filter(([, o]) => o.inputs[source] !== undefined);
  const misplaced = outputs.map(([file]) => file).filter((file) => !/^dist\/chunks\/[^/]+\.js$/.test(file));
  if (outputs.length !== 1 || misplaced.length > 0) {
    throw new Error(`build: ${source} must be bundled once, into dist/chunks/ (it is in ${outputs.map(([f]) => f).join(", ") || "no output"})`);
  }
}
