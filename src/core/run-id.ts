/**
 * Run ids: generated when the caller gives none, validated when given. A
 * valid id is safe as a file or key name in any store: 1 to 200 characters
 * from `A-Z a-z 0-9 . _ - : @`, starting with a letter or digit, so `..`,
 * `/`, `\` and NUL can never make it name a path outside the store.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { InvalidOptionError, InvalidRunIdError } from "../errors.js";

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/;

/**
 * Throws {@link InvalidRunIdError} unless `runId` is a valid run id.
 *
 * @example
 * ```ts
 * assertRunId("etl-2026-11-23"); // ok
 * assertRunId("../x");           // throws InvalidRunIdError
 * ```
 */
export function assertRunId(runId: unknown): asserts runId is string {
  if (typeof runId !== "string") throw new InvalidRunIdError(runId, `it is a ${typeof runId}, not a string`);
  if (runId.length === 0) throw new InvalidRunIdError(runId, "it is empty");
  if (runId.length > 200) throw new InvalidRunIdError(runId, `it has ${runId.length} characters`);
  if (runId.includes("\0")) throw new InvalidRunIdError(runId, "it contains a NUL byte");
  if (runId.includes("..")) throw new InvalidRunIdError(runId, 'it contains ".."');
  if (!RUN_ID.test(runId)) throw new InvalidRunIdError(runId, "it contains a character that is not allowed");
}

/** A run mark as callers pass it back: today's marks are 12 hex digits; the check leaves room to change that. */
const RUN_MARK = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Throws {@link InvalidOptionError} naming `option` unless `mark` is a run
 * mark (`RunMeta.instance`, `ctx.runInstance`): 1 to 64 letters, digits,
 * `-` or `_`.
 *
 * @example
 * ```ts
 * assertRunMark("3f9c0a61b2d4", "resolveWait instance"); // ok
 * assertRunMark("", "resolveWait instance");             // throws InvalidOptionError
 * ```
 */
export function assertRunMark(mark: unknown, option: string): asserts mark is string {
  if (typeof mark === "string" && RUN_MARK.test(mark)) return;
  throw new InvalidOptionError(
    option,
    `must be a run mark (1 to 64 letters, digits, "-" or "_"; ctx.runInstance or getRun(runId).instance gives it), got ${typeof mark === "string" ? JSON.stringify(mark.slice(0, 80)) : typeof mark}`,
  );
}

/** A new, unique run id: `run-` plus a UUID. */
export function newRunId(): string {
  return `run-${randomUUID()}`;
}
