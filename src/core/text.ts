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
