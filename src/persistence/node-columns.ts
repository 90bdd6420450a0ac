/**
 * Why this file is nearly 400 lines: it is one format, the node chunk, in
 * its three readings, which must agree field by field: how records become
 * columns (`toChunks`, with `sparseParts` and `sparseColumns`, which the
 * batch journal line's writer shares), how a parsed chunk is checked
 * before anything is built from it (`chunkProblem`), and how checked
 * columns become records again (`fromChunks`). Split, a new column or id
 * form would have to be changed in three files at once, and the check is
 * the only thing that stands between a damaged file and the reader's
 * unchecked indexing. The id column's two forms (a list; version 3's one
 * text) are part of all three readings, so they stay here too.
 *
 * What stands alone is elsewhere: the sparse column form that several of
 * the chunk's columns take, in its own three readings
 * (`sparse-column.ts`); the joined id texts of a graph's order and what
 * joins them (`joined-ids.ts`); the shape of a record's other fields and
 * of the document's head (`snapshot-schema.ts`, declared with
 * `shape-check.ts`); the file around the chunks (`snapshot-file.ts`); the
 * pieces it is written in (`serialization.ts`); a new run's chunks made
 * from its ids alone (`pending-chunks.ts`, a writer whose output a
 * property test holds equal to `toChunks`'); and a batch journal line's
 * chunk (`journal-batch.ts`: a faster walk of plain records, its read held
 * equal to per-record lines' by a property test).
 *
 * A snapshot file's node records as columns (snapshot format version 2,
 * `snapshot-file.ts`): records are stored in chunks of up to
 * {@link CHUNK_RECORDS} consecutive records, and a chunk holds one list
 * per field instead of one object per record. The ids are one list of
 * text, the statuses one string (a letter per record), the attempts one
 * list of numbers, the start and end times, the outputs and every other
 * field (`more`, an object per record that has any: its errors, its
 * attempt log, its steps…) are sparse columns that list only the records
 * that have them. Parsing that is a few big lists where the version 1
 * list of objects made an object (and parsed every key) per record: a
 * 10,000-record snapshot parses about three times faster and is half the
 * size.
 *
 * The id column (format version 3) is one text, the ids joined by a line
 * feed, when no id holds one (else, and in version 2, a list of texts): a
 * resumed run's graph holds the same ids in the same order, so a load
 * compares that one text with the graph's ids joined (a native join and
 * one string comparison) and takes the graph's own strings, where a list
 * made the parse build 10,000 strings and the load check and compare each.
 *
 * Invariants: {@link toChunks} then {@link fromChunks} gives records equal
 * to the ones written (each own key of a record is in exactly one column,
 * `nodeId` in `more` only when it differs from the id); the values are
 * the records' own (an output is the very value, so superjson annotates it
 * where it sits, as it did in a record). {@link chunkProblem} checks a
 * parsed chunk before anything is built from it: every column of the
 * right type and length, every position in range and in order, every
 * status a known letter, `more`'s fields as `snapshot-schema.ts` checks a
 * record's; {@link fromChunks} trusts a checked chunk.
 *
 * @module
 */
import type { NodeRecord } from "../state/records.js";
import type { NodeStatus } from "../state/status.js";
import { PIECE_ITEMS } from "./serialization.js";
import { isPlainObject, type ShapeProblem } from "./shape-check.js";
import { ID_SEPARATOR, joinedIds } from "./joined-ids.js";
import { nodeMoreProblem } from "./snapshot-schema.js";
import { asDifferences, eachPresent, isFiniteTime, sparseColumn, sparseProblem, timeProblem, type Sparse, type TimeColumn } from "./sparse-column.js";

/** Records per chunk: a chunk is one piece of a big snapshot's text (`serializeInPieces`), a megabyte or two. */
export const CHUNK_RECORDS = PIECE_ITEMS;

/** Up to {@link CHUNK_RECORDS} consecutive node records, as columns. */
export interface NodeChunk {
  /** Each record's id: a list, or (format version 3) the ids joined by {@link ID_SEPARATOR} when none holds it. */
  readonly id: readonly string[] | string;
  /** Each record's status, one letter each ({@link STATUS_LETTERS}). */
  readonly status: string;
  /** Each record's attempts. */
  readonly attempts: readonly number[];
  /** The outputs of the records that have one (the key, whatever its value). */
  readonly output: Sparse<unknown>;
  /** The end times that are finite numbers. */
  readonly endedAt: TimeColumn;
  /** The start times that are finite numbers. */
  readonly startedAt: TimeColumn;
  /** Every other own field of the records that have any, as an object per record (`nodeId` only when it differs from the id). */
  readonly more: Sparse<Readonly<Record<string, unknown>>>;
}

/** The letter of each node status in {@link NodeChunk.status}: fixed for good (a stored file keeps them), one per status. */
export const STATUS_LETTERS: Readonly<Record<NodeStatus, string>> = {
  pending: "p",
  ready: "r",
  running: "R",
  retrying: "t",
  succeeded: "s",
  failed: "f",
  waiting: "w",
  skipped: "k",
  cancelled: "c",
};

/** Status by letter's char code. */
const STATUS_BY_CODE: (NodeStatus | undefined)[] = [];
for (const [status, letter] of Object.entries(STATUS_LETTERS)) STATUS_BY_CODE[letter.charCodeAt(0)] = status as NodeStatus;

/** The fields with a column of their own (the times only when they are finite numbers: `more` holds any other). */
const COLUMN_KEYS = new Set(["id", "status", "attempts", "output", "endedAt", "startedAt"]);
/** The fields `more` never holds. */
const NEVER_MORE = new Set(["id", "status", "attempts", "output"]);

/**
 * The positions and values of a chunk's four sparse columns while a
 * writer's walk makes them ({@link sparseParts}; `toChunk` here, and
 * `journal-batch.ts`' batch line). Each column has its own two arrays,
 * pushed at their own places in the walk: a builder class shared by the
 * four columns made every push polymorphic (small integers, doubles,
 * objects), and its optimized code was thrown away at each full garbage
 * collection: the first 10,000-record chunk made after one took about
 * 10 ms against 1.5 ms (issue 16, eleventh pass).
 */
export interface SparseParts {
  readonly outputAt: number[];
  readonly outputs: unknown[];
  readonly endedAt: number[];
  readonly ends: number[];
  readonly startedAt: number[];
  readonly starts: number[];
  readonly moreAt: number[];
  readonly mores: Record<string, unknown>[];
}

/** Empty {@link SparseParts}. */
export function sparseParts(): SparseParts {
  return { outputAt: [], outputs: [], endedAt: [], ends: [], startedAt: [], starts: [], moreAt: [], mores: [] };
}

/** The four sparse columns of a chunk of `count` records, from what its walk pushed. */
export function sparseColumns(parts: SparseParts, count: number): Pick<NodeChunk, "output" | "endedAt" | "startedAt" | "more"> {
  return {
    output: sparseColumn(parts.outputAt, parts.outputs, count),
    endedAt: asDifferences(sparseColumn(parts.endedAt, parts.ends, count)),
    startedAt: asDifferences(sparseColumn(parts.startedAt, parts.starts, count)),
    more: sparseColumn(parts.moreAt, parts.mores, count),
  };
}

/** The records of `records` as chunks of up to `perChunk` records. */
export function toChunks(records: Iterable<NodeRecord>, perChunk = CHUNK_RECORDS, idText = true): NodeChunk[] {
  const chunks: NodeChunk[] = [];
  let batch: NodeRecord[] = [];
  for (const n of records) {
    batch.push(n);
    if (batch.length === perChunk) {
      chunks.push(toChunk(batch, idText));
      batch = [];
    }
  }
  if (batch.length > 0) chunks.push(toChunk(batch, idText));
  return chunks;
}

/** One chunk's columns; `idText`: the ids as one text when none holds {@link ID_SEPARATOR} (format version 3), else a list. */
function toChunk(records: readonly NodeRecord[], idText: boolean): NodeChunk {
  const count = records.length;
  const id = new Array<string>(count);
  let joinable = idText;
  const attempts = new Array<number>(count);
  let status = "";
  const parts = sparseParts();
  for (let p = 0; p < count; p++) {
    const n = records[p]!;
    id[p] = n.id;
    if (joinable && n.id.includes(ID_SEPARATOR)) joinable = false;
    status += STATUS_LETTERS[n.status];
    attempts[p] = n.attempts;
    if (Object.hasOwn(n, "output")) {
      parts.outputAt.push(p);
      parts.outputs.push(n.output);
    }
    let rest: Record<string, unknown> | undefined;
    if (isFiniteTime(n.endedAt)) {
      parts.endedAt.push(p);
      parts.ends.push(n.endedAt);
    } else if (Object.hasOwn(n, "endedAt")) (rest ??= {}).endedAt = n.endedAt;
    if (isFiniteTime(n.startedAt)) {
      parts.startedAt.push(p);
      parts.starts.push(n.startedAt);
    } else if (Object.hasOwn(n, "startedAt")) (rest ??= {}).startedAt = n.startedAt;
    for (const key in n) {
      if (COLUMN_KEYS.has(key) || !Object.hasOwn(n, key)) continue;
      const value = (n as unknown as Record<string, unknown>)[key];
      if (key === "nodeId" && value === n.id) continue;
      // defineProperty: an own "__proto__" key stays a key.
      Object.defineProperty((rest ??= {}), key, { value, enumerable: true, writable: true, configurable: true });
    }
    if (rest !== undefined) {
      parts.moreAt.push(p);
      parts.mores.push(rest);
    }
  }
  return { id: joinable ? id.join(ID_SEPARATOR) : id, status, attempts, ...sparseColumns(parts, count) };
}

type Building = { -readonly [K in keyof NodeRecord]: NodeRecord[K] } & Record<string, unknown>;

/**
 * The node records of checked chunks ({@link chunkProblem}), in order: the
 * records made from the dense columns and the output and time columns,
 * then `more` laid into them (every record gains its fields in one order,
 * so records of one kind share one shape). A record that has an output
 * and both times (a succeeded node's) is made as one literal, in the
 * order and shape the engine makes it (`markSucceeded`): its fields sit in
 * the object itself, with no property list of their own to allocate, and
 * the engine's code meets one shape for loaded and new records alike.
 *
 * With `order` (the ids the records are expected to hold, by position: a
 * resumed run's graph nodes), a record whose id is the one `order` holds
 * at its position gets `order`'s string as its id and node id, equal text
 * in another string: every later comparison of the run's ids with the
 * graph's (the replay's layout check, the resume's checks, the ready set,
 * the run's outputs keyed by node id) then meets the very same string
 * rather than comparing two copies, and the parsed copies die with the
 * document. An id text (format version 3) that is `order`'s ids joined
 * is not split at all: its records take `order`'s strings, and
 * {@link startsWithOrder} says so.
 */
export function fromChunks(chunks: readonly NodeChunk[], order?: readonly string[]): NodeRecord[] {
  const out: NodeRecord[] = [];
  let laidOut = order !== undefined;
  for (const chunk of chunks) {
    const first = out.length;
    const { attempts, status } = chunk;
    const count = status.length;
    // The graph's own ids when the chunk's text is theirs (one comparison), else the chunk's.
    const own = order !== undefined && typeof chunk.id === "string" && chunk.id === joinedIds(order, first, count);
    const id = own ? order : typeof chunk.id === "string" ? chunk.id.split(ID_SEPARATOR) : chunk.id;
    const offset = own ? first : 0;
    if (!own) laidOut = false;
    // The three sparse columns are walked alongside the records, one cursor each (no index or value list made
    // first): for each, `list` is its `at` or `skip` positions (`skips` says which) and `next` the next of them;
    // a record has the field when its position is listed in `at`, or not listed in `skip`. A time column's values
    // are its differences summed as the walk goes (`d`), or its values (`v`).
    const output = chunk.output;
    const outputs = output.v;
    const oSkips = "skip" in output;
    const oList = oSkips ? output.skip : output.at;
    let oNext = 0;
    let oK = 0;
    const ended = chunk.endedAt;
    const eSkips = "skip" in ended;
    const eList = eSkips ? ended.skip : ended.at;
    const eDiffs = "d" in ended ? ended.d : undefined;
    const eValues = "v" in ended ? ended.v : eDiffs!;
    let eNext = 0;
    let eK = 0;
    let eSum = 0;
    const started = chunk.startedAt;
    const tSkips = "skip" in started;
    const tList = tSkips ? started.skip : started.at;
    const tDiffs = "d" in started ? started.d : undefined;
    const tValues = "v" in started ? started.v : tDiffs!;
    let tNext = 0;
    let tK = 0;
    let tSum = 0;
    // Made straight into `out` (a packed list, as the table's shards are sliced from it); `more` is laid in after.
    for (let p = 0; p < count; p++) {
      const oListed = oNext < oList.length && oList[oNext] === p;
      if (oListed) oNext += 1;
      const eListed = eNext < eList.length && eList[eNext] === p;
      if (eListed) eNext += 1;
      const tListed = tNext < tList.length && tList[tNext] === p;
      if (tListed) tNext += 1;
      const nodeStatus = STATUS_BY_CODE[status.charCodeAt(p)]!;
      let key = id[offset + p]!;
      if (order !== undefined && !own) {
        // The caller's own string for the same id (see the function comment).
        const mine = order[first + p];
        if (mine === key) key = mine;
      }
      const hasOutput = oListed !== oSkips;
      const hasEnded = eListed !== eSkips;
      const hasStarted = tListed !== tSkips;
      const endedAt = hasEnded ? (eDiffs === undefined ? eValues[eK++]! : (eSum += eDiffs[eK++]!)) : 0;
      const startedAt = hasStarted ? (tDiffs === undefined ? tValues[tK++]! : (tSum += tDiffs[tK++]!)) : 0;
      if (hasOutput && hasEnded && hasStarted) {
        out.push({ id: key, nodeId: key, status: nodeStatus, attempts: attempts[p]!, output: outputs[oK++], endedAt, startedAt });
        continue;
      }
      const n: Building = { id: key, nodeId: key, status: nodeStatus, attempts: attempts[p]! };
      if (hasOutput) n.output = outputs[oK++];
      if (hasEnded) n.endedAt = endedAt;
      if (hasStarted) n.startedAt = startedAt;
      out.push(n);
    }
    eachPresent(chunk.more, chunk.more.v, count, (p, m) => {
      const n = out[first + p] as Building;
      for (const key in m) {
        if (!Object.hasOwn(m, key)) continue;
        // defineProperty for an own "__proto__" key, which an assignment would take as the prototype.
        if (key === "__proto__") Object.defineProperty(n, key, { value: m[key], enumerable: true, writable: true, configurable: true });
        else n[key] = m[key];
      }
    });
  }
  if (laidOut && order !== undefined && out.length >= order.length) LAID_OUT.set(out, order);
  return out;
}

/** Record lists {@link fromChunks} made whose first records hold, by position, the very ids of the order it was given. */
const LAID_OUT = new WeakMap<readonly NodeRecord[], readonly string[]>();

/**
 * True when {@link fromChunks} made `records` from chunks whose id texts
 * were `order`'s ids (format version 3), so the first `order.length`
 * records hold `order`'s ids at their positions: a load's layout check
 * (`replay.ts`) then needs no pass over them.
 */
export function startsWithOrder(records: readonly NodeRecord[], order: readonly string[]): boolean {
  return LAID_OUT.get(records) === order;
}

/** The number of records of checked chunks. */
export function chunkRecords(chunks: readonly NodeChunk[]): number {
  let n = 0;
  for (const chunk of chunks) n += chunk.status.length;
  return n;
}

/**
 * What is wrong with the chunk list `value` (a parsed `nodes`), as a
 * phrase naming the place (`nodes[0].status[3] is not a node status
 * letter`), or undefined when every chunk is right.
 */
export function chunksProblem(value: unknown, idText = true): ShapeProblem {
  if (!Array.isArray(value)) return "nodes is not a list";
  for (let c = 0; c < value.length; c++) {
    const problem = chunkProblem(value[c], idText);
    if (problem !== undefined) return `nodes[${c}]${problem}`;
  }
  return undefined;
}

/**
 * What is wrong with one chunk, after its place (`.status[3] is not…`), or
 * undefined; `idText`: its id column may be one text (format version 3).
 */
export function chunkProblem(value: unknown, idText = true): ShapeProblem {
  if (!isPlainObject(value)) return " is not an object";
  const { id, status, attempts } = value;
  let count: number;
  if (idText && typeof id === "string") {
    // As many ids as separators and one: counted by the separators' positions, no id made.
    count = 1;
    for (let at = id.indexOf(ID_SEPARATOR); at >= 0 && count <= CHUNK_RECORDS; at = id.indexOf(ID_SEPARATOR, at + 1)) count += 1;
  } else {
    if (!Array.isArray(id)) return idText ? ".id is neither text nor a list" : ".id is not a list";
    count = id.length;
    if (count > CHUNK_RECORDS) return `.id has ${count} records, more than ${CHUNK_RECORDS}`;
    for (let p = 0; p < count; p++) if (typeof id[p] !== "string") return `.id[${p}] is not text`;
  }
  if (count > CHUNK_RECORDS) return `.id has more than ${CHUNK_RECORDS} records`;
  if (typeof status !== "string") return ".status is not text";
  if (status.length !== count) return `.status has ${status.length} letters for ${count} records`;
  for (let p = 0; p < count; p++) if (STATUS_BY_CODE[status.charCodeAt(p)] === undefined) return `.status[${p}] is not a node status letter`;
  if (!Array.isArray(attempts)) return ".attempts is not a list";
  if (attempts.length !== count) return `.attempts has ${attempts.length} numbers for ${count} records`;
  // Each a safe integer at least 0. A 32-bit integer is one when `| 0` gives it back, with no call: a load checks
  // every record's, mostly before the code is optimized, where a call per record costs several times the test.
  for (let p = 0; p < count; p++) {
    const a: unknown = attempts[p];
    if (typeof a !== "number" || a < 0 || ((a | 0) !== a && !Number.isSafeInteger(a))) return `.attempts[${p}] is not a whole number`;
  }
  return (
    sparseProblem(value.output, "output", count) ??
    timeProblem(value.endedAt, "endedAt", count) ??
    timeProblem(value.startedAt, "startedAt", count) ??
    sparseProblem(value.more, "more", count, moreProblem)
  );
}

/** What is wrong with one record's `more` fields, after its place, or undefined. */
function moreProblem(value: unknown): ShapeProblem {
  if (!isPlainObject(value)) return " is not an object";
  for (const key in value) if (NEVER_MORE.has(key)) return `.${key} has a column of its own`;
  // Optional fields may be undefined, but a record's node id may not (it replaces the id's).
  if (Object.hasOwn(value, "nodeId") && typeof value.nodeId !== "string") return ".nodeId is not text";
  return nodeMoreProblem(value);
}
