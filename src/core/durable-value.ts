/**
 * Which values taskloom stores, and the codec that stores them.
 *
 * The rule: a value is written only when reading it back gives a value
 * `util.isDeepStrictEqual` to it. {@link checkDurable} decides that by one
 * walk over the value, before it is recorded; a value it refuses is kept in
 * memory for the rest of the run and flagged (`OUTPUT_NOT_DURABLE`), never
 * written in a form that breaks loading. docs/durability.md ("What a node
 * may return") has the table this walk implements.
 *
 * The codec is a private superjson instance (so an application's own use
 * of superjson is not changed) with three custom transformers that make
 * more values exact than superjson alone:
 * - `tl:bytes`: `Buffer`, every typed array, `DataView`, `ArrayBuffer`, as
 *   their bytes (base64), so `NaN` payloads, `-0` and 64-bit integers survive;
 * - `tl:object`: a plain object with an own `__proto__`, `constructor` or
 *   `prototype` key, or a null prototype, as a nested document of its entries:
 *   superjson refuses such keys (a pollution guard), and the entries are
 *   rebuilt with `defineProperty`, so no prototype is ever touched on load;
 * - `tl:error`: an instance of a built-in error class (not a subclass), with
 *   its message, name, stack, cause and own enumerable fields.
 * The last two nest a whole document, so superjson's reference paths never
 * cross them (a shared object inside is stored as a copy: equal, not identical).
 *
 * Invariants: whatever {@link checkDurable} accepts, the codec writes and
 * reads back deep-equal (test/durable-values-property.test.ts); a walk
 * never changes the value; a getter or proxy trap that throws makes the walk
 * throw that error (the caller decides: a node attempt fails with it).
 *
 * @module
 */
import SuperJSON from "superjson";

type JSONValue = Parameters<typeof SuperJSON.deserialize>[0]["json"];
type SuperJSONValue = Parameters<typeof SuperJSON.serialize>[0];

/** The largest value stored, in characters of serialized text (about 64 MiB). */
export const MAX_STORED_VALUE_CHARS = 64 * 1024 * 1024;

/** Nesting deeper than this is not stored. */
export const MAX_STORED_DEPTH = 200;

/** The codec every store writes with. */
export const codec = new SuperJSON();

type BinaryCtor = { new (buffer: ArrayBufferLike): ArrayBufferView; readonly BYTES_PER_ELEMENT?: number };

const BINARY: Record<string, { proto: object; make: (bytes: Buffer) => unknown }> = {};
function binary(name: string, proto: object, make: (bytes: Buffer) => unknown): void {
  BINARY[name] = { proto, make };
}
/** A fresh, exactly sized ArrayBuffer holding `bytes` (a Buffer may sit on a shared pool). */
const own = (bytes: Buffer): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
for (const ctor of [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as unknown as BinaryCtor[]) {
  binary((ctor as unknown as { name: string }).name, (ctor as unknown as { prototype: object }).prototype, (bytes) => new ctor(own(bytes)));
}
binary("Buffer", Buffer.prototype as object, (bytes) => Buffer.from(bytes));
binary("DataView", DataView.prototype, (bytes) => new DataView(own(bytes)));
binary("ArrayBuffer", ArrayBuffer.prototype, (bytes) => own(bytes));

const BINARY_NAME = new Map<object, string>(Object.entries(BINARY).map(([name, b]) => [b.proto, name]));

/** The name of `value`'s exact binary type, or undefined. */
function binaryName(value: object): string | undefined {
  return BINARY_NAME.get(Object.getPrototypeOf(value) as object);
}

function bytesOf(value: ArrayBufferView | ArrayBuffer): Buffer {
  return ArrayBuffer.isView(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : Buffer.from(value);
}

codec.registerCustom<ArrayBufferView | ArrayBuffer, string>(
  {
    isApplicable: (v): v is ArrayBufferView | ArrayBuffer => (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) && binaryName(v) !== undefined,
    serialize: (v) => `${binaryName(v)}:${bytesOf(v).toString("base64")}`,
    deserialize: (text) => {
      const colon = text.indexOf(":");
      const type = BINARY[text.slice(0, colon)];
      if (!type) throw new Error(`unknown binary type "${text.slice(0, colon)}"`);
      return type.make(Buffer.from(text.slice(colon + 1), "base64")) as ArrayBufferView;
    },
  },
  "tl:bytes",
);

/**
 * A nested document, carried through the outer walk untouched: superjson
 * walks what a transformer of a plain object or an error returns, and
 * walking nested documents again at every level would cost the cube of the
 * nesting depth. Wrapped, the outer walk sees one leaf.
 */
class Nested {
  constructor(readonly doc: JSONValue) {}
}
codec.registerCustom<Nested, JSONValue>(
  {
    isApplicable: (v): v is Nested => v instanceof Nested,
    serialize: (v) => v.doc,
    deserialize: (doc) => new Nested(doc),
  },
  "tl:nested",
);

/** Registers a transformer whose output superjson walks further (it may hold {@link Nested} leaves). */
function register<I, O>(transformer: { isApplicable: (v: unknown) => v is I; serialize: (v: I) => O; deserialize: (o: O) => I }, name: string): void {
  codec.registerCustom(transformer as never, name);
}

/** Serializes `value` as a nested document. */
function nest(value: unknown): Nested {
  return new Nested(codec.serialize(value as SuperJSONValue) as unknown as JSONValue);
}

/** Reads a nested document (parsed JSON, owned by the caller, so read in place). */
function unnest(value: unknown): unknown {
  if (!(value instanceof Nested)) throw new Error("a nested taskloom document is missing");
  return codec.deserialize(value.doc as unknown as Parameters<typeof codec.deserialize>[0], { inPlace: true });
}

/** Keys superjson refuses (its prototype-pollution guard); taskloom stores them through `tl:object`. */
const GUARDED_KEYS = ["__proto__", "constructor", "prototype"] as const;

/** True when `key` is one superjson refuses. */
export function isGuardedKey(key: string): boolean {
  return key === "__proto__" || key === "constructor" || key === "prototype";
}

/** A plain object superjson cannot store as it is: a guarded own key, or a null prototype. */
function needsEntries(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto === null) return true;
  if (proto !== Object.prototype) return false;
  for (const key of GUARDED_KEYS) if (Object.prototype.hasOwnProperty.call(v, key)) return true;
  return false;
}

/** `n`: 1 when the object had a null prototype; `e`: its entries as a nested document. */
type EntriesDoc = { n: 0 | 1; e: Nested };

register<Record<string, unknown>, EntriesDoc>(
  {
    isApplicable: needsEntries,
    serialize: (v) => ({
      n: Object.getPrototypeOf(v) === null ? 1 : 0,
      e: nest(Object.keys(v).map((k) => [k, v[k]])),
    }),
    deserialize: (doc) => {
      const out = (doc.n === 1 ? Object.create(null) : {}) as Record<string, unknown>;
      const entries = unnest(doc.e);
      if (!Array.isArray(entries)) throw new Error("a tl:object holds no entries");
      for (const entry of entries as unknown[]) {
        if (!Array.isArray(entry) || typeof entry[0] !== "string") throw new Error("a tl:object entry is not [key, value]");
        // defineProperty, never assignment: an own "__proto__" stays an own property.
        Object.defineProperty(out, entry[0], { value: entry[1], enumerable: true, writable: true, configurable: true });
      }
      return out;
    },
  },
  "tl:object",
);

const ERROR_CLASSES: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};
const ERROR_NAME = new Map<object, string>(Object.entries(ERROR_CLASSES).map(([name, c]) => [c.prototype, name]));

/** The name of `value`'s built-in error class when it is exactly one, else undefined. */
function errorClassName(value: object): string | undefined {
  return ERROR_NAME.get(Object.getPrototypeOf(value) as object);
}

/** `c`: the class name; `d`: a nested document of `{ message, stack?, name?, cause?, fields }`. */
type ErrorDoc = { c: string; d: Nested };

const hasOwn = (v: object, k: string): boolean => Object.prototype.hasOwnProperty.call(v, k);

register<Error, ErrorDoc>(
  {
    isApplicable: (v): v is Error => v instanceof Error && errorClassName(v) !== undefined,
    serialize: (v) => ({
      c: errorClassName(v) as string,
      d: nest({
        message: v.message,
        ...(hasOwn(v, "stack") && { stack: v.stack }),
        ...(hasOwn(v, "name") && { name: v.name }),
        ...(hasOwn(v, "cause") && { cause: [v.cause] }),
        fields: Object.keys(v).map((k) => [k, (v as unknown as Record<string, unknown>)[k]]),
      }),
    }),
    deserialize: (doc) => {
      const Ctor = ERROR_CLASSES[doc.c];
      if (!Ctor) throw new Error(`unknown error class "${doc.c}"`);
      const d = unnest(doc.d) as {
        message: string;
        stack?: string;
        name?: string;
        cause?: [unknown];
        fields: [string, unknown][];
      };
      const error = d.cause ? new Ctor(d.message, { cause: d.cause[0] }) : new Ctor(d.message);
      const hidden = { enumerable: false, writable: true, configurable: true };
      if (d.stack === undefined) delete (error as { stack?: string }).stack;
      else Object.defineProperty(error, "stack", { ...hidden, value: d.stack });
      if (d.name !== undefined) Object.defineProperty(error, "name", { ...hidden, value: d.name });
      for (const [k, value] of d.fields) Object.defineProperty(error, k, { value, enumerable: true, writable: true, configurable: true });
      return error;
    },
  },
  "tl:error",
);

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
  walk.reset(maxChars);
  try {
    const reason = walk.visit(value, 0);
    return reason === undefined ? { ok: true, chars: walk.chars } : { ok: false, reason };
  } finally {
    walk.reset(0);
    spareWalk = walk;
  }
}

let spareWalk: Walk | undefined;

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
  /** The objects being visited, outermost first (a cycle is one met again). */
  readonly #open: object[] = [];
  readonly #steps: Step[] = [];

  /** Ready for a walk of at most `max` characters (and holding no value of the last one). */
  reset(max: number): void {
    this.chars = 0;
    this.#max = max;
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
        return this.#add(value.length + 2);
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
      return this.#add(Math.ceil(((obj as ArrayBuffer).byteLength * 4) / 3) + binary.length + 3);
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
      for (let i = 0; i < n; i++) {
        if (!(i in obj)) return `a sparse array (a hole at ${this.#at()}[${i}])`;
        const r = this.#visitAt(obj[i], depth + 1, i);
        if (r !== undefined) return r;
      }
      if (Object.keys(obj).length !== n) return `an array with properties other than its elements${where(this.#at())}`;
      return undefined;
    }
    if (proto === Object.prototype || proto === null) {
      for (const key of Object.keys(obj)) {
        const r = this.#add(key.length + 3) ?? this.#visitAt((obj as Record<string, unknown>)[key], depth + 1, key);
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
      if (hasOwn(e, "stack") && typeof e.stack !== "string") return `an Error whose stack is not a string${where(this.#at())}`;
      if (hasOwn(e, "name") && typeof e.name !== "string") return `an Error whose name is not a string${where(this.#at())}`;
      const r = this.#add(e.message.length + (e.stack?.length ?? 0) + 40) ?? (hasOwn(e, "cause") ? this.#visitAt(e.cause, depth + 1, "cause") : undefined);
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
