/**
 * The taskloom the bench measures: the built `dist/`, what `import
 * "taskloom"` loads, typed as its source. The peers run from their own
 * built packages in `node_modules`, so taskloom's built code is the like
 * for like; and its source, as `tsx` transforms it, is not what a user
 * runs (tsx wraps each function that gets its name from where it is
 * written in a call that redefines the name, at every creation).
 * Seventeenth pass of issue 16: `bench/README.md`.
 *
 * `npm run bench` builds first; a probe that imports the bench's systems
 * needs `npm run build` in its tree.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type * as Source from "../src/index.js";

const DIST = new URL("../dist/index.js", import.meta.url);
if (!existsSync(fileURLToPath(DIST))) throw new Error(`bench: ${fileURLToPath(DIST)} is missing; run "npm run build" (npm run bench does)`);

/** taskloom's public API, from `dist/`. */
export const taskloom = (await import(DIST.href)) as typeof Source;
