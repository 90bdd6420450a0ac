/**
 * The refresh period of a stage runner is milliseconds in code
 * (`refreshEveryMs`) and seconds on the command line (`--refresh-every
 * 3600`), as in the runners users come from. A period in the wrong unit
 * must not pass silently: a `refreshEveryMs` under one second, almost
 * always seconds written where milliseconds were meant, is reported as a
 * `warning` event naming what was likely meant (the runner still uses it:
 * a test may sweep fast on purpose).
 *
 * @module
 */
import type { StageEvents } from "./stage-events.js";

/** Below this, a `refreshEveryMs` is reported as likely seconds. */
export const SHORT_REFRESH_MS = 1_000;

/**
 * Emits a `warning` when `refreshEveryMs` is under {@link SHORT_REFRESH_MS}.
 *
 * @example
 * ```ts
 * warnOnShortRefresh(runner.events, { runId: "r1", refreshEveryMs: 30 }, Date.now()); // "did you mean 30 s (refreshEveryMs: 30_000)?"
 * ```
 */
export function warnOnShortRefresh(events: StageEvents, o: { readonly runId: string; readonly refreshEveryMs: number | undefined }, at: number): void {
  const ms = o.refreshEveryMs;
  if (ms === undefined || ms >= SHORT_REFRESH_MS) return;
  const message =
    `refreshEveryMs is ${ms}: the runner sweeps every ${ms} milliseconds. ` +
    `If you meant ${ms} seconds, pass refreshEveryMs: ${ms * 1_000} (the command's --refresh-every takes seconds).`;
  events.emit("warning", { runId: o.runId, at, message });
}
