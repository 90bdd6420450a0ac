/**
 * Import boundaries of taskloom (issue 15, "Habits that keep it so"), checked by `npm run deps`.
 *
 * Layers, lowest first. A module may import its own layer or a lower one, never a higher one:
 *
 *   0 ground       src/core/**, src/errors.ts          (clock, durations, ids, text, the error base)
 *   1 data         src/state/**, src/events/**          (plain run state and the typed event map)
 *   2 graph        src/graph/**                         (TaskGraph, builder, specs: nothing at run time)
 *   3 engine       src/engine/** (the run loop over one TaskGraph)
 *   4 persistence  src/persistence/**                   (stores, journal, serialization)
 *   5 runner       src/runner/**                        (run session, handles, resume, leases)
 *   6 features     src/stages/**, src/schedule/**       (stage workflows; delayed, cron, repeating runs)
 *   7 adapters     src/adapters/**                      (optional engines behind subpath exports)
 *   8 entry        src/index.ts                         (the public "taskloom" entry)
 *   9 cli          src/cli/**                           (the taskloom command: an application of the library)
 *
 * src/cli sits on top because it is an application of the library: it may import the public
 * entry (src/index.ts) and the adapters. src/index.ts sits above the adapters in the list but must
 * not reach them or any optional peer (rule entry-not-to-optional-peers): the two entry points
 * ("taskloom" and "taskloom/bullmq") are siblings.
 *
 * Type-only imports count too: a type is part of a module's interface, and issue 15 moves
 * data types down to the layer that owns them (item 5) and breaks the type cycles in
 * src/graph (item 4), so exempting them would hide exactly the work the issue asks for.
 */

/** [layer name, path regexes] from lowest to highest. */
const LAYERS = [
  ["ground", ["^src/core/", "^src/errors\\.ts$"]],
  ["data", ["^src/state/", "^src/events/"]],
  ["graph", ["^src/graph/"]],
  ["engine", ["^src/engine/"]],
  ["persistence", ["^src/persistence/"]],
  ["runner", ["^src/runner/"]],
  ["features", ["^src/stages/", "^src/schedule/"]],
  ["adapters", ["^src/adapters/"]],
  ["entry", ["^src/index\\.ts$"]],
  ["cli", ["^src/cli/"]],
];

/**
 * One rule per layer: nothing in it may import a layer above it. Imports of src/cli are left to
 * the rule library-not-to-cli, so that one bad import is reported once.
 */
const layerRules = LAYERS.slice(0, -2).map(([name, paths], i) => ({
  name: `layer-${name}`,
  comment: `The ${name} layer imports only itself and lower layers: move the shared piece down, or invert the dependency with a port.`,
  severity: "error",
  from: { path: paths },
  to: { path: LAYERS.slice(i + 1, -1).flatMap(([, p]) => p) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "No import cycles, type-only imports included (issue 15 items 3 and 4): put the shared types in a lower module both sides import.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "library-not-to-cli",
      comment: "Library code never imports src/cli: the command is an application built on the library.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: { path: "^src/cli/" },
    },
    ...layerRules,
    {
      name: "entry-not-to-optional-peers",
      comment:
        'import "taskloom" must work without the optional peers (bullmq, ioredis, mermaid, tsx): ' +
        "they are reached only through taskloom/bullmq or the CLI. The one exception is " +
        "src/adapters/worker-errors.ts (the worker errors, which taskloom has always exported): it imports only the " +
        "error base, and a peer it reached would still be caught here.",
      severity: "error",
      from: { path: "^src/index\\.ts$" },
      to: {
        path: ["^src/adapters/", "(^|/)node_modules/(bullmq|ioredis|mermaid|tsx)/"],
        pathNot: "^src/adapters/worker-errors\\.ts$",
        reachable: true,
      },
    },
    {
      name: "lazy-heavy-deps",
      comment:
        "Library code loads chrono-node, croner and commander only when used (await import(...)), so that " +
        'import "taskloom" stays within 2.5x of importing p-queue alone (issue 15). The CLI may load them eagerly.',
      severity: "error",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: {
        path: "(^|/)node_modules/(chrono-node|croner|commander)/",
        dependencyTypesNot: ["dynamic-import", "type-only", "type-import"],
      },
    },
    {
      name: "not-to-unresolvable",
      comment: "An import that cannot be resolved: a typo, or a package missing from package.json.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "no-non-package-json",
      comment: "A package imported from src/ that package.json does not list.",
      severity: "error",
      from: { path: "^src/" },
      to: {
        dependencyTypes: ["npm-no-pkg", "npm-unknown"],
        // dependency-cruiser also tags a package listed in both devDependencies and
        // peerDependencies (bullmq, ioredis, tsx) as npm-no-pkg: those are listed.
        dependencyTypesNot: ["npm", "npm-dev", "npm-peer", "npm-optional"],
      },
    },
    {
      name: "not-to-dev-dep",
      comment: "Library code imports only dependencies or (optional) peer dependencies at run time, never a " + "package that is only a devDependency.",
      severity: "error",
      from: { path: "^src/" },
      to: {
        dependencyTypes: ["npm-dev"],
        dependencyTypesNot: ["npm-peer", "type-only", "type-import"],
      },
    },
  ],
  options: {
    doNotFollow: { path: "(^|/)node_modules/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "node", "default"],
      mainFields: ["module", "main", "types", "typings"],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
