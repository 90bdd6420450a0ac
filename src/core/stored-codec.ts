/**
 * The codec taskloom stores values with: a private superjson instance (so
 * an application's own use of superjson is not changed) with three custom
 * transformers that make more values exact than superjson alone:
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
 * Which values are given to it is decided by `durable-value.ts`
 * (`checkDurable`), which asks this module which classes it stores
 * as bytes or as errors. Persistence's `serialization.ts` writes and reads
 * with {@link codec}.
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
export function binaryName(value: object): string | undefined {
  return BINARY_NAME.get(Object.getPrototypeOf(value) as object);
}

/** The bytes `value` is stored as. Throws a TypeError when its buffer is detached (transferred: `structuredClone`, `postMessage`). */
export function bytesOf(value: ArrayBufferView | ArrayBuffer): Buffer {
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
export function errorClassName(value: object): string | undefined {
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
