/**
 * Which values taskloom stores.
 *
 * The rule: a value is written only when reading it back gives a value
 * `util.isDeepStrictEqual` to it. {@link checkDurable} decides that by one
 * walk over the value, before it is recorded; a value it refuses is kept in
 * memory for the rest of the run and flagged (`OUTPUT_NOT_DURABLE`), never
 * written in a form that breaks loading. docs/durability.md ("What a node
 * may return") has the table this walk implements. The codec that writes
 * what it accepts is `stored-codec.ts`.
 *
 * Invariants: whatever {@link checkDurable} accepts, the codec writes and
 * reads back deep-equal (test/durable-values-property.test.ts); a walk
 * never changes the value; a getter or proxy trap that throws makes the walk
 * throw that error (the caller decides: a node attempt fails with it).
 *
 * @module
 */
import { binaryName, bytesOf, errorClassName, MAX_STORED_DEPTH, MAX_STORED_VALUE_CHARS } from "./stored-codec.js";

/** Whether a value can be stored, and if not, why. */
export type Durability = { readonly ok: true; readonly chars: number } | { readonly ok: false; readonly reason: string };

/**
 * Decides whether `value` is stored exactly, by one walk. Throws what a
 * getter or proxy trap of `value` throws.
 *
 * @example
 * ```ts
 * checkDurable(new Float64Array([NaN])); // { ok: true, chars: … }
 * checkDurable([1, , 3]);                // { ok: false, reason: "a sparse array (a hole at [1])" }
 * ```
 */
export function checkDurable(value: unknown, maxChars = MAX_STORED_VALUE_CHARS): Durability {
  // One walk is reused (its stacks keep their room); a walk started from inside another (a getter that checks a value) gets its own.
  const walk = spareWalk ?? new Walk();
  spareWalk = undefined;
  walk.reset(maxChars, false);
  try {
    let reason = walk.visit(value, 0);
    // The first walk counts a string as its length: JSON may write a character as six ("\u0001", a lone surrogate).
    // Only a value that could pass the limit so is walked again, its strings' escapes counted (a rare branch: a value of megabytes).
    if (reason === undefined && walk.chars * ESCAPED_CHARS > maxChars) {
      walk.reset(maxChars, true);
      reason = walk.visit(value, 0);
    }
    return reason === undefined ? { ok: true, chars: walk.chars } : { ok: false, reason };
  } finally {
    walk.reset(0, false);
    spareWalk = walk;
  }
}

let spareWalk: Walk | undefined;

/** The most characters JSON writes for one character of a string (`\u0001`, a lone surrogate `\ud800`). */
const ESCAPED_CHARS = 6;

/** What JSON escapes in a string: a quote, a backslash, a control character, a lone surrogate (a pair, matched first, is written as it is). */
// eslint-disable-next-line no-control-regex -- the control characters are what JSON escapes
const ESCAPES = /[\ud800-\udbff][\udc00-\udfff]|["\\\u0000-\u001f\ud800-\udfff]/g;
/** The control characters JSON writes in two characters (`\n`); the others take six (`\u0001`). */
const SHORT_ESCAPES = new Set(["\b", "\t", "\n", "\f", "\r", '"', "\\"]);

/** The length of `JSON.stringify(text)`: its quotes, and each escape's extra characters. */
export function jsonLength(text: string): number {
  let length = text.length + 2;
  for (const match of text.matchAll(ESCAPES)) {
    const found = match[0];
    if (found.length === 1) length += SHORT_ESCAPES.has(found) ? 1 : 5;
  }
  return length;
}

const SIMPLE_CLASSES = new Set<object>([Date.prototype, RegExp.prototype, URL.prototype, Map.prototype, Set.prototype]);

/** One step of a path: an array index (`[i]`), an object key (`.key`), or text as it is shown (`<key 0>`). */
type Step = number | string | { readonly text: string };

/**
 * The walk keeps the path to the value it visits as a stack of steps and
 * spells it (`.a[0].b`) only for a message: most values are durable, and
 * a string per visited value was a large part of what a checked value cost.
 */
class Walk {
  chars = 0;
  #max = 0;
  /** Whether a string counts as the length of its JSON ({@link jsonLength}), or, cheaper, as its own length. */
  #exact = false;
  /** The objects being visited, outermost first (a cycle is one met again). */
  readonly #open: object[] = [];
  readonly #steps: Step[] = [];

  /** Ready for a walk of at most `max` characters (and holding no value of the last one); `exact`: see {@link Walk.#exact}. */
  reset(max: number, exact: boolean): void {
    this.chars = 0;
    this.#max = max;
    this.#exact = exact;
    this.#open.length = 0;
    this.#steps.length = 0;
  }

  /** Where the visited value is, for a message. */
  #at(): string {
    let at = "";
    for (const step of this.#steps) at += typeof step === "number" ? `[${step}]` : typeof step === "string" ? `.${step}` : step.text;
    return at;
  }

  #visitAt(value: unknown, depth: number, step: Step): string | undefined {
    this.#steps.push(step);
    const r = this.visit(value, depth);
    this.#steps.pop();
    return r;
  }

  /** Undefined when durable, else why not (the path of the value is the steps pushed). */
  visit(value: unknown, depth: number): string | undefined {
    switch (typeof value) {
      case "string":
        return this.#add(this.#exact ? jsonLength(value) : value.length + 2);
      case "undefined":
      case "boolean":
      case "number":
        return this.#add(8);
      case "bigint":
        return this.#add(value.toString().length + 2);
      case "function":
        return `a function${where(this.#at())}`;
      case "symbol":
        return `a symbol${where(this.#at())}`;
    }
    if (value === null) return this.#add(4);
    const obj = value as object;
    if (depth > MAX_STORED_DEPTH) return `nesting deeper than ${MAX_STORED_DEPTH} levels${where(this.#at())}`;
    if (this.#open.includes(obj)) return `a cycle${where(this.#at())}`;
    for (const s of Object.getOwnPropertySymbols(obj)) {
      if (Object.prototype.propertyIsEnumerable.call(obj, s)) return `a symbol-keyed property${where(this.#at())}`;
    }
    const binary = ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer ? binaryName(obj) : undefined;
    if (binary !== undefined) {
      if (obj instanceof ArrayBuffer && (obj as { resizable?: boolean }).resizable === true) return `a resizable ArrayBuffer${where(this.#at())}`;
      const length = byteLength(obj as ArrayBuffer | ArrayBufferView);
      if (length === undefined) return `a detached ArrayBuffer, or a view of one (its bytes were transferred; store a copy made before)${where(this.#at())}`;
      return this.#add(Math.ceil((length * 4) / 3) + binary.length + 3);
    }
    this.#open.push(obj);
    try {
      return this.#object(obj, depth);
    } finally {
      this.#open.pop();
    }
  }

  #object(obj: object, depth: number): string | undefined {
    const proto = Object.getPrototypeOf(obj) as object | null;
    if (Array.isArray(obj)) {
      if (proto !== Array.prototype) return `an instance of an Array subclass${where(this.#at())}`;
      const n = obj.length;
      // Its brackets and commas: an array of empty arrays is all of them.
      const room = this.#add(n + 2);
      if (room !== undefined) return room;
      for (let i = 0; i < n; i++) {
        if (!(i in obj)) return `a sparse array (a hole at ${this.#at()}[${i}])`;
        const r = this.#visitAt(obj[i], depth + 1, i);
        if (r !== undefined) return r;
      }
      if (Object.keys(obj).length !== n) return `an array with properties other than its elements${where(this.#at())}`;
      return undefined;
    }
    if (proto === Object.prototype || proto === null) {
      const braces = this.#add(2);
      if (braces !== undefined) return braces;
      for (const key of Object.keys(obj)) {
        const r = this.#add((this.#exact ? jsonLength(key) : key.length + 2) + 2) ?? this.#visitAt((obj as Record<string, unknown>)[key], depth + 1, key);
        if (r !== undefined) return r;
      }
      return undefined;
    }
    if (SIMPLE_CLASSES.has(proto)) {
      if (Object.keys(obj).length > 0) return `a ${className(obj)} with own properties${where(this.#at())}`;
      if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? `an invalid Date${where(this.#at())}` : this.#add(26);
      if (obj instanceof RegExp) return obj.lastIndex !== 0 ? `a RegExp with lastIndex set${where(this.#at())}` : this.#add(obj.source.length + 8);
      if (obj instanceof URL) return this.#add(obj.href.length + 2);
      if (obj instanceof Map) {
        let i = 0;
        for (const [k, v] of obj) {
          const r = this.#visitAt(k, depth + 1, { text: `<key ${i}>` }) ?? this.#visitAt(v, depth + 1, { text: `<value ${i}>` });
          if (r !== undefined) return r;
          i++;
        }
        return undefined;
      }
      let i = 0;
      for (const v of obj as Set<unknown>) {
        const r = this.#visitAt(v, depth + 1, { text: `<${i++}>` });
        if (r !== undefined) return r;
      }
      return undefined;
    }
    if (obj instanceof Error && errorClassName(obj) !== undefined) {
      const e = obj as Error & { cause?: unknown };
      if (typeof e.message !== "string") return `an Error whose message is not a string${where(this.#at())}`;
      if (Object.hasOwn(e, "stack") && typeof e.stack !== "string") return `an Error whose stack is not a string${where(this.#at())}`;
      if (Object.hasOwn(e, "name") && typeof e.name !== "string") return `an Error whose name is not a string${where(this.#at())}`;
      const r =
        this.#add(e.message.length + (e.stack?.length ?? 0) + 40) ?? (Object.hasOwn(e, "cause") ? this.#visitAt(e.cause, depth + 1, "cause") : undefined);
      if (r !== undefined) return r;
      for (const key of Object.keys(e)) {
        const f = this.#visitAt((e as unknown as Record<string, unknown>)[key], depth + 1, key);
        if (f !== undefined) return f;
      }
      return undefined;
    }
    return `an instance of ${className(obj)}${where(this.#at())} (only plain objects, arrays, Date, Map, Set, RegExp, URL, built-in errors and binary data are stored)`;
  }

  #add(chars: number): string | undefined {
    this.chars += chars;
    if (this.chars > this.#max) {
      const at = this.#at();
      return `more than ${Math.round(this.#max / (1024 * 1024))} MiB once serialized${at === "" ? "" : ` (the limit was passed at ${at})`}`;
    }
    return undefined;
  }
}

/**
 * The byte length of a binary value, or undefined when its bytes cannot be
 * read: a detached buffer (transferred by `structuredClone` or
 * `postMessage`), which reads as 0 bytes here and throws when the codec
 * copies it, or a `DataView` out of its resizable buffer's bounds, whose
 * `byteLength` throws. Only an empty one is tried (Node 20 has no
 * `ArrayBuffer.prototype.detached`).
 */
function byteLength(value: ArrayBuffer | ArrayBufferView): number | undefined {
  try {
    const length = value.byteLength;
    if (length === 0) bytesOf(value);
    return length;
  } catch {
    return undefined;
  }
}

function where(at: string): string {
  return at === "" ? "" : ` at ${at}`;
}

function className(obj: object): string {
  try {
    const ctor = (Object.getPrototypeOf(obj) as { constructor?: { name?: unknown } } | null)?.constructor;
    return typeof ctor?.name === "string" && ctor.name !== "" ? ctor.name : "an unnamed class";
  } catch {
    return "an unknown class";
  }
}
