/**
 * The known keys of the options a node body and a graph definition take:
 * node options (builder `.node`), map options (`.map`), `graphFn` step
 * options, the node context's `step` (which takes none) and `waitFor`
 * options. Each list is written with `optionKeys`, so it names exactly the
 * keys of its TypeScript interface and cannot drift from it. The checks
 * here refuse keys only; values are checked where they always were
 * (`build()`, or the call that uses them).
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { assertRetryKeys } from "./retry-options.js";
import type { MapOptions, NodeOptions, StepOptions } from "./definition.js";
import type { WaitOptions } from "./node-context.js";

/** The keys of `NodeOptions`. */
export const NODE_OPTION_KEYS = optionKeys<NodeOptions>({ after: true, retry: true, timeoutMs: true, routes: true, maxVisits: true });
/** The keys of `MapOptions`. */
export const MAP_OPTION_KEYS = optionKeys<MapOptions>({
  after: true,
  retry: true,
  timeoutMs: true,
  routes: true,
  maxVisits: true,
  maxConcurrency: true,
});
/** The keys of `StepOptions` (a `graphFn` step). */
export const STEP_OPTION_KEYS = optionKeys<StepOptions>({ retry: true, timeoutMs: true });
/** The keys of `WaitOptions`. */
export const WAIT_OPTION_KEYS = optionKeys<WaitOptions<unknown>>({ timeoutMs: true, schema: true });

/**
 * Throws {@link InvalidOptionError} unless `options` is undefined or an
 * object whose keys, and whose `retry` (and `retry.backoff`) keys, are all
 * in `known`; `what` names the thing they were given to (`node "fetch"`).
 */
export function assertOptionKeys(what: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new InvalidOptionError(`${what} options`, "must be an object");
  }
  assertKnownKeys(what, options, known);
  if (known.includes("retry")) assertRetryKeys((options as { retry?: unknown }).retry, `${what} retry`);
}

/**
 * Throws {@link InvalidOptionError} when a node context's `step(name, fn)`
 * gets options: it takes none, since its retries and time limit are the
 * node's. (A `graphFn` step, which is an activation of its own, takes
 * `retry` and `timeoutMs`.)
 */
export function assertNoNodeStepOptions(name: unknown, options: unknown): void {
  if (options === undefined) return;
  const what = `step(${JSON.stringify(name)}) in a node`;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new InvalidOptionError(`${what} options`, "must not be given: a node's step takes no options (its retries and time limit are the node's)");
  }
  const [first] = Object.keys(options);
  if (first !== undefined) {
    throw new InvalidOptionError(first, `of ${what} is not known; it takes no options (its retries and time limit are the node's: set them on the node)`);
  }
}
