/**
 * Schedule ids. A schedule id names a file (`schedules/<id>.json`) and,
 * unless `runIdPrefix` is given, starts the run id of every slot:
 * `<id>-<compact slot>`. So a new schedule's id, and its `runIdPrefix`,
 * leave room for the longest slot suffix ({@link SLOT_SUFFIX_MAX}): every
 * run id a schedule derives is a valid run id (at most 200 characters).
 * Ids of stored schedules are only checked to be safe as file names, so a
 * schedule stored before the cap can still be read and removed.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";
import { assertRunId } from "../core/run-id.js";
import { InvalidScheduleError } from "./errors.js";
import { valueText } from "../core/text.js";

/** The longest run id (see `run-id.ts`). */
const RUN_ID_MAX = 200;

/** The longest slot suffix: a dash and `20261124T090000.123Z`. */
export const SLOT_SUFFIX_MAX = "-".length + "20261124T090000.123Z".length;

/** The longest id of a new schedule, and the longest `runIdPrefix`: 179. */
export const SCHEDULE_ID_MAX = RUN_ID_MAX - SLOT_SUFFIX_MAX;

const RULE = `Use 1 to ${SCHEDULE_ID_MAX} characters from A-Z a-z 0-9 . _ - : @, starting with a letter or digit.`;

/**
 * Throws `InvalidScheduleError` (option `id`, worded for a schedule id)
 * unless `id` can name a stored schedule; with `forNew`, also unless it is
 * short enough for the run ids of its slots.
 */
export function assertScheduleId(id: unknown, forNew = false): asserts id is string {
  try {
    assertRunId(id);
  } catch {
    throw new InvalidScheduleError("id", valueText(id).slice(0, 80), `is not a valid schedule id: ${problemOf(id)}. ${RULE}`);
  }
  if (forNew && id.length > SCHEDULE_ID_MAX) {
    throw new InvalidScheduleError(
      "id",
      `${id.slice(0, 40)}…`,
      `is ${id.length} characters long; a schedule id is at most ${SCHEDULE_ID_MAX} characters, so that its run ids (<id>-<slot>, up to ${SLOT_SUFFIX_MAX} more) stay valid. ` +
        `Give a shorter id, or a shorter runIdPrefix.`,
    );
  }
}

/** Throws unless `prefix` is a run id short enough to take a slot suffix. */
export function assertRunIdPrefix(prefix: unknown): asserts prefix is string {
  assertRunId(prefix);
  if (prefix.length > SCHEDULE_ID_MAX) {
    throw new InvalidOptionError(
      "runIdPrefix",
      `must be at most ${SCHEDULE_ID_MAX} characters (the slot, up to ${SLOT_SUFFIX_MAX} characters, is added to it; got ${prefix.length})`,
    );
  }
}

/** True when `id` can name a stored schedule. */
export function isScheduleId(id: string): boolean {
  try {
    assertRunId(id);
    return true;
  } catch {
    return false;
  }
}

function problemOf(id: unknown): string {
  if (typeof id !== "string") return `it is a ${typeof id}, not a string`;
  if (id.length === 0) return "it is empty";
  if (id.length > RUN_ID_MAX) return `it has ${id.length} characters`;
  if (id.includes("..")) return 'it contains ".."';
  return "it contains a character that is not allowed";
}
