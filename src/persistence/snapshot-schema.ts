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
 * The mechanism the shapes are made with (leaves, `fields`, `listOf`,
 * `recordOf`, the two passes, `problemOf`) is `shape-check.ts`; this file
 * declares the stored documents' shapes and the checks the stores call.
 *
 * @module
 */
import { valueText } from "../core/text.js";
import { NODE_STATUSES, RUN_STATUSES } from "../state/status.js";
import { ATTEMPT_OUTCOMES } from "../state/records.js";
import {
  anyValue,
  boolean,
  count,
  fault,
  fields,
  isObject,
  leaf,
  listOf,
  oneOf,
  phrase,
  problemOf,
  recordOf,
  shown,
  string,
  time,
  type Obj,
  type Shape,
  type ShapeProblem,
} from "./shape-check.js";

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
    instance: string,
    parentInstance: string,
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
  { sessionId: string, agentId: string, appId: string, parentRunId: string, parentInstance: string, succeededCount: count, failedCount: count },
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
  if (value.version !== 1) return `it has snapshot format version ${valueText(value.version)}, expected 1`;
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
  return problemOf(snapshotHead, "snapshot", value);
}

/**
 * Checks the fields of one node record other than its id, status,
 * attempts, output and times (what a version 2 snapshot keeps in its
 * `more` column): the problem after the record's place
 * (`.error.name is not text`), or undefined.
 */
export function nodeMoreProblem(value: unknown): ShapeProblem {
  return problemOf(nodeMore, "", value);
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
  return problemOf(summaryFields, "summary", value);
}

/** Checks a lease (`Lease`). */
export function checkLease(value: unknown): ShapeProblem {
  return problemOf(leaseFields, "lease", value);
}
