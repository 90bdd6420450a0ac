/**
 * The timeline of the HTML run report: what happened when, across every
 * process that drove the run.
 *
 * The model ({@link timelineOf}) is pure: one span for the whole run, from
 * its first start to its end (or `now` while it runs), which the report's
 * header and axis both use; the processes (a run's `sessions`) with the
 * gaps between them, where no process drove the run (a crash, or a stop
 * before a resume); and per activation every attempt, the earlier ones
 * from its `attemptLog` (failed, cancelled, or interrupted when their
 * process ended) and the current one, plus its waits. An interrupted
 * attempt's end is not stored: it is drawn to the last moment its process
 * was seen doing anything (the latest time any record of that process
 * holds), where the gap begins.
 *
 * {@link timelineHtml} draws it with CSS only, in percent of the span;
 * every bar has a `title` (shown on hover) with its times and error.
 *
 * @module
 */
import type { AttemptRecord, ErrorRecord, NodeRecord, NodeStatus, RunDetails } from "../index.js";
import { formatDuration } from "../core/duration.js";
import { STATUS_STYLE } from "./graph-format.js";
import { escapeHtml } from "./html.js";
import { formatTime } from "./text.js";

/** One attempt drawn on a node's row. */
export interface AttemptBar {
  readonly start: number;
  readonly end: number;
  /** `failed`, `cancelled`, `interrupted` for earlier attempts; the node's status for its current one. */
  readonly outcome: AttemptRecord["outcome"] | NodeStatus;
  /** 1-based, in the order the attempts started. */
  readonly number: number;
  readonly error?: ErrorRecord;
}

/** One wait drawn on a node's row. */
export interface WaitBar {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly resolved: boolean;
}

/** One process that drove the run, from its start to its stop (or the last moment it was seen). */
export interface ProcessSpan {
  readonly start: number;
  readonly end: number;
  /** False when it ended without stopping the run (a crash): `end` is then the last moment it was seen. */
  readonly stopped: boolean;
}

/** What the timeline draws. */
export interface Timeline {
  /** The run's span: its first start… */
  readonly start: number;
  /** …to its end, or `now` while it runs. */
  readonly end: number;
  readonly processes: readonly ProcessSpan[];
  /** Spans where no process drove the run, between two processes. */
  readonly gaps: readonly { readonly start: number; readonly end: number }[];
  readonly rows: readonly { readonly node: NodeRecord; readonly attempts: readonly AttemptBar[]; readonly waits: readonly WaitBar[] }[];
}

const LIVE: ReadonlySet<NodeStatus> = new Set(["running", "retrying", "waiting"]);

/** Every time a record of the run holds, for finding where a crashed process was last seen. */
function knownTimes(run: RunDetails): number[] {
  const times: number[] = [];
  for (const n of run.nodes) {
    if (n.startedAt !== undefined) times.push(n.startedAt);
    if (n.endedAt !== undefined) times.push(n.endedAt);
    for (const a of n.attemptLog ?? []) times.push(a.startedAt, ...(a.endedAt !== undefined ? [a.endedAt] : []));
    for (const w of Object.values(n.waits ?? {})) times.push(w.since, ...(w.resolved ? [w.resolved.at] : []));
  }
  return times;
}

/**
 * The timeline of a stored run, at time `now`.
 *
 * @example
 * ```ts
 * const t = timelineOf(await getRun(id, { store }), Date.now());
 * t.gaps.length; // 1 after a crash and a resume
 * ```
 */
export function timelineOf(run: RunDetails, now: number): Timeline {
  const live = run.status === "running" || run.status === "pending";
  const times = knownTimes(run);
  const sessions = run.sessions?.length
    ? run.sessions
    : run.startedAt !== undefined
      ? [{ startedAt: run.startedAt, ...(run.endedAt !== undefined && { endedAt: run.endedAt }) }]
      : [];
  const first = Math.min(...sessions.map((s) => s.startedAt), ...times);
  const start = Number.isFinite(first) ? first : run.createdAt;
  // Every bar fits: a record's time past the run's end (clocks of two hosts disagree) stretches the axis.
  // A process's recorded stop counts too: a bar cut off at the last moment its process was seen must fit.
  const stops = sessions.flatMap((s) => (s.endedAt === undefined ? [] : [s.endedAt]));
  const runEnd = live ? Math.max(now, ...times, ...stops) : Math.max(run.endedAt ?? run.updatedAt, ...times, ...stops);
  const end = Math.max(runEnd, start);
  const processes = sessions.map((s, i): ProcessSpan => {
    const next = sessions[i + 1]?.startedAt ?? Infinity;
    if (s.endedAt !== undefined) return { start: s.startedAt, end: s.endedAt, stopped: true };
    // The last process of a live run is still at work; an earlier one without a stop crashed: last seen at its latest record.
    if (next === Infinity && live) return { start: s.startedAt, end, stopped: true };
    const seen = times.filter((t) => t >= s.startedAt && t < next);
    return { start: s.startedAt, end: Math.max(s.startedAt, ...seen), stopped: false };
  });
  // A gap ends where a process starts after every earlier one has ended (clocks that disagree may make stints overlap).
  const gaps: { start: number; end: number }[] = [];
  let reach = -Infinity;
  for (const p of processes) {
    if (Number.isFinite(reach) && p.start > reach) gaps.push({ start: reach, end: p.start });
    reach = Math.max(reach, p.end);
  }
  /** Where an attempt whose end is not stored stops: the last moment its process was seen. */
  const cutOff = (at: number): number => processes.find((p) => p.start <= at && at <= p.end + 1)?.end ?? processes.findLast((p) => p.start <= at)?.end ?? at;
  const rows = run.nodes.map((node) => {
    const attempts: AttemptBar[] = (node.attemptLog ?? []).map((a, i) => ({
      start: a.startedAt,
      end: Math.max(a.startedAt, a.endedAt ?? cutOff(a.startedAt)),
      outcome: a.outcome,
      number: i + 1,
      ...(a.error && { error: a.error }),
    }));
    if (node.startedAt !== undefined) {
      const current = node.endedAt ?? (LIVE.has(node.status) && live ? end : cutOff(node.startedAt));
      attempts.push({
        start: node.startedAt,
        end: Math.max(node.startedAt, current),
        outcome: node.status,
        number: attempts.length + 1,
        ...(node.error && node.status === "failed" && { error: node.error }),
      });
    }
    const waits = Object.entries(node.waits ?? {}).map(([key, w]): WaitBar => {
      const open = w.resolved === undefined;
      const waitEnd = w.resolved?.at ?? (node.status === "waiting" ? end : cutOff(w.since));
      return { key, start: w.since, end: Math.max(w.since, waitEnd), resolved: !open };
    });
    return { node, attempts, waits };
  });
  return { start, end, processes, gaps, rows };
}

/** The CSS of the timeline (added to the report's). */
export const TIMELINE_CSS = `
.timeline { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; }
.timeline .row { display: grid; grid-template-columns: minmax(120px, 220px) 1fr 72px; align-items: center; gap: 10px; min-height: 22px; }
.timeline .label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.timeline .track { position: relative; height: 14px; background: repeating-linear-gradient(90deg, transparent 0 calc(25% - 1px), #f1f3f5 calc(25% - 1px) 25%); border-radius: 3px; }
.timeline .bar { position: absolute; top: 0; bottom: 0; min-width: 3px; border-radius: 3px; border: 1px solid; box-sizing: border-box; }
.timeline .bar.o-failed, .timeline .bar.o-interrupted, .timeline .bar.o-cancelled { background-image: repeating-linear-gradient(135deg, transparent 0 3px, rgba(255,255,255,.65) 3px 6px); }
.timeline .bar.o-interrupted { border-style: dashed; }
.timeline .wait { position: absolute; top: 4px; height: 6px; min-width: 3px; border-radius: 3px; background: repeating-linear-gradient(90deg, #f08c00 0 4px, transparent 4px 7px); }
.timeline .gap { position: absolute; top: -4px; bottom: -4px; background: repeating-linear-gradient(135deg, rgba(134,142,150,.18) 0 4px, transparent 4px 8px); border-left: 1px dashed #868e96; border-right: 1px dashed #868e96; }
.timeline .process { position: absolute; top: 2px; bottom: 2px; border-radius: 3px; background: #e7f5ff; border: 1px solid #74c0fc; font-size: 10px; line-height: 8px; color: #1864ab; overflow: hidden; padding-left: 3px; }
.timeline .process.crashed { border-color: #e03131; border-right-width: 3px; }
.timeline .none { font-size: 11px; color: var(--muted); line-height: 14px; }
.timeline .axis { color: var(--muted); font-size: 11px; }
.timeline .axis .track { background: none; height: auto; display: flex; justify-content: space-between; }
.timeline .dur { text-align: right; font-variant-numeric: tabular-nums; color: #495057; }
.timeline .key { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 11px; color: var(--muted); margin-top: 6px; }
`;

function errorText(error: ErrorRecord | undefined): string {
  if (error === undefined) return "";
  const cause = error.cause ? ` (caused by ${error.cause.name}: ${error.cause.message})` : "";
  return ` — ${error.name}${error.code ? ` [${error.code}]` : ""}: ${error.message}${cause}`;
}

function outcomeText(a: AttemptBar): string {
  switch (a.outcome) {
    case "interrupted":
      return "interrupted: its process ended (crash), last seen";
    case "suspended":
      return "waited for an event; the run stopped to wait";
    case "running":
      return "running";
    case "retrying":
      return "failed, retry due";
    default:
      return a.outcome;
  }
}

/**
 * The timeline section's markup: a row for the processes (with the gaps
 * between them), a row per activation with every attempt and wait, and
 * the axis; the gaps are shaded across every row.
 */
export function timelineHtml(t: Timeline): string {
  if (t.rows.every((r) => r.attempts.length === 0)) return '<p class="muted">No node has started.</p>';
  const total = Math.max(1, t.end - t.start);
  const pct = (ms: number): string => `${((ms / total) * 100).toFixed(3)}%`;
  const place = (start: number, end: number): string => `left:${pct(start - t.start)};width:${pct(Math.max(0, end - start))}`;
  const gaps = t.gaps
    .map(
      (g) =>
        `<div class="gap" title="${escapeHtml(`no process drove the run for ${formatDuration(g.end - g.start)} (${formatTime(g.start)} → ${formatTime(g.end)}): it was resumed`)}" style="${place(g.start, g.end)}"></div>`,
    )
    .join("");
  const processes = t.processes
    .map((p, i) => {
      const what = p.stopped ? "stopped the run" : "ended without stopping it (crashed); last seen";
      const title = `process ${i + 1}: started ${formatTime(p.start)}, ${what} ${formatTime(p.end)} (${formatDuration(p.end - p.start)})`;
      return `<div class="process${p.stopped ? "" : " crashed"}" title="${escapeHtml(title)}" style="${place(p.start, p.end)}">${i + 1}</div>`;
    })
    .join("");
  const processRow = `<div class="row processes"><div class="label muted">processes</div><div class="track">${gaps}${processes}</div><div class="dur">${t.processes.length}</div></div>`;
  const rows = t.rows.map(({ node, attempts, waits }) => {
    const id = escapeHtml(node.id);
    const label = `<div class="label mono" title="${id}">${id}</div>`;
    if (attempts.length === 0) {
      return `<div class="row" data-node-id="${id}">${label}<div class="track">${gaps}<span class="none">${escapeHtml(node.status)}, not started</span></div><div class="dur">-</div></div>`;
    }
    const bars = attempts.map((a) => {
      const st = STATUS_STYLE[(a.outcome in STATUS_STYLE ? a.outcome : a.outcome === "interrupted" ? "cancelled" : "failed") as NodeStatus];
      const title = `${node.id} attempt ${a.number}: ${outcomeText(a)} ${formatTime(a.end)}, after ${formatDuration(a.end - a.start)} (started ${formatTime(a.start)})${errorText(a.error)}`;
      return `<div class="bar attempt o-${escapeHtml(a.outcome)}" data-attempt="${a.number}" title="${escapeHtml(title)}" style="${place(a.start, a.end)};background-color:${st.fill};border-color:${st.stroke}"></div>`;
    });
    const waitBars = waits.map((w) => {
      const title = `${node.id} waits for "${w.key}" since ${formatTime(w.start)}${w.resolved ? `, resolved ${formatTime(w.end)}` : ", still open"} (${formatDuration(w.end - w.start)})`;
      return `<div class="wait" data-wait-key="${escapeHtml(w.key)}" title="${escapeHtml(title)}" style="${place(w.start, w.end)}"></div>`;
    });
    const last = attempts[attempts.length - 1];
    const dur = last ? formatDuration(last.end - last.start) : "-";
    return `<div class="row" data-node-id="${id}">${label}<div class="track">${gaps}${bars.join("")}${waitBars.join("")}</div><div class="dur">${escapeHtml(dur)}</div></div>`;
  });
  // Short runs get decimals, or every tick of a 3 ms run would read "1ms".
  const tick = (ms: number): string => (total < 100 ? `${ms.toFixed(total < 10 ? 1 : 0)}ms` : formatDuration(ms));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<span>${escapeHtml(tick(total * f))}</span>`).join("");
  const key =
    '<div class="key"><span>hatched bar: an attempt that failed, was cancelled or was cut off (dashed) by its process ending</span>' +
    "<span>dotted line: a wait for an event</span><span>shaded band: no process drove the run (between a crash or stop and the resume)</span>" +
    "<span>hover a bar for its times and error</span></div>";
  return `<div class="timeline">${processRow}\n${rows.join("\n")}<div class="row axis"><div></div><div class="track">${ticks}</div><div></div></div>${key}</div>`;
}
