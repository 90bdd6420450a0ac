/**
 * Heavy dependencies loaded on first use, not when `taskloom` is imported.
 * chrono-node (English `when` phrases), croner (cron patterns) and
 * commander (`runner.cli`) cost most of the package's import time, and most
 * programs never touch them; the functions that need them are synchronous
 * public API (`parseWhen`, `parseStageArgs`), so the module is loaded with
 * a synchronous `require` (each of these packages ships a CommonJS build)
 * the first time a caller needs it, and cached.
 *
 * Invariant: a module loaded here is imported nowhere else in library code
 * with a static `import` (a value import would load it eagerly again);
 * `import type` is fine, it is erased.
 *
 * @module
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * A loader for the package `id`: the first call requires it, later calls
 * return the same module.
 *
 * @example
 * ```ts
 * const croner = lazyModule<typeof import("croner")>("croner");
 * new (croner().Cron)("0 9 * * *");
 * ```
 */
export function lazyModule<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}
