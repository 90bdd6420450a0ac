/**
 * Text helpers that library code and the CLI share. Pure functions over
 * strings, no I/O; the CLI's own layout helpers (tables, local times,
 * JSON for display) stay in `src/cli/text.ts`.
 *
 * @module
 */

/**
 * Cuts `text` to `max` characters with an ellipsis (the ellipsis counts as
 * one of the `max`); text that fits is returned as it is.
 *
 * @example
 * ```ts
 * truncate("a long title", 6); // "a lon…"
 * ```
 */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/**
 * `String(value)`: a value the caller gave, as text for a message such as
 * "must be a number (got ...)". Unlike a template literal it does not throw
 * for a symbol, nor for an object that cannot be made a string (one whose
 * `toString` is not a function, as a damaged stored document may hold, or
 * one without a prototype): that reads as its kind ("an object"). A plain
 * object reads `[object Object]`; messages that should show more change
 * here, in one place.
 *
 * @example
 * ```ts
 * valueText(Infinity); // "Infinity"
 * valueText({ toString: 0 }); // "an object"
 * ```
 */
export function valueText(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Array.isArray(value) ? "a list" : "an object";
  }
}

/**
 * The first `max` of `items` as text (`text` of each) joined by
 * `separator`, then "and N more (all in `where`)" for the rest: a list in
 * an error message that stays readable (and short enough to store)
 * however many items there are. Each item is cut to
 * {@link LIST_ITEM_MAX} characters.
 *
 * @example
 * ```ts
 * listText(["a", "b", "c"], 2, "; ", "problems"); // "a; b; and 1 more (all in problems)"
 * ```
 */
export function listText<T>(items: readonly T[], max: number, separator: string, where: string, text: (item: T) => string = String): string {
  const shown = items.slice(0, max).map((item) => truncate(text(item), LIST_ITEM_MAX));
  if (items.length > max) shown.push(`and ${items.length - max} more (all in ${where})`);
  return shown.join(separator);
}

/** The longest item {@link listText} shows, in characters. */
export const LIST_ITEM_MAX = 500;
