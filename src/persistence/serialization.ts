/**
 * How run data becomes text and back: superjson, so `Date`, `Map`, `Set`,
 * `BigInt`, `RegExp`, `URL`, `Error` and `undefined` survive a round trip.
 *
 * {@link isDurable} decides, before a node's output is recorded, whether
 * it can be stored faithfully. Functions, symbols, class instances that
 * superjson does not know, and cycles cannot; such an output is kept in
 * memory for the rest of the run but not stored, and the node runs again
 * on resume.
 *
 * @module
 */
import superjson from "superjson";

/**
 * Serializes any durable value to text. A value that is plain JSON (no
 * `Date`, `Map`, `undefined`, non-finite number…) takes a fast path:
 * `JSON.stringify` inside the same `{"json": …}` envelope superjson writes
 * for such a value, so {@link deserialize} reads both alike. superjson's
 * own walk costs several times more, and run records are nearly always plain.
 */
export function serialize(value: unknown): string {
  if (isPlainJson(value, 0)) return `{"json":${JSON.stringify(value)}}`;
  return superjson.stringify(value);
}

/** True when `JSON.stringify` round-trips `value` exactly. */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth > 64) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) {
        if (key === "__proto__" || !isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
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
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key], seen);
      out = sorted;
    }
  }
  seen.delete(value);
  return out;
}

/** Parses text written by {@link serialize}. Throws on text that is not valid. */
export function deserialize<T = unknown>(text: string): T {
  return superjson.parse<T>(text);
}

const MAX_DEPTH = 200;

/**
 * True when `value` survives {@link serialize} and {@link deserialize}
 * unchanged in meaning. Cost: one walk over the value.
 */
export function isDurable(value: unknown): boolean {
  return walk(value, new Set(), 0);
}

function walk(value: unknown, seen: Set<object>, depth: number): boolean {
  switch (typeof value) {
    case "undefined":
    case "boolean":
    case "number":
    case "string":
    case "bigint":
      return true;
    case "function":
    case "symbol":
      return false;
  }
  if (value === null) return true;
  const obj = value as object;
  if (depth > MAX_DEPTH || seen.has(obj)) return false;
  if (obj instanceof Date || obj instanceof RegExp || obj instanceof URL) return true;
  if (ArrayBuffer.isView(obj)) return true;
  seen.add(obj);
  let ok = true;
  if (Array.isArray(obj)) {
    for (const item of obj) if (!(ok = walk(item, seen, depth + 1))) break;
  } else if (obj instanceof Map) {
    for (const [k, v] of obj) if (!(ok = walk(k, seen, depth + 1) && walk(v, seen, depth + 1))) break;
  } else if (obj instanceof Set) {
    for (const v of obj) if (!(ok = walk(v, seen, depth + 1))) break;
  } else if (obj instanceof Error) {
    ok = true;
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) ok = false;
    else for (const key of Object.keys(obj)) if (!(ok = walk((obj as Record<string, unknown>)[key], seen, depth + 1))) break;
  }
  seen.delete(obj);
  return ok;
}
