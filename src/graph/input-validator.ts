/**
 * Validating a graph's inputs at the boundary, with any validator the user
 * already has: an object with `parse(value)` (zod, valibot's wrappers,
 * hand-written) or a Standard Schema (`~standard.validate`). No schema
 * library is a dependency. Every failure becomes an
 * {@link InputValidationError} listing each problem.
 *
 * @module
 */
import { InputValidationError, type ValidationIssue } from "./errors.js";

/** An object with a `parse` method that returns the value or throws. */
export interface ParseValidator<T> {
  parse(value: unknown): T;
}

/** The subset of the Standard Schema v1 interface taskloom uses. */
export interface StandardSchemaLike<T> {
  readonly "~standard": {
    readonly version: 1;
    readonly validate: (
      value: unknown,
    ) =>
      | { readonly value: T; readonly issues?: undefined }
      | { readonly issues: readonly StandardIssue[] }
      | Promise<{ readonly value: T; readonly issues?: undefined } | { readonly issues: readonly StandardIssue[] }>;
  };
}

/** One issue a Standard Schema reports. */
export interface StandardIssue {
  readonly message: string;
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
}

/** Anything taskloom accepts as an input validator. */
export type InputValidator<T> = ParseValidator<T> | StandardSchemaLike<T>;

/** True when `v` can be used as an {@link InputValidator}. */
export function isInputValidator(v: unknown): v is InputValidator<unknown> {
  if (v === null || (typeof v !== "object" && typeof v !== "function")) return false;
  const std = (v as { "~standard"?: { validate?: unknown } })["~standard"];
  return typeof std?.validate === "function" || typeof (v as { parse?: unknown }).parse === "function";
}

/** Validates `value`; resolves to the validated (possibly transformed) value or rejects with {@link InputValidationError}. */
export async function validateInput<T>(validator: InputValidator<T>, value: unknown, what: string): Promise<T> {
  const std = (validator as StandardSchemaLike<T>)["~standard"];
  if (std && typeof std.validate === "function") {
    let result: Awaited<ReturnType<typeof std.validate>>;
    try {
      result = await std.validate(value);
    } catch (err) {
      // A schema that throws instead of returning issues (a refinement that throws): a refusal all the same.
      throw new InputValidationError(what, issuesOf(err), { cause: err });
    }
    if (result === null || typeof result !== "object") {
      throw new InputValidationError(what, [{ path: [], message: `the schema's validate returned ${String(result)}, not a result` }]);
    }
    if (result.issues) throw new InputValidationError(what, result.issues.map(fromStandardIssue));
    return result.value;
  }
  try {
    return await (validator as ParseValidator<T>).parse(value);
  } catch (err) {
    throw new InputValidationError(what, issuesOf(err), { cause: err });
  }
}

function fromStandardIssue(issue: StandardIssue): ValidationIssue {
  const path = (issue.path ?? []).map((p) => {
    const key = typeof p === "object" && p !== null ? p.key : p;
    return typeof key === "number" ? key : String(key);
  });
  return { path, message: issue.message };
}

function issuesOf(err: unknown): ValidationIssue[] {
  const issues = (err as { issues?: unknown })?.issues;
  if (Array.isArray(issues) && issues.length > 0) {
    return issues.map((i: { message?: unknown; path?: unknown } | null) => ({
      path: Array.isArray(i?.path) ? i.path.map((p: unknown) => (typeof p === "number" ? p : String(p))) : [],
      message: typeof i?.message === "string" ? i.message : String(i?.message),
    }));
  }
  return [{ path: [], message: err instanceof Error ? err.message : String(err) }];
}
