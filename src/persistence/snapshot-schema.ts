/**
 * The shape every stored document must have before a store hands it on:
 * the snapshot document, journal records, run summaries and leases. Hand
 * written (no schema library), each check walks the whole document once
 * and returns the first problem as a short phrase naming the field
 * ("nodes[3].status is not a node status"), or undefined when the shape is
 * right. Stores turn a problem into `SnapshotCorruptError` naming the file
 * or key, so a document that parsed but lost a field is refused at load,
 * never half-used by the engine.
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
type Check = (value: unknown, path: string) => ShapeProblem;

const isObject = (value: unknown): value is Obj => typeof value === "object" && value !== null && !Array.isArray(value);
const isCount = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
const isTime = (value: unknown): boolean => typeof value === "number" && !Number.isNaN(value);

const string: Check = (v, p) => (typeof v === "string" ? undefined : `${p} is not text`);
const boolean: Check = (v, p) => (typeof v === "boolean" ? undefined : `${p} is not true or false`);
const time: Check = (v, p) => (isTime(v) ? undefined : `${p} is not a time`);
const count: Check = (v, p) => (isCount(v) ? undefined : `${p} is not a whole number`);
const oneOf =
  (list: readonly string[], what: string): Check =>
  (v, p) =>
    typeof v === "string" && list.includes(v) ? undefined : `${p} is not ${what} (${JSON.stringify(v) ?? "missing"})`;
const anyValue: Check = () => undefined;

/** Fields of an object: required ones must be there, optional ones may be absent or undefined. */
function fields(required: Record<string, Check>, optional: Record<string, Check> = {}): Check {
  return (value, path) => {
    if (!isObject(value)) return `${path} is not an object`;
    for (const [key, check] of Object.entries(required)) {
      if (!Object.hasOwn(value, key)) return `${path}.${key} is missing`;
      const problem = check(value[key], `${path}.${key}`);
      if (problem !== undefined) return problem;
    }
    for (const [key, check] of Object.entries(optional)) {
      if (!Object.hasOwn(value, key) || value[key] === undefined) continue;
      const problem = check(value[key], `${path}.${key}`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

function listOf(item: Check): Check {
  return (value, path) => {
    if (!Array.isArray(value)) return `${path} is not a list`;
    for (let i = 0; i < value.length; i++) {
      const problem = item(value[i], `${path}[${i}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

function recordOf(item: Check): Check {
  return (value, path) => {
    if (!isObject(value)) return `${path} is not an object`;
    for (const key of Object.keys(value)) {
      const problem = item(value[key], `${path}[${JSON.stringify(key)}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

/** An `ErrorRecord`, with its causes (depth-limited: a cycle cannot be stored). */
const errorRecord: Check = (value, path) => {
  let current: unknown = value;
  let at = path;
  for (let depth = 0; current !== undefined; depth++) {
    if (depth > 100) return `${at} nests causes too deep`;
    const problem = fields({ name: string, message: string }, { code: string, stack: string })(current, at);
    if (problem !== undefined) return problem;
    current = (current as Obj).cause;
    at = `${at}.cause`;
  }
  return undefined;
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

const nodeRecord = fields(
  { id: string, nodeId: string, status: oneOf(NODE_STATUSES, "a node status"), attempts: count },
  {
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
  },
);

/** Checks a snapshot document (`SnapshotDocument`): version 1, its seq, the run meta and unique node records. */
export function checkSnapshot(value: unknown): ShapeProblem {
  if (!isObject(value)) return "it is not a snapshot document";
  if (value.version !== 1) return `it has snapshot format version ${String(value.version)}, expected 1`;
  const problem = fields({ seq: count, meta: runMeta, nodes: listOf(nodeRecord) })(value, "snapshot");
  if (problem !== undefined) return problem;
  const seen = new Set<string>();
  for (const node of value.nodes as { id: string }[]) {
    if (seen.has(node.id)) return `two node records have id ${JSON.stringify(node.id)}`;
    seen.add(node.id);
  }
  return undefined;
}

/** Checks one journal record (`JournalRecord`): a node record or a run meta, with its seq. */
export function checkRecord(value: unknown): ShapeProblem {
  if (!isObject(value)) return "it is not a journal record";
  if (value.kind === "node") return fields({ seq: count, node: nodeRecord })(value, "record");
  if (value.kind === "run") return fields({ seq: count, run: runMeta })(value, "record");
  return `record.kind is not "node" or "run" (${JSON.stringify(value.kind) ?? "missing"})`;
}

/** Checks a run summary (`RunSummary`). */
export function checkSummary(value: unknown): ShapeProblem {
  return fields(
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
  )(value, "summary");
}

/** Checks a lease (`Lease`). */
export function checkLease(value: unknown): ShapeProblem {
  return fields({ runId: string, owner: string, pid: count, host: string, expiresAt: time, token: count })(value, "lease");
}
