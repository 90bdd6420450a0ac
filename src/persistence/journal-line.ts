/**
 * The text of one journal line: `serialize(record) + "\n"`, byte for byte,
 * made faster for the record every step writes.
 *
 * A durable chain step writes one node record, and encoding it through
 * {@link serialize} (a generic walk that checks every value, then one
 * `JSON.stringify` of the whole record) cost about 11,700 instructions,
 * more than a third of what the step costs over one in memory apart from
 * its `write` system call; a fan-out encodes ten thousand such records in
 * one append. Most of it was `JSON.stringify` itself: a call per object
 * into the engine's serializer, which looks up `toJSON` on every object
 * and formats each millisecond timestamp (a double, not a small integer)
 * anew.
 *
 * The fast path takes a node record of the usual shape: the record's own
 * keys are `kind`, `seq`, `node` in that order, and the node's own keys
 * are fields of `NodeRecord` (in any order) holding strings, finite
 * numbers (not `-0`), booleans or null, or plain JSON values (an output
 * object, an error record, an attempt log: those are checked and written
 * as `serialize` would, by `JSON.stringify`). It writes the line from
 * pieces: a key's text is a constant, so is a status field's (`"status":`
 * and a status of `NODE_STATUSES`, which needs no escaping), a string that
 * needs no escaping is quoted as it is, and a number is written by
 * `String`, the last timestamp's text kept for the records that repeat it. A compact record of
 * `journal-delta.ts` that holds a node (`sameLog: true` after its three keys: each result of a resumed
 * node) takes the fast path too, its flag written last. Every other record (a run
 * meta, another compact record, a node record with an
 * `undefined` field, a `Date`, an unknown key…) is written by
 * {@link serialize}, as before. So no reader can tell the two apart: the
 * property test in `test/journal-line.test.ts` checks the two texts are
 * equal over arbitrary records.
 *
 * @module
 */
import type { StoredRecord } from "./journal-delta.js";
import { isPlainJson, serialize } from "./serialization.js";
import { NODE_STATUSES } from "../state/status.js";

/** A string JSON writes as it is between quotes: no quote, backslash, control character or surrogate (a lone one is escaped). */
// eslint-disable-next-line no-control-regex -- the control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** The text before a node record's fields. */
const HEAD = '{"json":{"kind":"node","seq":';

/** `"status":"…"` of each node status: a status needs no escaping, and its field is a constant. */
const STATUS_FIELDS = new Map<string, string>(NODE_STATUSES.map((status) => [status, `"status":"${status}"`]));

/** The last number written that is not a small integer, and its text: a record's two timestamps are often one, and so are those of the steps of one millisecond. */
let lastNumber = Number.NaN;
let lastNumberText = "NaN";

/** The last string quoted, and its quoted text: a record's `id` and `nodeId` are often one string. */
let lastString = "";
let lastQuoted = '""';

/**
 * The journal line of `record`: exactly `serialize(record) + "\n"` (see
 * the module comment).
 *
 * @throws ValueNotStorableError as {@link serialize} does.
 */
export function journalLine(record: StoredRecord): string {
  if ("node" in record) {
    let line: string | undefined;
    try {
      line = fastNodeLine(record);
    } catch {
      // A getter that throws, a text too long for a string: serialize says so as it always did (ValueNotStorableError).
      line = undefined;
    }
    if (line !== undefined) return line;
  }
  return serialize(record) + "\n";
}

/** The line of a node record of the usual shape, or undefined when it is not one (the caller then serializes it). */
function fastNodeLine(record: { readonly seq: number; readonly node: object }): string | undefined {
  const seq = record.seq;
  if (typeof seq !== "number" || !plainNumber(seq) || Object.getPrototypeOf(record) !== Object.prototype) return undefined;
  const keys = usualRecordKeys(record);
  if (keys === 0 || (keys === 4 && (record as { readonly sameLog?: unknown }).sameLog !== true)) return undefined;
  const node = record.node;
  if (typeof node !== "object" || node === null || Object.getPrototypeOf(node) !== Object.prototype) return undefined;
  const fields = nodeFields(node);
  if (fields === undefined) return undefined;
  return keys === 3 ? `${HEAD}${String(seq)},"node":{${fields}}}}\n` : `${HEAD}${String(seq)},"node":{${fields}},"sameLog":true}}\n`;
}

/**
 * 3 when the enumerable keys of `record` (a plain object) are `kind`,
 * `seq`, `node`, in that order; 4 when `sameLog` follows them (a compact
 * record of `journal-delta.ts`: a resumed node's result, whose attempt log
 * is its reset record's); else 0. A `for…in` walk, cheaper than
 * `Object.keys`'s array; it sees inherited enumerable keys too, so a key
 * someone made enumerable on `Object.prototype` (the prototype of the
 * record and of its node) sends every record to `serialize`, and the walk
 * of the node's keys in {@link nodeFields} meets own keys only.
 */
function usualRecordKeys(record: object): 0 | 3 | 4 {
  let i = 0;
  for (const key in record) {
    if (key !== (i === 0 ? "kind" : i === 1 ? "seq" : i === 2 ? "node" : i === 3 ? "sameLog" : "")) return 0;
    i += 1;
  }
  return i === 3 || i === 4 ? i : 0;
}

/**
 * The node's fields as JSON without the braces, or undefined when one is
 * not of the fast path (see the module comment). Keys come in
 * `JSON.stringify`'s order (`for…in` lists own keys as it does; a key that
 * looks like an index, which both list first, is no field anyway).
 */
function nodeFields(node: object): string | undefined {
  let text = "";
  let first = true;
  for (const key in node) {
    const value: unknown = (node as unknown as Record<string, unknown>)[key];
    if (key === "status" && typeof value === "string") {
      const field = STATUS_FIELDS.get(value);
      if (field !== undefined) {
        text = first ? field : `${text},${field}`;
        first = false;
        continue;
      }
    }
    const prefix = keyText(key);
    if (prefix === undefined) return undefined;
    let json: string;
    switch (typeof value) {
      case "string":
        json = quoted(value);
        break;
      case "number":
        if (!plainNumber(value)) return undefined;
        json = numberText(value);
        break;
      case "boolean":
        json = value ? "true" : "false";
        break;
      case "object":
        if (value === null) json = "null";
        // Nested at depth 2 (record, node, field), as serialize's walk of the whole record sees it.
        else if (isPlainJson(value, 2)) json = JSON.stringify(value);
        else return undefined;
        break;
      default:
        // `undefined` (superjson annotates it), a function, a symbol, a bigint.
        return undefined;
    }
    text = first ? prefix + json : `${text},${prefix}${json}`;
    first = false;
  }
  return text;
}

/** A finite number other than `-0`: JSON writes it as `String` does, and superjson adds nothing. */
function plainNumber(value: number): boolean {
  return Number.isFinite(value) && !Object.is(value, -0);
}

/**
 * `String(value)` of a plain number (see {@link plainNumber}). A small
 * integer is answered by V8's cache; another (a millisecond timestamp is
 * a double) is formatted anew each time, so the last one is kept.
 */
function numberText(value: number): string {
  if ((value | 0) === value) return String(value);
  if (value === lastNumber) return lastNumberText;
  const text = String(value);
  lastNumber = value;
  lastNumberText = text;
  return text;
}

/** `JSON.stringify(value)` of a string. */
function quoted(value: string): string {
  if (value === lastString) return lastQuoted;
  const text = NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
  lastString = value;
  lastQuoted = text;
  return text;
}

/** `"key":` for a field of `NodeRecord`, or undefined for any other key. */
function keyText(key: string): string | undefined {
  switch (key) {
    case "id":
      return '"id":';
    case "nodeId":
      return '"nodeId":';
    case "status":
      return '"status":';
    case "attempts":
      return '"attempts":';
    case "output":
      return '"output":';
    case "startedAt":
      return '"startedAt":';
    case "endedAt":
      return '"endedAt":';
    case "durable":
      return '"durable":';
    case "error":
      return '"error":';
    case "retryAt":
      return '"retryAt":';
    case "steps":
      return '"steps":';
    case "waits":
      return '"waits":';
    case "visit":
      return '"visit":';
    case "trigger":
      return '"trigger":';
    case "route":
      return '"route":';
    case "settleOrder":
      return '"settleOrder":';
    case "attemptLog":
      return '"attemptLog":';
    default:
      return undefined;
  }
}
