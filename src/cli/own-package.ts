/**
 * This command's own package, found through the package's self-reference
 * (`taskloom/package.json` is one of its exports) rather than a path
 * relative to this file: the answer is the same from `src/cli/` in a
 * checkout (run with tsx) and from whichever file of the bundled `dist/`
 * the code was built into.
 *
 * @module
 */
import { createRequire } from "node:module";
import { dirname } from "node:path";

const require = createRequire(import.meta.url);

/** The path of taskloom's own `package.json`. */
function packageJsonPath(): string {
  return require.resolve("taskloom/package.json");
}

/** The folder of the taskloom package this code belongs to (a checkout's root, or `node_modules/taskloom`). */
export function ownRoot(): string {
  return dirname(packageJsonPath());
}

/** The `version` of taskloom's own `package.json`. */
export function ownVersion(): string {
  return (require(packageJsonPath()) as { version: string }).version;
}
