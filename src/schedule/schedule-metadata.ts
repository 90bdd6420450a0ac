/**
 * A schedule's `metadata`: JSON the caller attaches (an owner, a tenant,
 * the agent that asked for it), kept in the schedule store and returned
 * by `getSchedule`, `listSchedules`, `history()` rows and in the callback
 * body, so whoever receives a result knows what it was for.
 *
 * Invariants: metadata is JSON (objects, arrays, strings, finite numbers,
 * booleans, null) that reads back equal, at most {@link MAX_METADATA_CHARS}
 * characters of JSON text, and never a function, a class instance, a Date
 * or undefined inside an array.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";

/** The longest metadata a schedule keeps, in characters of JSON text (64 KiB). */
export const MAX_METADATA_CHARS = 65_536;

/** Checks `metadata` and returns it. Throws `InvalidOptionError` naming the first path that is not JSON. */
export function checkMetadata(value: unknown): unknown {
  const problem = jsonProblem(value, "metadata", 0);
  if (problem !== undefined) throw new InvalidOptionError(problem.path, `${problem.why}: metadata is stored as JSON`);
  const text = JSON.stringify(value);
  if (text.length > MAX_METADATA_CHARS) {
    throw new InvalidOptionError(
      "metadata",
      `is ${text.length} characters of JSON, over the limit of ${MAX_METADATA_CHARS}: keep an id in it and the rest elsewhere`,
    );
  }
  return JSON.parse(text) as unknown;
}

function jsonProblem(value: unknown, path: string, depth: number): { path: string; why: string } | undefined {
  if (depth > 64) return { path, why: "is nested deeper than 64 levels" };
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : { path, why: `is ${String(value)}, which JSON cannot hold` };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return { path: `${path}[${i}]`, why: "is a hole in a sparse array" };
      const p = jsonProblem(value[i], `${path}[${i}]`, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return { path, why: "is a class instance (a Date, a Map, …), not a plain object" };
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      const p = jsonProblem(v, `${path}.${k}`, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  return { path, why: `is a ${typeof value}` };
}
