/**
 * How run data becomes text and back: a private superjson instance (the
 * codec of `core/stored-codec.ts`), so `Date`, `Map`, `Set`, `BigInt`,
 * `RegExp`, `URL`, built-in errors, binary data and `undefined` survive a
 * round trip, and objects with an own `__proto__` key are stored as data.
 *
 * Whether a value can be stored exactly is decided before it is recorded,
 * by `isDurable` in `core/value-codec.ts` (the engine needs it, and sits
 * below persistence). {@link serialize} never throws
 * anything but {@link ValueNotStorableError}, so a value it cannot write is
 * never mistaken for a disk problem.
 *
 * @module
 */
import { ValueNotStorableError } from "../engine/errors.js";
import { codec, isGuardedKey } from "../core/stored-codec.js";

/**
 * Serializes any durable value to text. A value that is plain JSON (no
 * `Date`, `Map`, non-finite number…) takes a fast path: `JSON.stringify`
 * inside the same `{"json": …}` envelope superjson writes for such a
 * value, so {@link deserialize} reads both alike. `undefined` (an object
 * field or array element) stays on the fast path too: it is written as
 * `null` with the annotation superjson itself writes for it
 * (`"meta":{"values":{"path":["undefined"]},"v":1}`), so one such field
 * (a run's absent inputs, a node that returned nothing) no longer sends a
 * whole snapshot through superjson's walk, which costs several times more.
 * Nor through a `JSON.stringify` replacer, which takes V8 off its fast
 * path for the whole value: the check finds where the `undefined`s are, a
 * small branch that holds one is written as a copy with `null` in their
 * place (shallow copies along their paths only), and a big one
 * (a snapshot whose meta has one) is split at them, every other part
 * written by `JSON.stringify` alone (a 10,000-node snapshot: about 40%
 * less time).
 *
 * @throws ValueNotStorableError when the value cannot be written (a getter
 * that throws, text longer than the engine's longest string).
 */
export function serialize(value: unknown): string {
  try {
    const scan = value === undefined ? false : scanPlain(value, 0);
    if (scan !== false) return `{"json":${plainJson(value, scan)}${annotations(scan)}}`;
    return JSON.stringify(codec.serialize(value));
  } catch (error) {
    throw new ValueNotStorableError("a value", error);
  }
}

/** Records per piece of {@link serializeInPieces}: a piece of a run's snapshot is then about a megabyte or two. */
export const PIECE_ITEMS = 10_000;

/**
 * {@link serialize} of an object whose last key holds a long list (a
 * snapshot's `nodes`), as pieces of text: their concatenation is exactly
 * `serialize(value)`, byte for byte, so every reader reads it alike; only
 * one piece of `perPiece` items is made at a time, so a million-record
 * snapshot never becomes one string (and one buffer) of hundreds of
 * megabytes. The whole value is checked first, as `serialize` checks it:
 * a value the JSON fast path cannot take (a `Date`, a `Map`…), or a list
 * that is short, or not the last key, is one piece, `serialize(value)`.
 * Lazy: a piece is made when it is asked for.
 *
 * @throws ValueNotStorableError (when asked for the first piece) as {@link serialize} does.
 */
export function* serializeInPieces<T extends object>(value: T, listKey: keyof T & string, perPiece = PIECE_ITEMS): Generator<string, void, undefined> {
  const list: unknown = value[listKey];
  let scan: Scan = false;
  try {
    if (Array.isArray(list) && list.length > perPiece && Object.keys(value).at(-1) === listKey) scan = scanPlain(value, 0);
  } catch (error) {
    throw new ValueNotStorableError("a value", error);
  }
  if (scan === false) {
    yield serialize(value);
    return;
  }
  const items = list as readonly unknown[];
  // Where the list's `undefined`s are, by index (a piece without any is written by JSON.stringify alone).
  const inList = scan === true ? undefined : scan.at.find(([key]) => key === listKey)?.[1];
  try {
    // `{…,"list":[]}` without its "[]}": the value's other keys, in their order, then the list's opening bracket.
    const head = plainJson({ ...value, [listKey]: [] }, scan === true ? true : { at: scan.at.filter(([key]) => key !== listKey), size: 0 });
    yield `{"json":${head.slice(0, -2)}`;
    for (let start = 0; start < items.length; start += perPiece) {
      const end = Math.min(items.length, start + perPiece);
      const text = inList === undefined || inList === UNDEFINED ? JSON.stringify(items.slice(start, end)) : arrayJson(items, inList, start, end);
      yield `${start === 0 ? "" : ","}${text.slice(1, -1)}`;
    }
    yield `]}${annotations(scan)}}`;
  } catch (error) {
    throw new ValueNotStorableError("a value", error);
  }
}

/**
 * What {@link scanPlain} found: `false`, not plain JSON; `true`, plain
 * JSON without any `undefined`; else plain JSON with `undefined`s, as the
 * list of the children (keys or indexes, in `JSON.stringify`'s order) that
 * are `undefined` ({@link UNDEFINED}) or hold one (their own list). Only
 * the branches that lead to an `undefined` are listed, so a value without
 * any costs no path, and the text of every other branch is
 * `JSON.stringify`'s own, without a replacer (which would take V8 off its
 * fast path for the whole value).
 */
type Scan = boolean | UndefinedAt;
interface UndefinedAt {
  /** The children that are `undefined` or hold one, in order. */
  readonly at: [key: string | number, inner: typeof UNDEFINED | UndefinedAt][];
  /** How many values the branch holds (itself included): a small one is written in one `JSON.stringify` with a replacer. */
  readonly size: number;
}
const UNDEFINED = 0;
/** Branches of at most this many values are written as one copy with `null`s (one call) rather than split at their `undefined`s. */
const SMALL_BRANCH = 512;
/** Values {@link scanPlain} has visited (for {@link UndefinedAt.size}). */
let visited = 0;

/** Whether `JSON.stringify` round-trips `value` exactly, `undefined` fields and elements apart (see {@link Scan}). */
function scanPlain(value: unknown, depth: number): Scan {
  visited += 1;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth > 64) return false;
      const first = visited;
      let found: UndefinedAt["at"] | undefined;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return false;
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) return false;
          const item: unknown = value[i];
          // A leaf is judged here, as scanPlain judges one: most values are leaves, and a call each was most of a scan's cost before the code is optimized.
          const type = typeof item;
          if (type === "string" || type === "boolean" || item === null) visited += 1;
          else if (type === "number") {
            if (!Number.isFinite(item) || Object.is(item, -0)) return false;
            visited += 1;
          } else if (item === undefined) (found ??= []).push([i, UNDEFINED]);
          else {
            const inner = scanPlain(item, depth + 1);
            if (inner === false) return false;
            if (inner !== true) (found ??= []).push([i, inner]);
          }
        }
        return found === undefined ? true : { at: found, size: visited - first + 1 };
      }
      // A null prototype, or an own key superjson guards, takes the codec's exact path.
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      for (const key in value) {
        if (isGuardedKey(key)) return false;
        const item = (value as Record<string, unknown>)[key];
        const type = typeof item;
        if (type === "string" || type === "boolean" || item === null) visited += 1;
        else if (type === "number") {
          if (!Number.isFinite(item) || Object.is(item, -0)) return false;
          visited += 1;
        } else if (item === undefined) (found ??= []).push([key, UNDEFINED]);
        else {
          const inner = scanPlain(item, depth + 1);
          if (inner === false) return false;
          if (inner !== true) (found ??= []).push([key, inner]);
        }
      }
      return found === undefined ? true : { at: found, size: visited - first + 1 };
    }
    default:
      // A bare `undefined` only reaches here as the whole value, which the callers refuse; functions, symbols, bigints.
      return false;
  }
}

/**
 * Whether `value`, found at `depth` in a value given to {@link serialize},
 * is written there by `JSON.stringify` alone: plain JSON without any
 * `undefined` (so superjson would add no annotation for it). The depth
 * counts as {@link serialize}'s own walk does: past 64 nested objects the
 * codec's path is taken.
 */
export function isPlainJson(value: unknown, depth: number): boolean {
  return scanPlain(value, depth) === true;
}

/** `value` as JSON, once {@link scanPlain} said it may be (`scan`, not false): an `undefined` is written as `null`, as superjson writes it. */
function plainJson(value: unknown, scan: Exclude<Scan, false>): string {
  if (scan === true) return JSON.stringify(value);
  if (scan.size <= SMALL_BRANCH) return JSON.stringify(withNulls(value, scan));
  if (Array.isArray(value)) return arrayJson(value, scan, 0, value.length);
  const inner = new Map(scan.at);
  let text = "";
  for (const key of Object.keys(value as object)) {
    const at = inner.get(key);
    const item = (value as Record<string, unknown>)[key];
    text += `${text === "" ? "" : ","}${JSON.stringify(key)}:${at === undefined ? JSON.stringify(item) : at === UNDEFINED ? "null" : plainJson(item, at)}`;
  }
  return `{${text}}`;
}

/** The JSON of `items.slice(start, end)`, whose `undefined`s are `scan`'s (indexes into `items`): runs without any are one `JSON.stringify` each. */
function arrayJson(items: readonly unknown[], scan: UndefinedAt, start: number, end: number): string {
  const parts: string[] = [];
  let from = start;
  for (const [index, at] of scan.at) {
    const i = index as number;
    if (i < start || i >= end) continue;
    if (i > from) parts.push(JSON.stringify(items.slice(from, i)).slice(1, -1));
    parts.push(at === UNDEFINED ? "null" : plainJson(items[i], at));
    from = i + 1;
  }
  if (from < end) parts.push(JSON.stringify(items.slice(from, end)).slice(1, -1));
  return `[${parts.join(",")}]`;
}

/** The superjson annotations of a plain value: `,"meta":{…}` naming its `undefined`s, or nothing. */
function annotations(scan: Exclude<Scan, false>): string {
  if (scan === true) return "";
  const values: Record<string, ["undefined"]> = {};
  const walk = (at: UndefinedAt, prefix: string): void => {
    for (const [key, inner] of at.at) {
      const path = `${prefix}${superjsonKey(key)}`;
      if (inner === UNDEFINED) values[path] = ["undefined"];
      else walk(inner, `${path}.`);
    }
  };
  walk(scan, "");
  return `,"meta":${JSON.stringify({ values, v: 1 })}`;
}

/**
 * A copy of the branches of `value` that hold `undefined`s (`scan`'s),
 * each `undefined` replaced by `null`, the rest shared: `JSON.stringify`
 * writes it as superjson writes `value`, without a replacer. A replacer
 * (`undefined` as `null`) gave the same text, but calls back into
 * JavaScript for every value of the branch and takes V8 off its fast path:
 * a run's meta with absent inputs (every snapshot of such a run, its end's
 * record) cost several times its copy. A spread or a slice keeps the keys
 * and elements in their order, and a field set again keeps its place.
 */
function withNulls(value: unknown, scan: UndefinedAt): unknown {
  const copy = (Array.isArray(value) ? value.slice() : { ...(value as object) }) as Record<string | number, unknown>;
  for (const [key, inner] of scan.at) copy[key] = inner === UNDEFINED ? null : withNulls((value as Record<string | number, unknown>)[key], inner);
  return copy;
}

/** A key as superjson writes it in a path: its "\\" and "." escaped. */
function superjsonKey(key: string | number): string {
  if (typeof key === "number") return String(key);
  return key.includes(".") || key.includes("\\") ? key.replace(/\\/g, "\\\\").replace(/\./g, "\\.") : key;
}

/**
 * True when `a` and `b` serialize alike once the keys of plain objects are
 * put in one order: `{ a, b }` and `{ b, a }` are the same value (key order
 * carries no meaning there), while the order of arrays, `Map`s and `Set`s
 * does. Used to tell whether a resume was given the run's inputs.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  return serialize(sortKeys(a, new Set())) === serialize(sortKeys(b, new Set()));
}

/** A copy of `value` whose plain objects list their keys in sorted order (cycles are left as they are). */
function sortKeys(value: unknown, seen: Set<object>): unknown {
  if (value === null || typeof value !== "object" || seen.has(value)) return value;
  seen.add(value);
  let out: unknown = value;
  if (Array.isArray(value)) out = value.map((v) => sortKeys(v, seen));
  else if (value instanceof Map) out = new Map([...value].map(([k, v]) => [sortKeys(k, seen), sortKeys(v, seen)]));
  else if (value instanceof Set) out = new Set([...value].map((v) => sortKeys(v, seen)));
  else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      const sorted: Record<string, unknown> = proto === null ? (Object.create(null) as Record<string, unknown>) : {};
      for (const key of Object.keys(value).sort()) {
        // defineProperty: an own "__proto__" key stays a key and never sets the copy's prototype.
        Object.defineProperty(sorted, key, {
          value: sortKeys((value as Record<string, unknown>)[key], seen),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      out = sorted;
    }
  }
  seen.delete(value);
  return out;
}

/** Parses text written by {@link serialize}. Throws on text that is not valid. */
export function deserialize<T = unknown>(text: string): T {
  return fromDocument<T>(JSON.parse(text));
}

/**
 * Reads a parsed superjson document (`{ json, meta? }`), as
 * {@link deserialize} does after `JSON.parse`. Throws on annotations that
 * are not valid.
 */
export function fromDocument<T = unknown>(document: unknown): T {
  return codec.deserialize<T>(document as Parameters<typeof codec.deserialize>[0], { inPlace: true });
}
