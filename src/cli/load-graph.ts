/**
 * Loading a graph from a user's module: `taskloom run ./etl.ts`.
 *
 * The path is resolved against the working folder and imported by file
 * URL. TypeScript modules (`.ts`, `.mts`, `.cts`, `.tsx`) are loaded the
 * way tsx's `tsImport` loads them: tsx's ESM loader and its CommonJS
 * `require` hook, both registered once under one namespace of this
 * command's own, so a module of either type (an ESM project, or the
 * CommonJS project `npm init -y` makes) loads; a CommonJS module's
 * `require("taskloom")` goes through Node's `require(esm)`, and
 * {@link copyFor} finds that copy again. tsx is an optional peer
 * dependency, and its absence is a
 * `TSX_MISSING` error that says how to install it. A module Node cannot
 * load for a reason the user can fix (CommonJS with top-level await, a
 * `require` of ESM on an old Node) fails with `MODULE_LOAD_FAILED` and a
 * one-line hint saying what to change.
 *
 * The graph is the export named by `--export`, else `default`, else the
 * only export that is a graph. A graph is recognised by its shape (a
 * string `name` and `fingerprint`, functions `nodeIds` and `node`), and a
 * `graphFn` by its `graph`, not by `instanceof`: a module may load another
 * copy of taskloom than the one running this command (a global install
 * next to a project's own, or `src/` next to `dist/` in a checkout), and
 * its graph is still a graph to draw.
 *
 * Running it is another matter: `run` accepts only its own copy's
 * `TaskGraph`, and rebuilding the graph from its parts would silently
 * change behaviour (the copy's `NonRetryableError`, say, would not be
 * recognised). So {@link runnerFor} uses the `run` of the copy that built
 * the graph: this command's own, the `taskloom` the module itself resolves,
 * or, in a checkout of taskloom, its `src/`; if none matches it fails with
 * `FOREIGN_GRAPH`.
 *
 * @module
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { run as ownRun, TaskGraph } from "../index.js";
import { CliError, errorSummary } from "./errors.js";
import { ownRoot } from "./own-package.js";
import type { GraphShape } from "./graph-format.js";

/** `run` as this command calls it. */
export type RunFunction = typeof ownRun;

/** A graph found in a module. */
export interface LoadedGraph {
  /** The module's absolute path. */
  readonly file: string;
  /** The export it came from. */
  readonly exportName: string;
  /** The graph (a `graphFn` export is unwrapped to its `graph`). */
  readonly graph: GraphShape;
}

const TS_EXTENSIONS = new Set([".ts", ".mts", ".cts", ".tsx"]);

/** Imports a URL through tsx's loaders, in this command's namespace. */
type ScopedImport = (specifier: string, parentURL: string) => Promise<unknown>;
let tsxImport: ScopedImport | undefined;

/** True when `value` has the public shape of a `TaskGraph`. */
export function isGraphShape(value: unknown): value is GraphShape {
  const v = value as Partial<Record<keyof GraphShape, unknown>> | null;
  return (
    v !== null &&
    typeof v === "object" &&
    typeof v.name === "string" &&
    typeof v.fingerprint === "string" &&
    typeof v.nodeIds === "function" &&
    typeof v.node === "function"
  );
}

/** The graph in an export: a graph, or a `graphFn` (a function with a `graph`). */
function graphIn(value: unknown): GraphShape | undefined {
  if (isGraphShape(value)) return value;
  if (typeof value === "function" && isGraphShape((value as { graph?: unknown }).graph)) return (value as unknown as { graph: GraphShape }).graph;
  return undefined;
}

function looksLikeBuilder(value: unknown): boolean {
  return value !== null && typeof value === "object" && typeof (value as { build?: unknown }).build === "function";
}

async function registerTsx(file: string): Promise<ScopedImport> {
  if (tsxImport) return tsxImport;
  let esm: typeof import("tsx/esm/api");
  let cjs: typeof import("tsx/cjs/api");
  try {
    [esm, cjs] = await Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]);
  } catch (err) {
    throw new CliError(
      "TSX_MISSING",
      `${file} is TypeScript, and loading TypeScript needs tsx, which is not installed. Run "npm install -D tsx" in your project, or point taskloom at the compiled JavaScript.`,
      { cause: err },
    );
  }
  // One namespace for the whole command, as tsImport does per call: the CommonJS hook compiles the
  // TypeScript a CommonJS module requires, and modules imported twice (a module, then the taskloom
  // copy it used) are the same instances.
  const namespace = `taskloom-cli-${process.pid}`;
  cjs.register({ namespace });
  const scoped = esm.register({ namespace });
  tsxImport = (specifier, parentURL) => scoped.import(specifier, parentURL) as Promise<unknown>;
  return tsxImport;
}

/** `summary`, then `hint` as its own sentence. */
function withHint(summary: string, hint: string): string {
  return hint === "" || /[.!?]$/.test(summary) ? summary + hint : `${summary}.${hint}`;
}

/** What to change, for the load failures a user can fix; empty for the others. */
function loadHint(err: unknown, file: string): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (/top-level await/i.test(message) && /cjs|commonjs/i.test(message)) {
    return ` It is loaded as CommonJS (its package.json has no "type": "module") and uses top-level await: rename it to .mts (or .mjs), or add "type": "module" to package.json.`;
  }
  if (code === "ERR_REQUIRE_ESM" || code === "ERR_REQUIRE_CYCLE_MODULE") {
    return ` taskloom is an ES module: require() of it needs Node 20.19+ (this is ${process.version}); upgrade Node, use import, or rename ${file} to .mts/.mjs.`;
  }
  if (code === "ERR_REQUIRE_ASYNC_MODULE") {
    return ` A CommonJS module cannot require() an ES module that uses top-level await: use import, or rename the module to .mts/.mjs.`;
  }
  return "";
}

/**
 * Imports the module at `modulePath` (resolved against `cwd`; TypeScript
 * through tsx) and returns its absolute path and its exports.
 *
 * @example
 * ```ts
 * const { ns } = await importModule("graphs.ts", process.cwd());
 * ```
 */
export async function importModule(modulePath: string, cwd: string): Promise<{ file: string; ns: Record<string, unknown> }> {
  const file = resolve(cwd, modulePath);
  if (!existsSync(file)) throw new CliError("MODULE_NOT_FOUND", `no module at ${file}; check the path (it is resolved against ${cwd}).`);
  if (statSync(file).isDirectory()) throw new CliError("MODULE_NOT_FOUND", `${file} is a folder; give the graph module's file.`);
  const url = pathToFileURL(file).href;
  const load = TS_EXTENSIONS.has(extname(file)) ? await registerTsx(file) : undefined;
  try {
    return { file, ns: (await (load ? load(url, import.meta.url) : import(url))) as Record<string, unknown> };
  } catch (err) {
    throw new CliError("MODULE_LOAD_FAILED", `${file} could not be loaded: ${withHint(errorSummary(err), loadHint(err, file))}`, { cause: err });
  }
}

/** Every graph a module exports (a `graphFn` export is unwrapped to its `graph`), by export name. */
export function graphsIn(ns: Record<string, unknown>): { name: string; graph: GraphShape }[] {
  const seen = new Set<GraphShape>();
  const out: { name: string; graph: GraphShape }[] = [];
  for (const name of Object.keys(ns)) {
    const graph = graphIn(ns[name]) ?? (name === "default" ? graphIn((ns.default as { default?: unknown } | null | undefined)?.default) : undefined);
    if (graph && !seen.has(graph)) {
      seen.add(graph);
      out.push({ name, graph });
    }
  }
  return out;
}

/**
 * Imports the module at `modulePath` and finds its graph.
 *
 * @example
 * ```ts
 * const { graph } = await loadGraph("examples/cli-graph.ts", { cwd: process.cwd() });
 * ```
 */
export async function loadGraph(modulePath: string, options: { exportName?: string | undefined; cwd: string }): Promise<LoadedGraph> {
  const { file, ns } = await importModule(modulePath, options.cwd);
  const names = Object.keys(ns).filter((k) => k !== "__esModule");
  const listed = names.length ? names.join(", ") : "none";
  const hint = (value: unknown): string => (looksLikeBuilder(value) ? " It looks like a graph builder: did you forget .build()?" : "");

  if (options.exportName !== undefined) {
    const name = options.exportName;
    if (!(name in ns)) throw new CliError("NO_GRAPH_EXPORT", `${file} has no export "${name}" (its exports: ${listed}).`);
    const graph = graphIn(ns[name]);
    if (!graph) throw new CliError("NO_GRAPH_EXPORT", `export "${name}" of ${file} is not a taskloom graph.${hint(ns[name])}`);
    return { file, exportName: name, graph };
  }

  const fromDefault = graphIn(ns.default) ?? graphIn((ns.default as { default?: unknown } | null | undefined)?.default);
  if (fromDefault) return { file, exportName: "default", graph: fromDefault };
  const found = names.flatMap((name) => {
    const graph = name === "default" ? undefined : graphIn(ns[name]);
    return graph ? [{ name, graph }] : [];
  });
  const only = found[0];
  if (found.length === 1 && only) return { file, exportName: only.name, graph: only.graph };
  if (found.length > 1) {
    throw new CliError("NO_GRAPH_EXPORT", `${file} exports ${found.length} graphs (${found.map((f) => f.name).join(", ")}); choose one with --export <name>.`);
  }
  const builder = names.find((n) => looksLikeBuilder(ns[n]));
  throw new CliError(
    "NO_GRAPH_EXPORT",
    `${file} exports no taskloom graph (its exports: ${listed}). Export one, e.g. "export default graph("name")…build()".` +
      (builder !== undefined ? hint(ns[builder]).replace("It looks", `Export "${builder}" looks`) : ""),
  );
}

/** Entry files of other taskloom copies the module may have used, most likely first. */
function candidateCopies(file: string): string[] {
  const out: string[] = [];
  try {
    const pkgFile = createRequire(file).resolve("taskloom/package.json");
    const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { exports?: { ".": { import?: string; default?: string } }; main?: string };
    const entry = pkg.exports?.["."]?.import ?? pkg.exports?.["."]?.default ?? pkg.main ?? "index.js";
    out.push(join(dirname(pkgFile), entry));
  } catch {
    // The module's folder does not resolve "taskloom": fine, try the others.
  }
  const source = join(ownRoot(), "src", "index.ts");
  if (tsxImport && existsSync(source)) out.push(source);
  return out;
}

/**
 * The taskloom module (its exports) that built this graph: this command's
 * own, the `taskloom` the module itself resolves, or a checkout's `src/`.
 * Throws `FOREIGN_GRAPH` when no copy within reach did.
 */
export async function copyFor(loaded: LoadedGraph): Promise<Record<string, unknown>> {
  if (loaded.graph instanceof TaskGraph) return await import("../index.js");
  const loaders = candidateCopies(loaded.file).map((entry) => {
    const url = pathToFileURL(entry).href;
    // The copy the module imported: through tsx's namespace when tsx loaded the module.
    return () => (tsxImport ? tsxImport(url, import.meta.url) : import(url));
  });
  // The copy a CommonJS module required: with loader hooks registered, Node's require(esm) keeps
  // its own instance of an ES module, which only a require of the same name finds again.
  loaders.push(() => Promise.resolve(createRequire(loaded.file)("taskloom") as unknown));
  for (const load of loaders) {
    let mod: Record<string, unknown>;
    try {
      mod = (await load()) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof mod.TaskGraph === "function" && loaded.graph instanceof mod.TaskGraph) return mod;
  }
  throw new CliError(
    "FOREIGN_GRAPH",
    `the graph in ${loaded.file} was built by a copy of taskloom that this command (${ownRoot()}) cannot find. ` +
      `Import graph from "taskloom" in the module and run the taskloom command installed next to it (npx taskloom in that project).`,
  );
}

/**
 * The `run` function that accepts this graph: that of the taskloom copy
 * that built it. Throws `FOREIGN_GRAPH` when no copy within reach did.
 */
export async function runnerFor(loaded: LoadedGraph): Promise<RunFunction> {
  if (loaded.graph instanceof TaskGraph) return ownRun;
  const mod = await copyFor(loaded);
  if (typeof mod.run !== "function") throw new CliError("FOREIGN_GRAPH", `the taskloom copy that built the graph in ${loaded.file} has no run function.`);
  return mod.run as RunFunction;
}
