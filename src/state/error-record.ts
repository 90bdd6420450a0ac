/**
 * Errors are stored as plain {@link ErrorRecord}s so they survive
 * serialization; {@link errorFromRecord} rebuilds an `Error` (with the
 * original name and code) for callers of a resumed run.
 *
 * A stored stack keeps the error's own lines and the caller's frames, not
 * taskloom's: frames in taskloom's own files (the engine that called the
 * node body: about nine of a default ten) and in Node's internals are left
 * out ({@link storedStack}). They say nothing about the failure, and a run
 * with many failed nodes would store and reload them once per record and
 * once per journaled attempt (half of a stored failed record's bytes).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { ErrorRecord } from "./records.js";

export const MAX_CAUSE_DEPTH = 8;

/** taskloom's own folder (`src/` or `dist/`), as a path and as a file URL, as stack frames name it. */
const OWN_FOLDER_URL = new URL("../", import.meta.url).href;
const OWN_FOLDER = OWN_FOLDER_URL.startsWith("file:") ? fileURLToPath(OWN_FOLDER_URL) : OWN_FOLDER_URL;

/**
 * `stack` without the frames in taskloom's own files or in Node's
 * internals (`node:internal/…`); the message lines and every other frame
 * stay, in order. A stack whose frames are all such keeps its first frame,
 * so an error thrown by taskloom itself still says where.
 *
 * @example
 * ```ts
 * storedStack("Error: boom\n    at fn (/app/etl.ts:4:9)\n    at Attempts.#start (/app/node_modules/taskloom/dist/engine/attempts.js:9:1)");
 * // "Error: boom\n    at fn (/app/etl.ts:4:9)"
 * ```
 */
export function storedStack(stack: string): string {
  if (!stack.includes(OWN_FOLDER) && !stack.includes(OWN_FOLDER_URL) && !stack.includes("node:internal/")) return stack;
  const lines = stack.split("\n");
  const kept: string[] = [];
  let frames = 0;
  let firstDropped: string | undefined;
  for (const line of lines) {
    const frame = line.startsWith("    at ");
    if (frame && (line.includes(OWN_FOLDER) || line.includes(OWN_FOLDER_URL) || line.includes("node:internal/"))) {
      firstDropped ??= line;
      continue;
    }
    if (frame) frames += 1;
    kept.push(line);
  }
  if (frames === 0 && firstDropped !== undefined) {
    // All frames were ours: keep the first, right after the message lines.
    let at = kept.length;
    while (at > 0 && kept[at - 1] === "") at -= 1;
    kept.splice(at, 0, firstDropped);
  }
  return kept.join("\n");
}

/** Turns any thrown value into a plain record. */
export function toErrorRecord(err: unknown, depth = 0): ErrorRecord {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = (err as { cause?: unknown }).cause;
    return {
      name: err.name,
      message: err.message,
      ...(typeof code === "string" && { code }),
      ...(typeof err.stack === "string" && { stack: storedStack(err.stack) }),
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
