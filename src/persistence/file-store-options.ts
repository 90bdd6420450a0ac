/**
 * The options every file store takes (`LowdbStore`, `FileScheduleStore`):
 * the folder and whether each write is flushed, checked at the boundary.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";
import { valueText } from "../core/text.js";

/**
 * Throws `InvalidOptionError` unless `options.dir`, when given, is a
 * non-empty string and `options.fsync`, when given, a boolean (a string
 * `"false"` would turn flushing on). `what` names the store in the message.
 *
 * @example
 * ```ts
 * assertFileStoreOptions("LowdbStore", { dir: "", fsync: true }); // InvalidOptionError: option dir of LowdbStore must be …
 * ```
 */
export function assertFileStoreOptions(what: string, options: { readonly dir?: unknown; readonly fsync?: unknown }): void {
  const { dir, fsync } = options;
  if (dir !== undefined && (typeof dir !== "string" || dir.length === 0)) {
    throw new InvalidOptionError("dir", `of ${what} must be a non-empty folder path (got ${dir === "" ? "an empty string" : valueText(dir)})`);
  }
  if (fsync !== undefined && typeof fsync !== "boolean") {
    throw new InvalidOptionError("fsync", `of ${what} must be true or false (got ${valueText(fsync)})`);
  }
}
