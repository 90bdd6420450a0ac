/**
 * Refusing options nobody reads. An options object with a key that no
 * code looks at is almost always a typo (`timeoutMS` for `timeoutMs`), and
 * accepting it silently means the setting the user believes in does not
 * exist. Every options object taskloom takes at its boundary goes through
 * {@link assertKnownKeys}, which names the closest known key the way the
 * CLI does; validators that collect every problem of a definition (graph
 * specs, workflows, graphify tasks) use {@link unknownKeyProblems} for the
 * same sentence.
 *
 * Known-key lists are written with {@link optionKeys}, whose argument must
 * name every key of the options interface and nothing else, so the list
 * cannot drift from the type: a key added to the interface and not to the
 * list is a compile error.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";

/**
 * The keys of options type `T`, checked against it at compile time: pass
 * an object literal with every key of `T` set to `true` (a missing or an
 * extra key does not compile).
 *
 * @example
 * ```ts
 * const WAIT_KEYS = optionKeys<WaitOptions<unknown>>({ timeoutMs: true, schema: true });
 * ```
 */
export function optionKeys<T extends object>(keys: { readonly [K in keyof Required<T>]: true }): readonly string[] {
  return Object.freeze(Object.keys(keys));
}

/** One unknown key, with the known key it most likely meant. */
export interface UnknownKey {
  readonly key: string;
  readonly hint: string | undefined;
}

/** The own keys of `options` that are not in `known`, in order, each with its did-you-mean hint. */
export function unknownKeys(options: object, known: Iterable<string>): UnknownKey[] {
  const knownKeys = [...known];
  return Object.keys(options)
    .filter((key) => !knownKeys.includes(key))
    .map((key) => ({ key, hint: closest(key, knownKeys) }));
}

/** `(did you mean "x"?); known options: a, b` (or `; it takes no options`): the tail of every unknown-key message. */
export function unknownKeyAdvice(unknown: UnknownKey, known: Iterable<string>, noun = "option"): string {
  const knownKeys = [...known];
  const hint = unknown.hint === undefined ? "" : ` (did you mean ${JSON.stringify(unknown.hint)}?)`;
  return `${hint}; ${knownKeys.length === 0 ? `it takes no ${noun}s` : `known ${noun}s: ${knownKeys.join(", ")}`}`;
}

/**
 * Throws {@link InvalidOptionError} when `options` has an own key that is
 * not in `known`, naming the closest known key when one is near (or when
 * `options` is not an object at all).
 *
 * @param what - how the message names the options object, e.g. `node "fetch"`; the error's `option` is the unknown key
 */
export function assertKnownKeys(what: string, options: unknown, known: Iterable<string>): void {
  if (options === null || typeof options !== "object") throw new InvalidOptionError(`${what} options`, "must be an object");
  const knownKeys = [...known];
  const [first] = unknownKeys(options, knownKeys);
  if (first === undefined) return;
  throw new InvalidOptionError(first.key, `of ${what} is not known${unknownKeyAdvice(first, knownKeys)}`);
}

/**
 * Every unknown key of `options` as one sentence each, for validators that
 * collect problems: `<what>: unknown option "x" (did you mean "y"?); known options: …`
 * (no `<what>: ` when `what` is empty).
 */
export function unknownKeyProblems(what: string, options: object, known: Iterable<string>, noun = "option"): string[] {
  const knownKeys = [...known];
  return unknownKeys(options, knownKeys).map(
    (u) => `${what === "" ? "" : `${what}: `}unknown ${noun} ${JSON.stringify(u.key)}${unknownKeyAdvice(u, knownKeys, noun)}`,
  );
}

/**
 * The candidate nearest to `word`, when it is near enough to be a likely
 * typo: within a third of the word's length in case-insensitive edits
 * (a swap of two neighbours is one edit; at least one edit allowed), or
 * sharing with it a prefix of at least 4 characters and three quarters of
 * the shorter one (`numRetry` for `numRetries`, `retries` for `retry`).
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
  if (best !== undefined) return best;
  let bestPrefix = 0;
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    let p = 0;
    while (p < lower.length && p < other.length && lower[p] === other[p]) p++;
    if (p >= 4 && p >= 0.75 * Math.min(lower.length, other.length) && p > bestPrefix) {
      best = candidate;
      bestPrefix = p;
    }
  }
  return best;
}

/** Edit distance with swaps of neighbours (optimal string alignment), three rows of memory. */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      current[j] = d;
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}
