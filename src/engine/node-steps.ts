/**
 * Node-level `ctx.step(name, fn)`: journals the result of a piece of a
 * node's body under the node's record, so a retry or a resume returns it
 * without running `fn` again.
 *
 * Invariants:
 * - A name is used once per attempt (twice is a bug in the node).
 * - A step of an attempt that ended (it timed out, or the run stopped, and
 *   its body ignored the signal) rejects with the attempt's abort reason
 *   and never calls `fn`: a retry of the node may be running that step.
 * - A step's result is durable (the journal's barrier passed) before
 *   `step` returns; a result that cannot be stored exactly is returned
 *   but not journaled (it runs again on resume), with a warning.
 *
 * @module
 */
import { checkDurable } from "../core/value-codec.js";
import { InvalidOptionError } from "../errors.js";
import { recordStep } from "../state/node-transitions.js";
import type { AttemptContext } from "./attempt-context.js";
import type { RunJournal } from "./journal-port.js";
import type { RecordBuffer } from "./record-buffer.js";

/** What a node step needs: the records, the journal's barrier, and a way to warn. */
export interface NodeStepEnv {
  readonly buffer: RecordBuffer;
  readonly journal: RunJournal;
  warn(nodeId: string, code: string, message: string): void;
}

/** Runs (or replays) step `name` of the attempt `context`. */
export async function runNodeStep<T>(env: NodeStepEnv, context: AttemptContext<unknown>, name: string, fn: () => T | Promise<T>): Promise<T> {
  const id = context.nodeId;
  if (typeof name !== "string" || name === "") throw new InvalidOptionError("step(name)", "must be a non-empty string");
  if (typeof fn !== "function") throw new InvalidOptionError(`step("${name}", fn)`, "fn must be a function");
  context.usedSteps ??= new Set();
  if (context.usedSteps.has(name)) {
    throw new InvalidOptionError(`step("${name}")`, `is called twice in one attempt of node "${id}"; give each step a unique name`);
  }
  context.usedSteps.add(name);
  const abort = context.abortState;
  // The attempt ended (timed out, cancelled) while its body went on: its steps run nothing (a retry may be running them).
  if (abort.aborted) throw abort.reason;
  const steps = env.buffer.get(id)?.steps;
  if (steps && Object.prototype.hasOwnProperty.call(steps, name)) return steps[name] as T;
  const value = await fn();
  if (abort.aborted) throw abort.reason;
  // A getter that throws here rejects the step, in the body that awaits it.
  const durability = checkDurable(value);
  if (!durability.ok) {
    env.warn(
      id,
      "STEP_NOT_DURABLE",
      `step "${name}" of node "${id}" returned a value that cannot be stored exactly (${durability.reason}); it will run again on resume`,
    );
    return value;
  }
  env.buffer.transition(recordStep(name, value), id);
  await env.journal.barrier();
  return value;
}
