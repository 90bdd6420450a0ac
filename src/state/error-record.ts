/**
 * Errors are stored as plain {@link ErrorRecord}s so they survive
 * serialization; {@link errorFromRecord} rebuilds an `Error` (with the
 * original name and code) for callers of a resumed run.
 *
 * @module
 */
import type { ErrorRecord } from "./records.js";

const MAX_CAUSE_DEPTH = 8;

/** Turns any thrown value into a plain record. */
export function toErrorRecord(err: unknown, depth = 0): ErrorRecord {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = (err as { cause?: unknown }).cause;
    return {
      name: err.name,
      message: err.message,
      ...(typeof code === "string" && { code }),
      ...(err.stack !== undefined && { stack: err.stack }),
      ...(cause !== undefined && depth < MAX_CAUSE_DEPTH && { cause: toErrorRecord(cause, depth + 1) }),
    };
  }
  let message: string;
  try {
    message = typeof err === "string" ? err : (JSON.stringify(err) ?? String(err));
  } catch {
    try {
      message = String(err);
    } catch {
      // A thrown value whose toJSON and toString both throw still fails its node, with a record.
      message = "(a thrown value that cannot be printed)";
    }
  }
  return { name: "NonError", message };
}

/** Rebuilds an `Error` from a record (its class is not restored, its name and code are). */
export function errorFromRecord(record: ErrorRecord): Error {
  const err = new Error(record.message, record.cause ? { cause: errorFromRecord(record.cause) } : undefined);
  err.name = record.name;
  if (record.code !== undefined) (err as Error & { code?: string }).code = record.code;
  if (record.stack !== undefined) err.stack = record.stack;
  return err;
}
