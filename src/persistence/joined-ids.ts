/**
 * A chunk's ids as one text (snapshot format version 3, `node-columns.ts`):
 * what joins them, and the joined texts of a graph's order, kept. A
 * resumed run's graph holds the same ids in the same order as its stored
 * chunks, so a load compares each chunk's id text with the graph's ids
 * joined, and a new run's chunks are made of them (`pending-chunks.ts`);
 * a graph's order is frozen, so its texts are joined once and kept for
 * every later run or resume of that graph.
 *
 * @module
 */

/** What joins the ids of a chunk whose id column is one text (none of them holds it). */
export const ID_SEPARATOR = "\n";

/** Slices of one order are kept under `first * SLICE_KEY + count`: a chunk holds far fewer than 2^24 ids. */
const SLICE_KEY = 2 ** 24;

/** Joined id texts of frozen orders (a graph's), by the slice they join: a graph resumed again joins nothing. */
const JOINED = new WeakMap<readonly string[], Map<number, string>>();

/**
 * `order`'s ids from position `first`, `count` of them, joined as a
 * chunk's id text is, or undefined when `order` is shorter.
 *
 * @example
 * ```ts
 * const own = typeof chunk.id === "string" && chunk.id === joinedIds(graph.order, first, chunk.status.length);
 * ```
 */
export function joinedIds(order: readonly string[], first: number, count: number): string | undefined {
  if (first + count > order.length) return undefined;
  // A frozen list cannot change, so its text can be kept.
  const frozen = Object.isFrozen(order);
  const key = first * SLICE_KEY + count;
  const kept = frozen ? JOINED.get(order)?.get(key) : undefined;
  if (kept !== undefined) return kept;
  const text = (first === 0 && count === order.length ? order : order.slice(first, first + count)).join(ID_SEPARATOR);
  if (frozen) {
    let texts = JOINED.get(order);
    if (texts === undefined) JOINED.set(order, (texts = new Map<number, string>()));
    texts.set(key, text);
  }
  return text;
}
