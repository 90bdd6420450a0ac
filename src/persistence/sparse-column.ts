/**
 * The sparse column: the form a node chunk (`node-columns.ts`) gives a
 * field that only some of its records have (an output, the times, the
 * other fields), in its three readings, which must agree: how the values
 * and positions a writer collected become a column (`sparseColumn`, and
 * `asDifferences` for the times), how a column is read back
 * (`eachPresent`), and how a parsed one is checked before it is read
 * (`sparseProblem`, `timeProblem`). The chunk's other columns and its
 * writers stay in `node-columns.ts`.
 *
 * @module
 */
import { isPlainObject, type ShapeProblem } from "./shape-check.js";

/**
 * The values of the records of a chunk that have a field, in record order,
 * and where they are: `at`, the positions that have it, or `skip`, the
 * positions that do not (whichever list is shorter).
 */
export type Sparse<T> = { readonly at: readonly number[]; readonly v: readonly T[] } | { readonly skip: readonly number[]; readonly v: readonly T[] };

/**
 * A sparse column of times: {@link Sparse}, or, when every time is a whole
 * number (epoch milliseconds, as the clock gives them), `d` in place of
 * `v`: each time's difference from the one before it in the column (the
 * first's from 0). The differences of a run's times are a few digits where
 * the times are thirteen: a third of a 10,000-node snapshot's bytes.
 */
export type TimeColumn =
  Sparse<number> | { readonly at: readonly number[]; readonly d: readonly number[] } | { readonly skip: readonly number[]; readonly d: readonly number[] };

/** `column` with `d` in place of `v` when every value and every difference is a safe integer ({@link TimeColumn}). */
export function asDifferences(column: Sparse<number>): TimeColumn {
  const d = new Array<number>(column.v.length);
  let last = 0;
  for (let i = 0; i < column.v.length; i++) {
    const t = column.v[i]!;
    const diff = t - last;
    if (!Number.isSafeInteger(t) || !Number.isSafeInteger(diff)) return column;
    d[i] = diff;
    last = t;
  }
  return "skip" in column ? { skip: column.skip, d } : { at: column.at, d };
}

/**
 * Calls `set(position, value)` for each record of a chunk of `count` that
 * has the field of `column` (its values in `values`), in record order.
 */
export function eachPresent<T>(column: Sparse<unknown>, values: readonly T[], count: number, set: (position: number, value: T) => void): void {
  if ("at" in column) {
    const at = column.at;
    for (let i = 0; i < at.length; i++) set(at[i]!, values[i]!);
    return;
  }
  const skip = column.skip;
  let next = 0;
  let k = 0;
  for (let p = 0; p < count; p++) {
    if (next < skip.length && skip[next] === p) next += 1;
    else set(p, values[k++]!);
  }
}

/** The sparse column of a chunk of `count` records whose positions `at` (ascending) hold the values `v`: `at` or `skip`, the shorter. */
export function sparseColumn<T>(at: number[], v: T[], count: number): Sparse<T> {
  if (at.length === count) return { skip: [], v };
  if (at.length * 2 <= count) return { at, v };
  const skip: number[] = [];
  let next = 0;
  for (const p of at) {
    while (next < p) skip.push(next++);
    next = p + 1;
  }
  while (next < count) skip.push(next++);
  return { skip, v };
}

/** Whether `value` is a time the time columns hold: a finite number, not `-0`. */
export const isFiniteTime = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value) && !Object.is(value, -0);

/** What is wrong with the time column `value` (named `name`, a {@link TimeColumn}) of a chunk of `count` records, or undefined. */
export function timeProblem(value: unknown, name: string, count: number): ShapeProblem {
  if (!isPlainObject(value) || !Object.hasOwn(value, "d")) return sparseProblem(value, name, count, (v) => (isFiniteTime(v) ? undefined : " is not a time"));
  if (Object.hasOwn(value, "v")) return `.${name} has both "v" and "d"`;
  const problem = sparseProblem(value, name, count, undefined, "d");
  if (problem !== undefined) return problem;
  // The differences are whole numbers, and so is each sum: every time is then exact, and finite. One loop
  // here, not a call per value: a load runs it once per column, mostly before it is optimized.
  // A 32-bit integer is safe when `| 0` gives it back (no call, as for attempts); a sum of safe integers is a
  // whole number (a double past 2 ** 53 is one too), so it is safe when it is within the safe range.
  const d = value.d as readonly unknown[];
  let t = 0;
  for (let i = 0; i < d.length; i++) {
    const x = d[i];
    if (typeof x !== "number" || ((x | 0) !== x && !Number.isSafeInteger(x))) return `.${name}.d[${i}] is not a whole difference of times`;
    t += x;
    if (t > Number.MAX_SAFE_INTEGER || t < -Number.MAX_SAFE_INTEGER) return `.${name}.d[${i}] is not a whole difference of times`;
  }
  return undefined;
}

/**
 * What is wrong with the sparse column `value` (named `name`, its values in
 * `values`) of a chunk of `count` records, or undefined; each value is
 * checked by `item`, when given (without it, any value passes here).
 */
export function sparseProblem(value: unknown, name: string, count: number, item?: (v: unknown) => ShapeProblem, values: "v" | "d" = "v"): ShapeProblem {
  if (!isPlainObject(value)) return `.${name} is not an object`;
  const skip = Object.hasOwn(value, "skip");
  if (skip === Object.hasOwn(value, "at")) return `.${name} has ${skip ? "both" : "neither"} "at" and "skip"`;
  const list = skip ? value.skip : value.at;
  const key = skip ? "skip" : "at";
  if (!Array.isArray(list)) return `.${name}.${key} is not a list`;
  let last = -1;
  for (let i = 0; i < list.length; i++) {
    const p: unknown = list[i];
    if (typeof p !== "number" || !Number.isSafeInteger(p) || p <= last || p >= count) return `.${name}.${key}[${i}] is not a position in order`;
    last = p;
  }
  const items = value[values];
  if (!Array.isArray(items)) return `.${name}.${values} is not a list`;
  const expected = skip ? count - list.length : list.length;
  if (items.length !== expected) return `.${name}.${values} has ${items.length} values, not ${expected}`;
  if (item === undefined) return undefined;
  for (let i = 0; i < items.length; i++) {
    const problem = item(items[i]);
    if (problem !== undefined) return `.${name}.${values}[${i}]${problem}`;
  }
  return undefined;
}
