/**
 * The shape of a stored schedule, checked on every read. A schedule file
 * that parses but is not a schedule (a row of its history, its lease or a
 * field of the wrong type, e.g. after a hand edit or a partial restore)
 * must be refused where it is read, naming the file, rather than crash the
 * scheduler's loop or `taskloom schedule ls` later with a `TypeError`.
 *
 * {@link scheduleShapeProblem} returns the first problem found, as a short
 * phrase, or undefined when the value is a schedule record. Extra fields
 * are allowed (a newer version may add some); missing or mistyped known
 * fields are not.
 *
 * @module
 */
import { CATCH_UP_POLICIES } from "./repeat.js";
import { SCHEDULE_STATUSES } from "./schedule-record.js";

type Check = (value: unknown) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const finite = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);

const num: Check = (v) => (finite(v) ? undefined : "is not a number");
const str: Check = (v) => (typeof v === "string" ? undefined : "is not a string");
const bool: Check = (v) => (typeof v === "boolean" ? undefined : "is not true or false");
const oneOf =
  (values: readonly string[]): Check =>
  (v) =>
    typeof v === "string" && values.includes(v) ? undefined : `is not one of ${values.join(", ")}`;
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined ? undefined : check(v);

/** `key` joined to a problem of its value: a continued path (".url …", "[2] …") or a phrase. */
const join = (key: string, problem: string): string => (problem.startsWith(".") || problem.startsWith("[") ? `${key}${problem}` : `${key} ${problem}`);

/** The first problem of an object's `fields`, as ".field …". */
function fieldsOf(value: unknown, fields: Record<string, Check>): string | undefined {
  if (!isObject(value)) return "is not an object";
  for (const [key, check] of Object.entries(fields)) {
    const problem = check(value[key]);
    if (problem !== undefined) return join(`.${key}`, problem);
  }
  return undefined;
}

const nested =
  (fields: Record<string, Check>): Check =>
  (v) =>
    fieldsOf(v, fields);

const listOf =
  (item: Check): Check =>
  (v) => {
    if (!Array.isArray(v)) return "is not a list";
    for (let i = 0; i < v.length; i++) {
      const problem = item(v[i]);
      if (problem !== undefined) return join(`[${i}]`, problem);
    }
    return undefined;
  };

const errorRecord = nested({ name: str, message: str, code: optional(str) });

const callback = nested({
  url: str,
  delivered: bool,
  done: bool,
  attempts: listOf(nested({ at: num, status: optional(num), error: optional(str), durationMs: num })),
});

const ROW_FIELDS: Record<string, Record<string, Check>> = {
  run: {
    slot: num,
    runId: str,
    status: oneOf(["running", "succeeded", "failed", "waiting", "cancelled"]),
    startedAt: num,
    endedAt: optional(num),
    durationMs: optional(num),
    error: optional(errorRecord),
    callback: optional(callback),
  },
  missed: { count: num, first: num, last: num, policy: oneOf(CATCH_UP_POLICIES), at: num },
  error: { slot: num, at: num, error: errorRecord },
};

const row: Check = (v) => {
  if (!isObject(v)) return "is not an object";
  const fields = typeof v.kind === "string" && Object.hasOwn(ROW_FIELDS, v.kind) ? ROW_FIELDS[v.kind] : undefined;
  if (fields === undefined) return ".kind is not one of run, missed, error";
  return fieldsOf(v, fields);
};

const when: Check = (v) => {
  if (!isObject(v)) return "is not an object";
  if (v.kind === "at") return fieldsOf(v, { at: num });
  if (v.kind === "cron") return fieldsOf(v, { cron: str, timezone: str });
  return ".kind is not at or cron";
};

const RECORD_FIELDS: Record<string, Check> = {
  graphName: str,
  modulePath: optional(str),
  exportName: optional(str),
  when,
  whenText: str,
  everyMs: optional(num),
  times: optional(num),
  until: optional(num),
  catchUp: oneOf(CATCH_UP_POLICIES),
  timezone: str,
  callbackUrl: optional(str),
  callbackSecret: optional(str),
  callbackRetry: nested({ maxAttempts: num, initialMs: num, factor: num, maxMs: num, timeoutMs: num }),
  runIdPrefix: optional(str),
  metadata: () => undefined, // any JSON
  runOptions: optional(
    nested({
      timeoutMs: optional(num),
      executor: optional(str),
      maxConcurrency: optional(num),
      retry: optional((v) => (isObject(v) ? undefined : "is not an object")),
      maxVisits: optional(num),
      continueOnError: optional(bool),
    }),
  ),
  status: oneOf(SCHEDULE_STATUSES),
  createdAt: num,
  updatedAt: num,
  nextRunAt: optional(num),
  fired: num,
  lease: optional(nested({ owner: str, pid: num, host: str, expiresAt: num, token: num })),
  history: listOf(row),
};

/**
 * The first way `value` is not the stored schedule `id`, or undefined when it is one.
 *
 * @example
 * ```ts
 * scheduleShapeProblem({ version: 1, id: "x" }, "x"); // "graphName is not a string"
 * ```
 */
export function scheduleShapeProblem(value: unknown, id: string): string | undefined {
  if (!isObject(value)) return "it is not an object";
  if (value.version !== 1) return `its version is ${JSON.stringify(value.version) ?? "missing"}, not 1`;
  if (value.id !== id) return `its id is ${JSON.stringify(value.id) ?? "missing"}, not "${id}"`;
  const problem = fieldsOf(value, RECORD_FIELDS);
  return problem === undefined ? undefined : problem.slice(1);
}
