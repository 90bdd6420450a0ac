/**
 * The run meta of a run file's run record line, for `list`
 * (`run-file-reading.ts`, `summaryOfRunFile`), read without its graph
 * outputs.
 *
 * A run's last run record holds its `outputs`: for a fan-out, every
 * sink's. `list` needs none of them (a summary is the run's ids, status,
 * times, waits and counts), but parsing the line built them all: the last
 * run record of a 10,000-node fan-out is a 128 KB line whose `JSON.parse`
 * took about 2 ms, most of it making the outputs' 10,000-key object, so
 * 200 such runs took 370 ms to list.
 *
 * So the line's bytes are walked to the run's `outputs` member
 * (`{"json":{…,"run":{…,"outputs":…}},"meta":…}`), whose value is checked
 * to be valid JSON without being built ({@link skipValue}), and the rest of
 * the line is parsed as before. The result is the record the whole line
 * gives, less `outputs`, or, whenever that cannot be said for sure, the
 * whole line is parsed as before ({@link parseLineAt}), with its errors:
 * the outputs carry superjson annotations (a `Date`, a `Map`, `undefined`,
 * a shared reference), the line is not laid out as this store writes it,
 * or anything in it fails. A line that does not read whole therefore
 * never lists.
 *
 * @module
 */
import { isUtf8 } from "node:buffer";
import type { RunMeta } from "../state/records.js";
import { fromDocument } from "./serialization.js";
import { checkRunFileLine } from "./run-file-lines.js";
import { parseLineAt } from "./run-file-leases.js";

/** Deeper nesting than this in the outputs is left to `JSON.parse` (the whole line is parsed). */
const MAX_DEPTH = 512;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * The run meta of the run record `line` (a whole line of the run file
 * `file`), without `outputs`; `SnapshotCorruptError` naming `file` when
 * the line does not read, as {@link parseLineAt} says.
 *
 * @example
 * ```ts
 * if (isRunRecordLine(line)) meta = runMetaOfLine(line, file); // meta.outputs is absent
 * ```
 */
export function runMetaOfLine(line: Buffer, file: string): RunMeta {
  // A damaged byte: parseLineAt says so, as it does for any line it cannot read.
  const fast = isUtf8(line) ? withoutOutputs(line) : undefined;
  if (fast !== undefined) return fast;
  const { outputs: _outputs, ...meta } = parseLineAt<{ run: RunMeta }>(line, file).run;
  return meta;
}

/** The run meta of `line` read without its outputs, or undefined when only the whole line's parse can say (see the module comment). */
function withoutOutputs(line: Buffer): RunMeta | undefined {
  const span = outputsSpan(line);
  if (span === undefined) return undefined;
  try {
    const document = JSON.parse(line.toString("utf8", 0, span.start) + line.toString("utf8", span.end)) as {
      meta?: { values?: Record<string, unknown>; referentialEqualities?: unknown };
    };
    const meta = document.meta;
    if (meta !== undefined) {
      if (meta.referentialEqualities !== undefined) return undefined;
      for (const path in meta.values) if (path === "run.outputs" || path.startsWith("run.outputs.")) return undefined;
    }
    const value = fromDocument<{ run: RunMeta }>(document);
    return checkRunFileLine(value) === undefined ? value.run : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where the member `"outputs":…` of `json.run` is in `line`, with the comma
 * that joins it to the member before (or after), so that the bytes left
 * are the same document without it; undefined when it has none, its value
 * is not valid JSON, or the line is not laid out as this store writes it
 * (no white space between the members).
 */
function outputsSpan(line: Uint8Array): { start: number; end: number } | undefined {
  const json = memberValue(line, 0, "json");
  const run = json < 0 ? -1 : memberValue(line, json, "run");
  if (run < 0) return undefined;
  const member = findMember(line, run, "outputs");
  if (member === undefined) return undefined;
  if (line[member.start - 1] === COMMA) return { start: member.start - 1, end: member.end };
  if (line[member.end] === COMMA) return { start: member.start, end: member.end + 1 };
  return line[member.start - 1] === OPEN_BRACE && line[member.end] === CLOSE_BRACE ? member : undefined;
}

/** The index of the value of member `name` of the object at `at` in `b` (not read: the rest of the line's parse checks it), or -1. */
function memberValue(b: Uint8Array, at: number, name: string): number {
  const start = memberKey(b, at, name);
  return start < 0 ? -1 : start + name.length + 3;
}

/**
 * Member `name` of the object that starts at `at` in `b`: its key's first
 * byte and the index after its value, checked valid JSON. Undefined when
 * the object has no such member or does not read up to it.
 */
function findMember(b: Uint8Array, at: number, name: string): { start: number; end: number } | undefined {
  const start = memberKey(b, at, name);
  const end = start < 0 ? -1 : skipValue(b, start + name.length + 3);
  return end < 0 ? undefined : { start, end };
}

/**
 * The index of the key of member `name` (written without escapes) of the
 * object that starts at `at` in `b`, the members before it skipped (and
 * checked valid JSON); -1 when the object has no such member or does not
 * read up to it.
 */
function memberKey(b: Uint8Array, at: number, name: string): number {
  if (b[at] !== OPEN_BRACE) return -1;
  let i = at + 1;
  if (b[i] === CLOSE_BRACE) return -1;
  for (;;) {
    const start = i;
    const keyEnd = skipString(b, i);
    if (keyEnd < 0 || b[keyEnd] !== COLON) return -1;
    if (isKey(b, start, keyEnd, name)) return start;
    const end = skipValue(b, keyEnd + 1);
    if (end < 0 || b[end] !== COMMA) return -1;
    i = end + 1;
  }
}

/** Whether the string `b[start, end)` (quotes included, as written: no escape) is `name`. */
function isKey(b: Uint8Array, start: number, end: number, name: string): boolean {
  if (end - start !== name.length + 2) return false;
  for (let k = 0; k < name.length; k++) if (b[start + 1 + k] !== name.charCodeAt(k)) return false;
  return true;
}

/**
 * The index after the JSON value that starts at `at` in `b` (no white
 * space, as this store writes lines), or -1 when none starts there: a
 * check of the grammar `JSON.parse` reads, without making the value.
 * Bytes of UTF-8 characters are never taken for a quote, a backslash or a
 * bracket (every byte of a multibyte character is 0x80 or above).
 */
export function skipValue(b: Uint8Array, at: number): number {
  // Open brackets, innermost last: a close must match, and a member needs a key.
  const open: number[] = [];
  let i = at;
  for (;;) {
    // A value at i.
    const c = b[i];
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (open.length >= MAX_DEPTH) return -1;
      open.push(c);
      i++;
      const close = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
      if (b[i] === close) {
        open.pop();
        i++;
      } else {
        if (c === OPEN_BRACE) {
          i = skipKey(b, i);
          if (i < 0) return -1;
        }
        continue;
      }
    } else if (c === QUOTE) {
      i = skipString(b, i);
    } else {
      i = skipLiteral(b, i);
    }
    if (i < 0) return -1;
    // After a value: the next member or element, or the ends of the brackets it closes.
    for (;;) {
      const inner = open[open.length - 1];
      if (inner === undefined) return i;
      if (b[i] === COMMA) {
        i++;
        if (inner === OPEN_BRACE) {
          i = skipKey(b, i);
          if (i < 0) return -1;
        }
        break;
      }
      if (b[i] !== (inner === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET)) return -1;
      open.pop();
      i++;
    }
  }
}

/** The index after `"key":` at `at` in `b`, or -1. */
function skipKey(b: Uint8Array, at: number): number {
  const end = skipString(b, at);
  return end >= 0 && b[end] === COLON ? end + 1 : -1;
}

/** The index after the JSON string that starts at `at` in `b` (its quote), or -1: escapes as JSON allows them, no control character. */
function skipString(b: Uint8Array, at: number): number {
  if (b[at] !== QUOTE) return -1;
  for (let i = at + 1; i < b.length; i++) {
    const c = b[i]!;
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -1;
    if (c !== BACKSLASH) continue;
    const e = b[++i];
    if (e === 0x75) {
      // \uXXXX
      for (let k = 1; k <= 4; k++) if (!isHex(b[i + k])) return -1;
      i += 4;
    } else if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) {
      return -1;
    }
  }
  return -1;
}

/** The index after the number, `true`, `false` or `null` at `at` in `b`, or -1. */
function skipLiteral(b: Uint8Array, at: number): number {
  for (const word of WORDS) if (startsWith(b, at, word)) return at + word.length;
  let i = at;
  if (b[i] === 0x2d) i++;
  if (b[i] === 0x30) i++;
  else if (isDigit1to9(b[i])) while (isDigit(b[i])) i++;
  else return -1;
  if (b[i] === 0x2e) {
    i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  return i;
}

const WORDS = ["true", "false", "null"] as const;

function startsWith(b: Uint8Array, at: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (b[at + k] !== word.charCodeAt(k)) return false;
  return true;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function isDigit1to9(c: number | undefined): boolean {
  return c !== undefined && c >= 0x31 && c <= 0x39;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}
