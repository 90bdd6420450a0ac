/**
 * Refusing options nobody reads. An options object with a key that no
 * code looks at is almost always a typo (`timeoutMS` for `timeoutMs`), and
 * accepting it silently means the setting the user believes in does not
 * exist. Every options object taskloom takes at its boundary goes through
 * {@link assertKnownKeys}, which names the closest known key the way the
 * CLI does.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";

/**
 * Throws {@link InvalidOptionError} when `options` has an own key that is
 * not in `known`, naming the closest known key when one is near.
 *
 * @param what - how the message names the options object, e.g. `node "fetch"`; the error's `option` is the unknown key
 */
export function assertKnownKeys(what: string, options: object, known: Iterable<string>): void {
  const knownKeys = [...known];
  for (const key of Object.keys(options)) {
    if (knownKeys.includes(key)) continue;
    const hint = closest(key, knownKeys);
    throw new InvalidOptionError(
      key,
      `of ${what} is not known${hint === undefined ? "" : ` (did you mean ${JSON.stringify(hint)}?)`}; known options: ${knownKeys.join(", ")}`,
    );
  }
}

/**
 * The candidate nearest to `word` (case-insensitive edit distance), when it
 * is near enough to be a likely typo: at most a third of the word's length,
 * and at least one edit allowed.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, two rows of memory. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}
