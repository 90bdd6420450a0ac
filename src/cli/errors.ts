/**
 * How the CLI reports errors: one readable line, `error[CODE]: message`,
 * where CODE is the error's stable `code` (a taskloom code such as
 * `NODE_FAILED`, a CLI code below, or a system code such as `ENOENT`), so
 * scripts can match it and people can look it up. Stacks and causes are
 * printed only with `--verbose`.
 *
 * @module
 */
import { visible } from "./text.js";

/** Codes of the errors the CLI itself raises (taskloom's own errors keep theirs). */
export const CLI_ERROR_CODES = [
  "USAGE",
  "MODULE_NOT_FOUND",
  "MODULE_LOAD_FAILED",
  "NO_GRAPH_EXPORT",
  "TSX_MISSING",
  "FOREIGN_GRAPH",
  "BULLMQ_MISSING",
  "INPUTS_MISSING",
] as const;

/** A code of {@link CLI_ERROR_CODES}. */
export type CliErrorCode = (typeof CLI_ERROR_CODES)[number];

/**
 * An error of the command line itself: bad usage, a module that cannot be
 * loaded or has no graph.
 *
 * @example
 * ```ts
 * throw new CliError("MODULE_NOT_FOUND", `no file at ${path}`);
 * ```
 */
export class CliError extends Error {
  /** The stable code. */
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "CliError";
  }
}

/**
 * A library error with the command line's advice in place of the API's
 * (`--allow-graph-change` rather than `{ allowGraphChange: true }`, or the
 * `taskloom resume` command that continues a failed run). It keeps the
 * original error's `code`, and the original is its `cause`.
 *
 * @example
 * ```ts
 * throw new AdvisedError(err, `${err.message} Continue it with: taskloom resume r1 graph.mjs`);
 * ```
 */
export class AdvisedError extends Error {
  /** The original error's code. */
  readonly code: string;

  constructor(original: unknown, message: string) {
    super(message, { cause: original });
    this.code = errorCode(original);
    this.name = original instanceof Error ? original.name : "Error";
  }
}

/** The code to show for any thrown value: its string `code`, else `UNEXPECTED`. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.length > 0 ? code : "UNEXPECTED";
}

/**
 * The text of a thrown value that may not be an Error: an Error's or a plain
 * object's `message`, a string itself, else the value's JSON (a plain object
 * thrown by a graph module would otherwise print as "[object Object]").
 */
function thrownText(err: unknown): string {
  if (err instanceof Error) return err.message;
  const message = (err as { message?: unknown } | null)?.message;
  if (typeof message === "string") return message;
  if (typeof err === "object" && err !== null) {
    try {
      const json = JSON.stringify(err);
      if (json !== undefined) return json;
    } catch {
      // a cycle or a BigInt inside: fall back to String
    }
  }
  return String(err);
}

/** Any thrown value's message, on one line, safe to print on a terminal ({@link visible}). */
export function oneLine(err: unknown): string {
  const text = thrownText(err);
  return visible(text.replace(/\s*\n\s*/g, " ").trim());
}

/**
 * The line printed for an error.
 *
 * @example
 * ```ts
 * errorLine(new RunNotFoundError("x")); // 'error[RUN_NOT_FOUND]: no stored run has id "x". …'
 * ```
 */
export function errorLine(err: unknown, verbose = false): string {
  const code = errorCode(err);
  const hint = code === "UNEXPECTED" && !verbose ? " (run again with --verbose to see where it came from)" : "";
  return `error[${code}]: ${oneLine(err)}${hint}`;
}

/** The stack and the chain of causes, for `--verbose`. */
export function errorDetails(err: unknown): string {
  const lines: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    const prefix = depth === 0 ? "" : "caused by: ";
    if (current instanceof Error) lines.push(prefix + (current.stack ?? `${current.name}: ${current.message}`));
    else lines.push(prefix + thrownText(current));
    current = current instanceof Error ? (current as { cause?: unknown }).cause : undefined;
  }
  return lines.join("\n");
}

/** `Name: message` of a thrown value, on one line (the name is dropped for plain strings). */
export function errorSummary(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${oneLine(err)}`;
  return oneLine(err);
}
