/**
 * How a stored document's shape is declared and checked: the mechanism
 * `snapshot-schema.ts` declares its shapes with. A `Shape` is made once,
 * from leaves (`string`, `time`, `count`, `oneOf`…) and combinators
 * (`fields`, `listOf`, `recordOf`), and checks a value two ways: a fast
 * pass that only says yes or no, and, when that says no, a walk that
 * names the first problem ("nodes[3].status is not a node status"; see
 * `snapshot-schema.ts` for why both). `problemOf` runs the two in that
 * order and phrases what the walk found.
 *
 * @module
 */

/** A problem with a document's shape, or undefined. */
export type ShapeProblem = string | undefined;

export type Obj = Record<string, unknown>;

/**
 * What is wrong with a value: `what` (" is not text") after the path to
 * it, whose pieces (".status", "[3]") are gathered on the way out of the
 * walk, so a value that is right costs no text at all.
 */
export interface Fault {
  readonly at: string[];
  readonly what: string;
}

/**
 * One shape, checked two ways: `ok` only says whether a value fits, as
 * fast as it can (no allocation, an object's own keys read once each);
 * `check` walks the fields in their declared order and names the first
 * problem. `ok` is the pass every document takes; `check` runs only when
 * `ok` said no, so the problem reported is the same as without `ok`. Both
 * are made from one declaration below, and `ok` is never more lenient:
 * when `ok` is true, `check` finds nothing (it is stricter where that is
 * cheaper, e.g. an object must have the plain object prototype, so what it
 * refuses goes to `check` to decide).
 */
export interface Shape {
  readonly ok: (value: unknown) => boolean;
  readonly check: (value: unknown) => Fault | undefined;
}

export const fault = (what: string): Fault => ({ at: [], what });
/** `fault` with `piece` put in front of its path. */
export const under = (piece: string, found: Fault): Fault => {
  found.at.push(piece);
  return found;
};
/** The problem phrase of `found` at the document's root `root`. */
export const phrase = (root: string, found: Fault): string => `${root}${found.at.reverse().join("")}${found.what}`;

export const isObject = (value: unknown): value is Obj => typeof value === "object" && value !== null && !Array.isArray(value);
/** An object as `JSON.parse` makes it (the fast pass takes no other: no own keys hidden from `for…in`, none inherited). */
export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
export const isCount = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
export const isTime = (value: unknown): boolean => typeof value === "number" && !Number.isNaN(value);

/** A value as a problem phrase shows it: its JSON, "missing", or (a `BigInt`, a cycle…) its type. */
export function shown(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "missing";
  } catch {
    return `a ${typeof value}`;
  }
}

/** A shape of one value, whose only problem is `what`. */
export const leaf = (ok: (value: unknown) => boolean, what: (value: unknown) => string): Shape => ({
  ok,
  check: (v) => (ok(v) ? undefined : fault(what(v))),
});
export const string = leaf(
  (v) => typeof v === "string",
  () => " is not text",
);
export const boolean = leaf(
  (v) => typeof v === "boolean",
  () => " is not true or false",
);
export const time = leaf(isTime, () => " is not a time");
export const count = leaf(isCount, () => " is not a whole number");
export const oneOf = (list: readonly string[], what: string): Shape => {
  const allowed = new Set(list);
  return leaf(
    (v) => typeof v === "string" && allowed.has(v),
    (v) => ` is not ${what} (${shown(v)})`,
  );
};
export const anyValue = leaf(
  () => true,
  () => "",
);

/** Fields of an object: required ones must be there, optional ones may be absent or undefined. */
export function fields(required: Record<string, Shape>, optional: Record<string, Shape> = {}): Shape {
  // Listed once, not at every call: a snapshot checks this for each of its records.
  const must = Object.entries(required);
  const may = Object.entries(optional);
  // For `ok`: each known key's shape, and whether it is required.
  const known = new Map<string, { shape: Shape; required: boolean }>();
  for (const [key, shape] of may) known.set(key, { shape, required: false });
  for (const [key, shape] of must) known.set(key, { shape, required: true });
  return {
    ok: (value) => {
      if (!isPlainObject(value)) return false;
      let present = 0;
      for (const key in value) {
        const field = known.get(key);
        if (field === undefined) continue;
        const v = value[key];
        if (field.required) {
          // An enumerable key on Object.prototype would reach here too: only an own one counts.
          if (!Object.hasOwn(value, key)) return false;
          present += 1;
        } else if (v === undefined) continue;
        if (!field.shape.ok(v)) return false;
      }
      return present === must.length;
    },
    check: (value) => {
      if (!isObject(value)) return fault(" is not an object");
      for (const [key, shape] of must) {
        if (!Object.hasOwn(value, key)) return fault(`.${key} is missing`);
        const found = shape.check(value[key]);
        if (found !== undefined) return under(`.${key}`, found);
      }
      for (const [key, shape] of may) {
        const field = value[key];
        if (field === undefined || !Object.hasOwn(value, key)) continue;
        const found = shape.check(field);
        if (found !== undefined) return under(`.${key}`, found);
      }
      return undefined;
    },
  };
}

export function listOf(item: Shape): Shape {
  return {
    ok: (value) => {
      if (!Array.isArray(value)) return false;
      for (let i = 0; i < value.length; i++) if (!item.ok(value[i])) return false;
      return true;
    },
    check: (value) => {
      if (!Array.isArray(value)) return fault(" is not a list");
      for (let i = 0; i < value.length; i++) {
        const found = item.check(value[i]);
        if (found !== undefined) return under(`[${i}]`, found);
      }
      return undefined;
    },
  };
}

export function recordOf(item: Shape): Shape {
  return {
    ok: (value) => {
      if (!isPlainObject(value)) return false;
      for (const key in value) if (!item.ok(value[key])) return false;
      return true;
    },
    check: (value) => {
      if (!isObject(value)) return fault(" is not an object");
      for (const key of Object.keys(value)) {
        const found = item.check(value[key]);
        if (found !== undefined) return under(`[${JSON.stringify(key)}]`, found);
      }
      return undefined;
    },
  };
}

/**
 * The problem of `value` against `shape`, phrased after `root`
 * ("summary.status is not a run status"), or undefined: the fast pass,
 * then the walk only when the fast pass said no.
 */
export function problemOf(shape: Shape, root: string, value: unknown): ShapeProblem {
  const found = shape.ok(value) ? undefined : shape.check(value);
  return found === undefined ? undefined : phrase(root, found);
}
