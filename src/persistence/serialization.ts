/**
 * How run data becomes text and back: a private superjson instance (the
 * codec of `core/durable-value.ts`), so `Date`, `Map`, `Set`, `BigInt`,
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
import { codec, isGuardedKey } from "../core/durable-value.js";

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
 *
 * @throws ValueNotStorableError when the value cannot be written (a getter
 * that throws, text longer than the engine's longest string).
 */
export function serialize(value: unknown): string {
  try {
    const walk: PlainWalk = { path: [], undefinedAt: [] };
    if (value !== undefined && isPlain(value, walk)) return `{"json":${plainJson(value, walk)}${annotations(walk)}}`;
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
  const walk: PlainWalk = { path: [], undefinedAt: [] };
  let plain: boolean;
  try {
    plain = Array.isArray(list) && list.length > perPiece && Object.keys(value).at(-1) === listKey && isPlain(value, walk);
  } catch (error) {
    throw new ValueNotStorableError("a value", error);
  }
  if (!plain) {
    yield serialize(value);
    return;
  }
  const items = list as readonly unknown[];
  const replacer = walk.undefinedAt.length === 0 ? undefined : undefinedAsNull;
  try {
    // `{…,"list":[]}` without its "[]}": the value's other keys, in their order, then the list's opening bracket.
    const head = JSON.stringify({ ...value, [listKey]: [] }, replacer);
    yield `{"json":${head.slice(0, -2)}`;
    for (let start = 0; start < items.length; start += perPiece) {
      const text = JSON.stringify(items.slice(start, start + perPiece), replacer);
      yield `${start === 0 ? "" : ","}${text.slice(1, -1)}`;
    }
    yield `]}${annotations(walk)}}`;
  } catch (error) {
    throw new ValueNotStorableError("a value", error);
  }
}

/** `value` as JSON, once {@link isPlainJson} said it may be (an `undefined` written as `null`, as superjson writes it). */
function plainJson(value: unknown, walk: PlainWalk): string {
  return walk.undefinedAt.length === 0 ? JSON.stringify(value) : JSON.stringify(value, undefinedAsNull);
}

/** The superjson annotations of a plain value: `,"meta":{…}` naming its `undefined`s, or nothing. */
function annotations(walk: PlainWalk): string {
  if (walk.undefinedAt.length === 0) return "";
  const values: Record<string, ["undefined"]> = {};
  for (const path of walk.undefinedAt) values[path] = ["undefined"];
  return `,"meta":${JSON.stringify({ values, v: 1 })}`;
}

/** Where {@link isPlainJson} is, and the superjson paths of the `undefined`s it met. */
interface PlainWalk {
  /** Keys and array indexes (kept as numbers: a string per element of a million-record list is garbage nothing needs). */
  readonly path: (string | number)[];
  readonly undefinedAt: string[];
}

/** `JSON.stringify`'s replacer that writes `undefined` (a field or an element) as `null`, as superjson does. */
function undefinedAsNull(_key: string, value: unknown): unknown {
  return value === undefined ? null : value;
}

/** A path as superjson writes it: keys joined with ".", where a key's "\\" and "." are escaped. */
function superjsonPath(path: readonly (string | number)[]): string {
  return path.map((key) => String(key).replace(/\\/g, "\\\\").replace(/\./g, "\\.")).join(".");
}

/**
 * {@link isPlainJson}, most often without its paths: a first walk that
 * keeps none (a journal record, a snapshot of records without
 * `undefined`: most values) answers alone; only a value with an
 * `undefined` in it is walked again, with paths, to name them.
 */
function isPlain(value: unknown, walk: PlainWalk): boolean {
  const quick = quickPlain(value, 0);
  return quick === PLAIN || (quick === HAS_UNDEFINED && isPlainJson(value, 0, walk));
}

const NOT_PLAIN = 0;
const PLAIN = 1;
const HAS_UNDEFINED = 2;

/** {@link isPlainJson} without paths: it stops at the first value `JSON.stringify` cannot take (`NOT_PLAIN`) or at the first `undefined` (`HAS_UNDEFINED`). */
function quickPlain(value: unknown, depth: number): typeof NOT_PLAIN | typeof PLAIN | typeof HAS_UNDEFINED {
  switch (typeof value) {
    case "string":
    case "boolean":
      return PLAIN;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0) ? PLAIN : NOT_PLAIN;
    case "undefined":
      return HAS_UNDEFINED;
    case "object": {
      if (value === null) return PLAIN;
      if (depth > 64) return NOT_PLAIN;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return NOT_PLAIN;
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) return NOT_PLAIN;
          const found = quickPlain(value[i], depth + 1);
          if (found !== PLAIN) return found;
        }
        return PLAIN;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return NOT_PLAIN;
      for (const key in value) {
        if (isGuardedKey(key)) return NOT_PLAIN;
        const found = quickPlain((value as Record<string, unknown>)[key], depth + 1);
        if (found !== PLAIN) return found;
      }
      return PLAIN;
    }
    default:
      return NOT_PLAIN;
  }
}

/** True when `JSON.stringify` round-trips `value` exactly, `undefined` fields and elements apart (collected in `walk`). */
function isPlainJson(value: unknown, depth: number, walk: PlainWalk): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "undefined":
      // Only inside an object or array (the caller refuses a bare undefined).
      walk.undefinedAt.push(superjsonPath(walk.path));
      return true;
    case "object": {
      if (value === null) return true;
      if (depth > 64) return false;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return false;
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) return false;
          walk.path.push(i);
          const ok = isPlainJson(value[i], depth + 1, walk);
          walk.path.pop();
          if (!ok) return false;
        }
        return true;
      }
      // A null prototype, or an own key superjson guards, takes the codec's exact path.
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      for (const key in value) {
        if (isGuardedKey(key)) return false;
        walk.path.push(key);
        const ok = isPlainJson((value as Record<string, unknown>)[key], depth + 1, walk);
        walk.path.pop();
        if (!ok) return false;
      }
      return true;
    }
    default:
      return false;
  }
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
