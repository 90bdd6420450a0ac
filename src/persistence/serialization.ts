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

/** Serializes any durable value to text. */
export function serialize(value: unknown): string {
  return superjson.stringify(value);
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
