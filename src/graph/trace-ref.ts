/**
 * Symbolic references for `graphify`. While `graphify` calls the user's
 * function (the trace), the graph's inputs and every task's output are
 * {@link Ref}s: proxies that stand for a value the run will have later.
 * Reading a property of a ref gives another ref with a longer path
 * (`page.body.length`); passing refs to a task records which nodes the
 * task needs. Nothing else may be done with a ref, because during the
 * trace it has no value: every operation that would need one
 * (conversion to a primitive, `await`, iteration, `JSON.stringify`, `in`,
 * assignment, calling it) hits a proxy trap that refuses it with a
 * `GraphDefinitionError`. The first refusal is also stored on the trace,
 * so a refusal that user code caught, or that an `async` function turned
 * into a rejection, still fails `graphify`.
 *
 * A ref's metadata lives in a WeakMap keyed by the proxy and by its
 * target, so looking a ref up never triggers a trap. Each ref has its own
 * callable target (so calling `ref.trim()` reaches the `apply` trap and
 * gets a clear message instead of "is not a function") carrying a
 * `util.inspect` hook, so `console.log(ref)` prints `[Ref fetch.body]`.
 *
 * Arguments and outputs are captured as {@link Template}s: refs, plain
 * objects and arrays that contain refs (rebuilt at run time), and
 * constants (kept as they are, by identity). {@link resolveTemplate}
 * turns a template into values from the node outputs and the inputs.
 *
 * @module
 */
import type { NodeDefinition } from "./definition.js";
import { GraphDefinitionError, NonRetryableError } from "./errors.js";

declare const refType: unique symbol;

/** The properties of a ref: each one a ref to that property's value. */
export type RefProps<T> = { readonly [K in Extract<keyof T, string | number>]-?: Ref<T[K]> };

/**
 * A symbolic reference, inside a `graphify` function, to a value the run
 * will have later: the graph's inputs, a task's output, or a property of
 * one of them (`page.body`, `inputs.url`). Pass it to a task or return it
 * as an output; its value cannot be used while tracing.
 *
 * @typeParam T - the type of the value it stands for
 *
 * @example
 * ```ts
 * graphify("etl", (inputs: Ref<{ url: string }>) => {
 *   const page = task("fetch", fetchPage)(inputs.url); // Ref<{ body: string }>
 *   return { size: page.body.length };                 // Ref<number>
 * });
 * ```
 */
export type Ref<T> = { readonly [refType]: T } & RefProps<T>;

/** The value a template's refs are replaced by at run time: `Ref<T>` becomes `T`, inside plain objects and arrays too. */
export type Resolved<T> =
  T extends Ref<infer V>
    ? V
    : T extends readonly unknown[]
      ? { [K in keyof T]: Resolved<T[K]> }
      : T extends Record<string, unknown>
        ? { [K in keyof T]: Resolved<T[K]> }
        : T;

/** A value or a ref to one, also inside plain objects and arrays: what a task accepts as an argument. */
export type RefArg<T> = T | Ref<T> | (T extends (...args: never[]) => unknown ? never : T extends object ? { [K in keyof T]: RefArg<T[K]> } : never);

/** Where a ref's value comes from. */
export type RefSource = { readonly kind: "inputs" } | { readonly kind: "node"; readonly id: string };

/** What a ref stands for. */
export interface RefInfo {
  readonly trace: Trace;
  readonly source: RefSource;
  readonly path: readonly string[];
  readonly children: Map<string, object>;
}

/** The hint every refusal ends with. */
export const TRACE_HINT = "graphify traces the function once with symbolic references; a reference has no value yet: move the logic into a task, or route";

/** One `graphify` call's trace: the tasks declared so far and the first refusal. */
export class Trace {
  /** True while the user's function runs. */
  active = true;
  /** The first refused use of a ref's value. */
  refusal: GraphDefinitionError | undefined;
  /** Every task declared, by id: whether its function was called yet. */
  readonly tasks = new Map<string, { called: boolean }>();
  /** The nodes made so far, in call order (so every node comes after its dependencies). */
  readonly nodes: NodeDefinition[] = [];

  constructor(readonly graphName: string) {}
}

const INSPECT = Symbol.for("nodejs.util.inspect.custom");
const byProxy = new WeakMap<object, RefInfo>();
const byTarget = new WeakMap<object, RefInfo>();

/** The ref's metadata, or undefined when `value` is not a ref. Never triggers a trap. */
export function refInfo(value: unknown): RefInfo | undefined {
  return typeof value === "function" || (typeof value === "object" && value !== null) ? byProxy.get(value) : undefined;
}

/** True when `value` is a {@link Ref}. */
export function isRef(value: unknown): boolean {
  return refInfo(value) !== undefined;
}

/** How a ref reads in messages: `inputs.url`, `fetch.body`, `parse[0]`. */
export function describeRef(info: Pick<RefInfo, "source" | "path">): string {
  let text = info.source.kind === "inputs" ? "inputs" : info.source.id;
  for (const key of info.path) text += /^\d+$/.test(key) ? `[${key}]` : `.${key}`;
  return text;
}

function refuse(info: RefInfo, what: string, why?: string): never {
  const ref = describeRef(info);
  if (!info.trace.active) {
    throw new NonRetryableError(
      `reference ${ref} was ${what} after graphify("${info.trace.graphName}") finished tracing. A reference gets its value ` +
        `only as a task's argument: pass it to the task instead of capturing it in a closure or returning it from a task.`,
    );
  }
  const error = new GraphDefinitionError(info.trace.graphName, [
    `while tracing, reference ${ref} was ${what}; ${TRACE_HINT}${why === undefined ? "" : ` (${why})`}`,
  ]);
  info.trace.refusal ??= error;
  throw error;
}

const PRIMITIVE = "converted to a primitive (arithmetic, string concatenation, a template literal, String(), or == with a value)";

const handler: ProxyHandler<object> = {
  get(target, key) {
    const info = byTarget.get(target) as RefInfo;
    if (typeof key === "symbol") {
      if (key === Symbol.toPrimitive) refuse(info, PRIMITIVE);
      if (key === Symbol.iterator) refuse(info, "iterated (for…of, spread, or array destructuring)");
      if (key === Symbol.asyncIterator) refuse(info, "iterated (for await…of)");
      if (key === INSPECT) return Reflect.get(target, key) as unknown;
      refuse(info, `read through the symbol ${String(key)}`);
    }
    switch (key) {
      case "then":
        return refuse(info, "awaited (await, Promise.resolve or .then)", "a task call returns a reference at once; the task runs later, at run time");
      case "toJSON":
        return refuse(info, "serialized (JSON.stringify)");
      case "valueOf":
      case "toString":
      case "toLocaleString":
        return refuse(info, PRIMITIVE);
    }
    let child = info.children.get(key);
    if (!child) {
      child = makeRef(info.trace, info.source, [...info.path, key]);
      info.children.set(key, child);
    }
    return child;
  },
  set: (target) => refuse(byTarget.get(target) as RefInfo, "assigned to (a reference is read-only)"),
  has: (target) => refuse(byTarget.get(target) as RefInfo, "tested with `in`"),
  deleteProperty: (target) => refuse(byTarget.get(target) as RefInfo, "changed with `delete`"),
  defineProperty: (target) => refuse(byTarget.get(target) as RefInfo, "changed with Object.defineProperty"),
  ownKeys: (target) => refuse(byTarget.get(target) as RefInfo, "enumerated (object spread, Object.keys, for…in)"),
  getOwnPropertyDescriptor: (target) => refuse(byTarget.get(target) as RefInfo, "inspected (Object.getOwnPropertyDescriptor)"),
  getPrototypeOf: (target) => refuse(byTarget.get(target) as RefInfo, "inspected (instanceof or Object.getPrototypeOf)"),
  setPrototypeOf: (target) => refuse(byTarget.get(target) as RefInfo, "changed with Object.setPrototypeOf"),
  isExtensible: (target) => refuse(byTarget.get(target) as RefInfo, "inspected (Object.isExtensible or isFrozen)"),
  preventExtensions: (target) => refuse(byTarget.get(target) as RefInfo, "frozen or sealed"),
  apply: (target) => refuse(byTarget.get(target) as RefInfo, "called as a function (a method of a value, such as .trim(), needs the value)"),
  construct: (target) => refuse(byTarget.get(target) as RefInfo, "called with new"),
};

/** Makes a ref for `source` at `path` in `trace`. */
export function makeRef(trace: Trace, source: RefSource, path: readonly string[]): object {
  const info: RefInfo = { trace, source, path, children: new Map() };
  const text = `[Ref ${describeRef(info)}]`;
  const target = function ref(): void {};
  Object.defineProperty(target, INSPECT, { value: () => text, configurable: true });
  const proxy = new Proxy(target, handler);
  byTarget.set(target, info);
  byProxy.set(proxy, info);
  return proxy;
}

/** A captured argument or output: refs, containers of refs, and constants. */
export type Template =
  | { readonly kind: "const"; readonly value: unknown }
  | { readonly kind: "ref"; readonly ref: RefInfo }
  | { readonly kind: "array"; readonly items: readonly Template[] }
  | { readonly kind: "object"; readonly plain: boolean; readonly entries: readonly (readonly [string, Template])[] };

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Captures `value` as a template. Refs must belong to `trace`; refs are
 * looked for in plain objects and arrays (not in class instances, maps or
 * sets, which are constants). `where` names the value in messages.
 */
export function captureTemplate(value: unknown, trace: Trace, where: string, ancestors: Set<object> = new Set()): Template {
  const info = refInfo(value);
  if (info) {
    if (info.trace !== trace) {
      throw new GraphDefinitionError(trace.graphName, [
        `${where} is the reference ${describeRef(info)} from graphify("${info.trace.graphName}"): ` +
          "a reference can only be used in the graphify call that made it",
      ]);
    }
    return { kind: "ref", ref: info };
  }
  if (typeof value !== "object" || value === null || ancestors.has(value)) return { kind: "const", value };
  if (Array.isArray(value)) {
    ancestors.add(value);
    const items = value.map((item, i) => captureTemplate(item, trace, `${where}[${i}]`, ancestors));
    ancestors.delete(value);
    return items.every((t) => t.kind === "const") ? { kind: "const", value } : { kind: "array", items };
  }
  if (!isPlainObject(value)) return { kind: "const", value };
  ancestors.add(value);
  const entries = Object.keys(value).map(
    (key) => [key, captureTemplate((value as Record<string, unknown>)[key], trace, `${where}.${key}`, ancestors)] as const,
  );
  ancestors.delete(value);
  return entries.every(([, t]) => t.kind === "const")
    ? { kind: "const", value }
    : { kind: "object", plain: Object.getPrototypeOf(value) === Object.prototype, entries };
}

/** Every ref in a template, in order. */
export function refsOf(template: Template, into: RefInfo[] = []): RefInfo[] {
  switch (template.kind) {
    case "ref":
      into.push(template.ref);
      break;
    case "array":
      for (const t of template.items) refsOf(t, into);
      break;
    case "object":
      for (const [, t] of template.entries) refsOf(t, into);
      break;
    case "const":
      break;
  }
  return into;
}

/** The value of a template, given every node's output (by id) and the run's inputs. */
export function resolveTemplate(template: Template, outputs: Readonly<Record<string, unknown>>, inputs: unknown): unknown {
  switch (template.kind) {
    case "const":
      return template.value;
    case "ref": {
      const { source, path } = template.ref;
      let value: unknown = source.kind === "inputs" ? inputs : outputs[source.id];
      for (let i = 0; i < path.length; i++) {
        const key = path[i] as string;
        if (value === null || value === undefined) {
          const at = describeRef({ source, path: path.slice(0, i) });
          throw new NonRetryableError(`graphify: cannot read "${key}" of ${at}, which is ${String(value)} (reference ${describeRef(template.ref)})`);
        }
        value = (value as Record<string, unknown>)[key];
      }
      return value;
    }
    case "array":
      return template.items.map((t) => resolveTemplate(t, outputs, inputs));
    case "object": {
      const out: Record<string, unknown> = template.plain ? {} : (Object.create(null) as Record<string, unknown>);
      // defineProperty, not assignment: a "__proto__" key must stay a plain property.
      for (const [key, t] of template.entries) {
        Object.defineProperty(out, key, { value: resolveTemplate(t, outputs, inputs), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
  }
}
