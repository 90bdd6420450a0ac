/**
 * The shape every stored document must have before a store hands it on:
 * the snapshot document, journal records, run summaries and leases. Hand
 * written (no schema library). Each shape is declared once and checked two
 * ways: a fast pass that only says yes or no (it allocates nothing and
 * reads each own key of an object once: a 10,000-record snapshot costs
 * about half what the walk does), and, only when that says no, the walk
 * that goes through the fields in declared order and returns the first
 * problem as a short phrase naming the field ("nodes[3].status is not a
 * node status"), or undefined when the shape is right. So a damaged
 * document gets the same verdict and message as with the walk alone (a
 * property test holds the two together: `checkSnapshotFully`). Stores
 * turn a problem into `SnapshotCorruptError` naming the file or key, so a
 * document that parsed but lost a field is refused at load, never
 * half-used by the engine.
 *
 * What is checked: every field the engine reads, with its type; the run
 * and node statuses against their lists; sequence numbers and counts are
 * non-negative integers; node ids are unique in a snapshot. What is not:
 * user values (inputs, outputs, step results, payloads: any value), and
 * fields this version does not know (a newer writer may add some), which
 * are let through.
 *
 * @module
 */
import { NODE_STATUSES, RUN_STATUSES } from "../state/status.js";
import { ATTEMPT_OUTCOMES } from "../state/records.js";

/** A problem with a document's shape, or undefined. */
export type ShapeProblem = string | undefined;

type Obj = Record<string, unknown>;

/**
 * What is wrong with a value: `what` (" is not text") after the path to
 * it, whose pieces (".status", "[3]") are gathered on the way out of the
 * walk, so a value that is right costs no text at all.
 */
interface Fault {
  readonly at: string[];
  readonly what: string;
}

/**
 * One shape, checked two ways: `ok` only says whether a value fits, as
 * fast as it can (no allocation, an object's own keys read once each);
 * `check` walks the fields in their declared order and names the first
 * problem. `ok` is the pass every document takes; `check` runs only when
 * `ok` said no, so the problem reported is the same as without `ok`. Both
 * are made from one declaration below, and `ok` is never more lenient:
 * when `ok` is true, `check` finds nothing (it is stricter where that is
 * cheaper, e.g. an object must have the plain object prototype, so what it
 * refuses goes to `check` to decide).
 */
interface Shape {
  readonly ok: (value: unknown) => boolean;
  readonly check: (value: unknown) => Fault | undefined;
}

const fault = (what: string): Fault => ({ at: [], what });
/** `fault` with `piece` put in front of its path. */
const under = (piece: string, found: Fault): Fault => {
  found.at.push(piece);
  return found;
};
/** The problem phrase of `found` at the document's root `root`. */
const phrase = (root: string, found: Fault): string => `${root}${found.at.reverse().join("")}${found.what}`;

const isObject = (value: unknown): value is Obj => typeof value === "object" && value !== null && !Array.isArray(value);
/** An object as `JSON.parse` makes it (the fast pass takes no other: no own keys hidden from `for…in`, none inherited). */
export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
const isCount = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
const isTime = (value: unknown): boolean => typeof value === "number" && !Number.isNaN(value);

/** A value as a problem phrase shows it: its JSON, "missing", or (a `BigInt`, a cycle…) its type. */
function shown(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "missing";
  } catch {
    return `a ${typeof value}`;
  }
}

/** A shape of one value, whose only problem is `what`. */
const leaf = (ok: (value: unknown) => boolean, what: (value: unknown) => string): Shape => ({
  ok,
  check: (v) => (ok(v) ? undefined : fault(what(v))),
});
const string = leaf(
  (v) => typeof v === "string",
  () => " is not text",
);
const boolean = leaf(
  (v) => typeof v === "boolean",
  () => " is not true or false",
);
const time = leaf(isTime, () => " is not a time");
const count = leaf(isCount, () => " is not a whole number");
const oneOf = (list: readonly string[], what: string): Shape => {
  const allowed = new Set(list);
  return leaf(
    (v) => typeof v === "string" && allowed.has(v),
    (v) => ` is not ${what} (${shown(v)})`,
  );
};
const anyValue = leaf(
  () => true,
  () => "",
);

/** Fields of an object: required ones must be there, optional ones may be absent or undefined. */
function fields(required: Record<string, Shape>, optional: Record<string, Shape> = {}): Shape {
  // Listed once, not at every call: a snapshot checks this for each of its records.
  const must = Object.entries(required);
  const may = Object.entries(optional);
  // For `ok`: each known key's shape, and whether it is required.
  const known = new Map<string, { shape: Shape; required: boolean }>();
  for (const [key, shape] of may) known.set(key, { shape, required: false });
  for (const [key, shape] of must) known.set(key, { shape, required: true });
  return {
    ok: (value) => {
      if (!isPlainObject(value)) return false;
      let present = 0;
      for (const key in value) {
        const field = known.get(key);
        if (field === undefined) continue;
        const v = value[key];
        if (field.required) {
          // An enumerable key on Object.prototype would reach here too: only an own one counts.
          if (!Object.hasOwn(value, key)) return false;
          present += 1;
        } else if (v === undefined) continue;
        if (!field.shape.ok(v)) return false;
      }
      return present === must.length;
    },
    check: (value) => {
      if (!isObject(value)) return fault(" is not an object");
      for (const [key, shape] of must) {
        if (!Object.hasOwn(value, key)) return fault(`.${key} is missing`);
        const found = shape.check(value[key]);
        if (found !== undefined) return under(`.${key}`, found);
      }
      for (const [key, shape] of may) {
        const field = value[key];
        if (field === undefined || !Object.hasOwn(value, key)) continue;
        const found = shape.check(field);
        if (found !== undefined) return under(`.${key}`, found);
      }
      return undefined;
    },
  };
}

function listOf(item: Shape): Shape {
  return {
    ok: (value) => {
      if (!Array.isArray(value)) return false;
      for (let i = 0; i < value.length; i++) if (!item.ok(value[i])) return false;
      return true;
    },
    check: (value) => {
      if (!Array.isArray(value)) return fault(" is not a list");
      for (let i = 0; i < value.length; i++) {
        const found = item.check(value[i]);
        if (found !== undefined) return under(`[${i}]`, found);
      }
      return undefined;
    },
  };
}

function recordOf(item: Shape): Shape {
  return {
    ok: (value) => {
      if (!isPlainObject(value)) return false;
      for (const key in value) if (!item.ok(value[key])) return false;
      return true;
    },
    check: (value) => {
      if (!isObject(value)) return fault(" is not an object");
      for (const key of Object.keys(value)) {
        const found = item.check(value[key]);
        if (found !== undefined) return under(`[${JSON.stringify(key)}]`, found);
      }
      return undefined;
    },
  };
}

const errorFields = fields({ name: string, message: string }, { code: string, stack: string });
const MAX_CAUSES = 100;

/** An `ErrorRecord`, with its causes (depth-limited: a cycle cannot be stored). */
const errorRecord: Shape = {
  ok: (value) => {
    let current: unknown = value;
    for (let depth = 0; current !== undefined; depth++) {
      if (depth > MAX_CAUSES || !errorFields.ok(current)) return false;
      current = (current as Obj).cause;
    }
    return true;
  },
  check: (value) => {
    let current: unknown = value;
    for (let depth = 0; current !== undefined; depth++) {
      if (depth > MAX_CAUSES) return fault(`${".cause".repeat(depth)} nests causes too deep`);
      const found = errorFields.check(current);
      if (found !== undefined) {
        for (let d = 0; d < depth; d++) found.at.push(".cause");
        return found;
      }
      current = (current as Obj).cause;
    }
    return undefined;
  },
};

const pendingWait = fields({ key: string, nodeId: string, since: time }, { deadline: time });
const waitRecord = fields({ since: time }, { deadline: time, resolved: fields({ payload: anyValue, at: time }) });
const inboxEntry = fields({ payload: anyValue, at: time });

const runMeta = fields(
  {
    runId: string,
    graphName: string,
    fingerprint: string,
    status: oneOf(RUN_STATUSES, "a run status"),
    createdAt: time,
    updatedAt: time,
    starts: count,
    waits: listOf(pendingWait),
  },
  {
    inputs: anyValue,
    startedAt: time,
    endedAt: time,
    outputs: anyValue,
    error: errorRecord,
    inbox: recordOf(inboxEntry),
    sessionId: string,
    agentId: string,
    appId: string,
    deadline: time,
    parentRunId: string,
    sessions: listOf(fields({ startedAt: time }, { endedAt: time })),
  },
);

const attemptRecord = fields({ startedAt: time, outcome: oneOf(ATTEMPT_OUTCOMES, "an attempt outcome") }, { endedAt: time, error: errorRecord });

/** A node record's optional fields. */
const nodeOptional = {
  output: anyValue,
  durable: boolean,
  error: errorRecord,
  startedAt: time,
  endedAt: time,
  retryAt: time,
  steps: recordOf(anyValue),
  waits: recordOf(waitRecord),
  visit: count,
  trigger: fields({ from: string, route: string }),
  route: string,
  settleOrder: count,
  attemptLog: listOf(attemptRecord),
};
const nodeRecord = fields({ id: string, nodeId: string, status: oneOf(NODE_STATUSES, "a node status"), attempts: count }, nodeOptional);
/** The fields of a record that a version 2 snapshot keeps in its `more` column (`node-columns.ts`): the optional ones, and `nodeId`. */
const nodeMore = fields({}, { nodeId: string, ...nodeOptional });

const snapshotFields = fields({ seq: count, meta: runMeta, nodes: listOf(nodeRecord) });
const snapshotHead = fields({ seq: count, meta: runMeta });
/** A node record whose attempt log is the previous record's says so (`journal-delta.ts`). */
const nodeEntry = fields(
  { seq: count, node: nodeRecord },
  {
    sameLog: leaf(
      (v) => v === true,
      () => " is not true",
    ),
  },
);
/** A node record written as the previous record reset (`journal-delta.ts`). */
const resetEntry = fields({ seq: count, reset: string });
/** Consecutive node records, each the previous record reset (`journal-delta.ts`): one id or more, seqs from 0 up (checked after). */
const resetsEntry = fields({ seq: count, resets: listOf(string) });
/** The shape of a node journal record: a reset, a line of resets, or a whole record (with or without `sameLog`). */
const nodeEntryOf = (value: Obj): Shape => (Object.hasOwn(value, "reset") ? resetEntry : Object.hasOwn(value, "resets") ? resetsEntry : nodeEntry);
const runEntry = fields({ seq: count, run: runMeta });
const summaryFields = fields(
  {
    runId: string,
    graphName: string,
    status: oneOf(RUN_STATUSES, "a run status"),
    nodeCount: count,
    settledCount: count,
    createdAt: time,
    updatedAt: time,
    waits: listOf(pendingWait),
  },
  { sessionId: string, agentId: string, appId: string, parentRunId: string, succeededCount: count, failedCount: count },
);
const leaseFields = fields({ runId: string, owner: string, pid: count, host: string, expiresAt: time, token: count });

/** Checks a snapshot document (`SnapshotDocument`): version 1, its seq, the run meta and unique node records. */
export function checkSnapshot(value: unknown): ShapeProblem {
  return snapshotProblem(value, true) ?? duplicateNodeId((value as { nodes: readonly { id: string }[] }).nodes);
}

/** {@link checkSnapshot} without the fast pass: the field-by-field walk alone, the reference the fast pass is tested against. */
export function checkSnapshotFully(value: unknown): ShapeProblem {
  return snapshotProblem(value, false) ?? duplicateNodeId((value as { nodes: readonly { id: string }[] }).nodes);
}

/**
 * {@link checkSnapshot} except that node ids are not checked for being
 * unique: for a reader that indexes the records by id anyway and so sees a
 * repeated one for nothing (`Replay`, which reports it as
 * {@link duplicateNodeId} phrases it). A set of 10,000 ids is about a third
 * of the check's time.
 */
export function checkSnapshotFields(value: unknown): ShapeProblem {
  return snapshotProblem(value, true);
}

/** The problem of a snapshot's node list in which two records have one id (the first repeated), or undefined. */
export function duplicateNodeId(nodes: readonly { readonly id: string }[]): ShapeProblem {
  const seen = new Set<string>();
  for (const node of nodes) {
    if (seen.has(node.id)) return `two node records have id ${JSON.stringify(node.id)}`;
    seen.add(node.id);
  }
  return undefined;
}

function snapshotProblem(value: unknown, fast: boolean): ShapeProblem {
  if (!isObject(value)) return "it is not a snapshot document";
  if (value.version !== 1) return `it has snapshot format version ${String(value.version)}, expected 1`;
  if (!fast || !snapshotFields.ok(value)) {
    const found = snapshotFields.check(value);
    if (found !== undefined) return phrase("snapshot", found);
  }
  return undefined;
}

/**
 * Checks a version 2 snapshot document's own fields (`snapshot-file.ts`):
 * its seq and run meta; its node chunks are checked by `node-columns.ts`.
 */
export function checkSnapshotHead(value: unknown): ShapeProblem {
  const found = snapshotHead.ok(value) ? undefined : snapshotHead.check(value);
  return found === undefined ? undefined : phrase("snapshot", found);
}

/**
 * Checks the fields of one node record other than its id, status,
 * attempts, output and times (what a version 2 snapshot keeps in its
 * `more` column): the problem after the record's place
 * (`.error.name is not text`), or undefined.
 */
export function nodeMoreProblem(value: unknown): ShapeProblem {
  const found = nodeMore.ok(value) ? undefined : nodeMore.check(value);
  return found === undefined ? undefined : phrase("", found);
}

/** Checks one journal record (`JournalRecord`, or a compact one: `journal-delta.ts`): a node record or a run meta, with its seq. */
export function checkRecord(value: unknown): ShapeProblem {
  return recordProblem(value, true);
}

/** {@link checkRecord} without the fast pass (see {@link checkSnapshotFully}). */
export function checkRecordFully(value: unknown): ShapeProblem {
  return recordProblem(value, false);
}

function recordProblem(value: unknown, fast: boolean): ShapeProblem {
  if (!isObject(value)) return "it is not a journal record";
  const entry = value.kind === "node" ? nodeEntryOf(value) : value.kind === "run" ? runEntry : undefined;
  const found = entry === undefined || (fast && entry.ok(value)) ? undefined : entry.check(value);
  if (found !== undefined) return phrase("record", found);
  // The first of a line of resets has seq `seq - resets.length + 1`, a sequence number too.
  const resets = entry === resetsEntry ? (value.resets as unknown[]).length : -1;
  if (resets === 0 || (resets > 0 && (value.seq as number) < resets - 1))
    return `record.resets holds ${resets} resets, which seq ${String(value.seq)} cannot end`;
  if (value.kind === "node" || value.kind === "run") return undefined;
  return `record.kind is not "node" or "run" (${shown(value.kind)})`;
}

/** Checks a run summary (`RunSummary`). */
export function checkSummary(value: unknown): ShapeProblem {
  const found = summaryFields.ok(value) ? undefined : summaryFields.check(value);
  return found === undefined ? undefined : phrase("summary", found);
}

/** Checks a lease (`Lease`). */
export function checkLease(value: unknown): ShapeProblem {
  const found = leaseFields.ok(value) ? undefined : leaseFields.check(value);
  return found === undefined ? undefined : phrase("lease", found);
}
