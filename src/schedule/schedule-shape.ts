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
 * fields are not, and neither are values no scheduler can fire by: a rate
 * (`everyMs`) under 1 ms, which made slots go backwards (a negative rate)
 * or claim one slot again and again (0); a time zone this runtime does not
 * know, or a cron pattern croner refuses, which threw a `RangeError` at
 * every poll instead of being reported once as a damaged file; a callback
 * retry policy `schedule()` would refuse.
 *
 * @module
 */
import { cronPatternProblem } from "./parse-when.js";
import { CATCH_UP_POLICIES } from "./repeat.js";
import { SCHEDULE_STATUSES } from "./schedule-record.js";
import { isTimeZone } from "./zoned-time.js";

type Check = (value: unknown) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const finite = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);

const num: Check = (v) => (finite(v) ? undefined : "is not a number");
const str: Check = (v) => (typeof v === "string" ? undefined : "is not a string");
const bool: Check = (v) => (typeof v === "boolean" ? undefined : "is not true or false");
const rate: Check = (v) => (finite(v) && (v as number) >= 1 ? undefined : "is not a number of ms of at least 1");
const whole =
  (min: number, max: number): Check =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `is not a whole number from ${min} to ${max}`;
/** The longest delay a Node timer keeps (ms); a longer one fires at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;
const delay =
  (min: number): Check =>
  (v) =>
    finite(v) && (v as number) >= min && (v as number) <= MAX_DELAY_MS ? undefined : `is not a number of ms from ${min} to ${MAX_DELAY_MS}`;
const zone: Check = (v) => (typeof v === "string" && isTimeZone(v) ? undefined : "is not a time zone this runtime knows");
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

/** The wall-clock time a `when` asked for (`WhenSpec.wall`). */
const wallTime = nested({
  year: whole(1, 9999),
  month: whole(1, 12),
  day: whole(1, 31),
  hour: whole(0, 23),
  minute: whole(0, 59),
  second: whole(0, 59),
  millisecond: whole(0, 999),
});

const when: Check = (v) => {
  if (!isObject(v)) return "is not an object";
  if (v.kind === "at") return fieldsOf(v, { at: num, wall: optional(wallTime) });
  if (v.kind === "cron") {
    const problem = fieldsOf(v, { cron: str, timezone: zone });
    if (problem !== undefined) return problem;
    const refused = cronPatternProblem(v.cron as string, v.timezone as string);
    return refused === undefined ? undefined : `.cron ${refused}`;
  }
  return ".kind is not at or cron";
};

const RECORD_FIELDS: Record<string, Check> = {
  graphName: str,
  modulePath: optional(str),
  exportName: optional(str),
  when,
  whenText: str,
  everyMs: optional(rate),
  times: optional(num),
  until: optional(num),
  catchUp: oneOf(CATCH_UP_POLICIES),
  timezone: zone,
  callbackUrl: optional(str),
  callbackSecret: optional(str),
  // As schedule() checks them: a retry count below 1 left a callback never done (its schedule never let go), a delay past a Node timer fires at once.
  callbackRetry: nested({
    maxAttempts: whole(1, Number.MAX_SAFE_INTEGER),
    initialMs: delay(0),
    factor: (v) => (finite(v) && (v as number) >= 1 ? undefined : "is not a number of at least 1"),
    maxMs: delay(0),
    timeoutMs: delay(1),
  }),
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
