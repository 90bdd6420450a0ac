/**
 * Live progress of a run, written to stderr so stdout carries only the
 * outputs. On a terminal one status line is redrawn in place (nodes done /
 * total, running, retries, failures), at most every `intervalMs`, with
 * retries, failures and waits also printed as lasting lines above it.
 * Elsewhere (a pipe, a CI log) every node event is one plain line:
 * `✓ fetch 12ms`, `✗ store Error: disk full`, `↻ parse retry in 200ms`.
 *
 * It listens to a run's events only; it never touches the run.
 *
 * @module
 */
import type { RunEventMap, RunEvents } from "../index.js";
import { formatDuration } from "../core/duration.js";
import { errorSummary } from "./errors.js";
import { truncate } from "../core/text.js";

/** Where progress goes: a stream, with `isTTY` and `columns` when it is a terminal. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Node count of the graph (0 when unknown, as for a dynamic graph). */
  readonly total: number;
  /** Redraw one line in place. @default stream.isTTY */
  readonly live?: boolean;
  /** Least time between two redraws (ms). @default 80 */
  readonly intervalMs?: number;
  /** The time now (epoch ms). @default Date.now */
  readonly now?: () => number;
}

/**
 * Shows a run's progress.
 *
 * @example
 * ```ts
 * const progress = new Progress(process.stderr, { total: graph.size });
 * progress.attach(handle.events);
 * try { await handle.result() } finally { progress.finish() }
 * ```
 */
export class Progress {
  readonly #stream: ProgressStream;
  readonly #live: boolean;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #running = new Set<string>();
  readonly #seen = new Set<string>();
  #total: number;
  #done = 0;
  #retries = 0;
  #failures = 0;
  #waiting = 0;
  #lastDraw = 0;
  #timer: NodeJS.Timeout | undefined;
  #drawn = false;
  #detach: (() => void) | undefined;

  constructor(stream: ProgressStream, options: ProgressOptions) {
    this.#stream = stream;
    this.#total = options.total;
    this.#live = options.live ?? stream.isTTY === true;
    this.#intervalMs = options.intervalMs ?? 80;
    this.#now = options.now ?? Date.now;
  }

  /** The counts now. */
  get counts(): { done: number; total: number; running: number; retries: number; failures: number; waiting: number } {
    return {
      done: this.#done,
      total: Math.max(this.#total, this.#seen.size),
      running: this.#running.size,
      retries: this.#retries,
      failures: this.#failures,
      waiting: this.#waiting,
    };
  }

  /** Starts listening to a run's events. */
  attach(events: RunEvents): void {
    const onRunStart = (p: RunEventMap["run:start"]): void => {
      this.#done += p.kept;
      if (p.resumed && !this.#live) this.#line(`resumed: ${p.kept} node${p.kept === 1 ? "" : "s"} kept from before`);
      this.#changed();
    };
    const onStart = (p: RunEventMap["node:start"]): void => {
      this.#seen.add(p.nodeId);
      this.#running.add(p.nodeId);
      this.#changed();
    };
    const onSuccess = (p: RunEventMap["node:success"]): void => {
      this.#running.delete(p.nodeId);
      this.#done++;
      if (!this.#live) this.#line(`✓ ${p.nodeId} ${formatDuration(p.durationMs)}`);
      this.#changed();
    };
    const onRetry = (p: RunEventMap["node:retry"]): void => {
      this.#running.delete(p.nodeId);
      this.#retries++;
      this.#lasting(`↻ ${p.nodeId} retry in ${formatDuration(p.delayMs)} (attempt ${p.attempt}: ${errorSummary(p.error)})`);
    };
    const onError = (p: RunEventMap["node:error"]): void => {
      this.#running.delete(p.nodeId);
      this.#failures++;
      this.#lasting(`✗ ${p.nodeId} ${errorSummary(p.error)}`);
    };
    const onWait = (p: RunEventMap["node:wait"]): void => {
      this.#running.delete(p.nodeId);
      this.#waiting++;
      this.#lasting(`⏸ ${p.nodeId} waiting for "${p.key}"`);
    };
    const onSkip = (p: RunEventMap["node:skip"]): void => {
      this.#seen.add(p.nodeId);
      this.#done++;
      if (!this.#live) this.#line(`- ${p.nodeId} skipped`);
      this.#changed();
    };
    events.on("run:start", onRunStart).on("node:start", onStart).on("node:success", onSuccess).on("node:retry", onRetry);
    events.on("node:error", onError).on("node:wait", onWait).on("node:skip", onSkip);
    this.#detach = () => {
      events.off("run:start", onRunStart).off("node:start", onStart).off("node:success", onSuccess).off("node:retry", onRetry);
      events.off("node:error", onError).off("node:wait", onWait).off("node:skip", onSkip);
    };
  }

  /** Stops listening and clears the live line. */
  finish(): void {
    this.#detach?.();
    this.#detach = undefined;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#live && this.#drawn) this.#stream.write("\r\x1b[2K");
    this.#drawn = false;
  }

  /** The live status line. */
  statusLine(): string {
    const c = this.counts;
    const running = [...this.#running];
    const names = running.length ? ` (${running.slice(0, 3).join(", ")}${running.length > 3 ? ", …" : ""})` : "";
    const parts = [
      c.total > 0 ? `${c.done}/${c.total} done` : `${c.done} done`,
      `${c.running} running${names}`,
      `${c.retries} ${c.retries === 1 ? "retry" : "retries"}`,
      `${c.failures} failed`,
    ];
    if (c.waiting > 0) parts.push(`${c.waiting} waiting`);
    return parts.join(" · ");
  }

  #line(text: string): void {
    this.#stream.write(`${text}\n`);
  }

  /** A line that stays on a terminal too (printed above the live line). */
  #lasting(text: string): void {
    if (this.#live && this.#drawn) this.#stream.write("\r\x1b[2K");
    this.#drawn = false;
    this.#line(text);
    this.#changed(true);
  }

  #changed(now = false): void {
    if (!this.#live) return;
    const wait = this.#lastDraw + this.#intervalMs - this.#now();
    if (now || wait <= 0) return this.#draw();
    // A timer that does not keep the process alive: the run's own work does that.
    this.#timer ??= setTimeout(() => this.#draw(), wait).unref();
  }

  #draw(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lastDraw = this.#now();
    // Some terminals (and `script`) report 0 columns: assume a common width then.
    const columns = this.#stream.columns ?? 0;
    const width = columns > 20 ? columns - 1 : 100;
    this.#stream.write(`\r\x1b[2K${truncate(this.statusLine(), width)}`);
    this.#drawn = true;
  }
}
