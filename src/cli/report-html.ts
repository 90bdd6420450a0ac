/**
 * The HTML run report: one self-contained page (no network: a Content
 * Security Policy forbids every fetch) with the run's summary, its graph
 * coloured by status, a timeline of node durations, the nodes with their
 * errors and causes, and the open waits.
 *
 * The graph is always drawn as inline SVG by `graph-svg.ts`. When Mermaid's
 * browser bundle is given (the optional `mermaid` package is installed),
 * it is inlined too and the page redraws the graph with Mermaid, keeping
 * the SVG if Mermaid fails; `#graph[data-rendered]` says which is shown.
 * The timeline (`report-timeline.ts`) draws every attempt, the waits, and
 * the gaps between the processes that drove the run; the header's
 * duration is the timeline's span.
 *
 * Every user string (ids, error messages, inputs, outputs) is escaped.
 * This module is pure: data in, markup out.
 *
 * @module
 */
import type { GraphShape } from "./graph-format.js";
import { graphView, STATUS_STYLE, toMermaid } from "./graph-format.js";
import type { ErrorRecord, NodeStatus, RunDetails } from "../index.js";
import { formatDuration } from "../core/duration.js";
import { graphSvg } from "./graph-svg.js";
import { escapeHtml, inlineScript, scriptJson } from "./html.js";
import { formatTime, jsonText } from "./text.js";
import { TIMELINE_CSS, timelineHtml, timelineOf } from "./report-timeline.js";

/** What a report is made from. */
export interface ReportInput {
  /** The stored run. */
  readonly run: RunDetails;
  /** The graph, for its edges (a stored run does not keep them). */
  readonly shape?: GraphShape | undefined;
  /** Mermaid's browser bundle (`mermaid/dist/mermaid.min.js`), to draw the graph with Mermaid. */
  readonly mermaidJs?: string | undefined;
  /** When the report is made (epoch ms): the end of bars of nodes still running. */
  readonly now: number;
}

const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:";

const CSS = `
:root { color-scheme: light; --muted: #868e96; --line: #dee2e6; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212529; margin: 0; padding: 24px 32px 48px; max-width: 1280px; }
h1 { font-size: 20px; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 16px; margin: 32px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f8f9fa; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow: auto; max-height: 360px; white-space: pre-wrap; word-break: break-word; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; border: 1px solid; font-size: 12px; font-weight: 600; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0 0; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; }
#graph { overflow: auto; border: 1px solid var(--line); border-radius: 6px; padding: 8px; background: #fff; }
#graph svg { max-width: 100%; height: auto; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 14px; margin-top: 8px; font-size: 12px; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-right: 5px; vertical-align: -1px; background: var(--fill); border: 1px solid var(--stroke); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 10px 5px 0; border-bottom: 1px solid #f1f3f5; vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.num { font-variant-numeric: tabular-nums; }
.error { color: #c92a2a; }
.cause { color: #7d1212; padding-left: 14px; }
details { margin-top: 8px; }
summary { cursor: pointer; color: #495057; }
`;

function badge(status: NodeStatus | RunDetails["status"]): string {
  const st = STATUS_STYLE[status] ?? STATUS_STYLE.pending;
  return `<span class="badge s-${escapeHtml(status)}" style="background:${st.fill};border-color:${st.stroke};color:${st.color}">${escapeHtml(status)}</span>`;
}

/** An error and its causes, one line each. */
function errorHtml(error: ErrorRecord): string {
  const lines: string[] = [];
  let e: ErrorRecord | undefined = error;
  for (let depth = 0; e && depth < 8; depth++, e = e.cause) {
    const text = `${e.name}${e.code ? ` [${e.code}]` : ""}: ${e.message}`;
    lines.push(depth === 0 ? `<div class="error">${escapeHtml(text)}</div>` : `<div class="cause">caused by ${escapeHtml(text)}</div>`);
  }
  return lines.join("");
}

function nodesTable(run: RunDetails): string {
  const rows = run.nodes.map((n) => {
    const d = n.startedAt !== undefined && n.endedAt !== undefined ? formatDuration(n.endedAt - n.startedAt) : "-";
    return `<tr><td class="mono">${escapeHtml(n.id)}</td><td>${badge(n.status)}</td><td class="num">${n.attempts}</td><td class="num">${escapeHtml(d)}</td><td>${n.error ? errorHtml(n.error) : ""}</td></tr>`;
  });
  return `<table><thead><tr><th>node</th><th>status</th><th>attempts</th><th>duration</th><th>error</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

function waitsHtml(run: RunDetails): string {
  if (run.waits.length === 0) return "";
  const rows = run.waits.map(
    (w) =>
      `<tr><td class="mono">${escapeHtml(w.key)}</td><td class="mono">${escapeHtml(w.nodeId)}</td><td>${escapeHtml(formatTime(w.since))}</td><td>${escapeHtml(formatTime(w.deadline))}</td></tr>`,
  );
  return `<h2>Open waits</h2><table><thead><tr><th>key</th><th>node</th><th>since</th><th>deadline</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

function legend(): string {
  return `<div class="legend">${Object.entries(STATUS_STYLE)
    .map(([s, st]) => `<span style="--fill:${st.fill};--stroke:${st.stroke}">${escapeHtml(s)}</span>`)
    .join("")}</div>`;
}

/**
 * The report page for a stored run.
 *
 * @example
 * ```ts
 * writeFileSync("run.html", renderReport({ run: await getRun(id), shape: graph, now: Date.now() }));
 * ```
 */
export function renderReport(input: ReportInput): string {
  const { run, shape, mermaidJs, now } = input;
  const view = graphView({ shape, records: run.nodes, name: run.graphName });
  const timeline = timelineOf(run, now);
  // The same span as the timeline's axis: from the first start to the end (or now), across every process.
  const started = timeline.rows.some((r) => r.attempts.length > 0);
  const processes = timeline.processes.length;
  const duration = started
    ? `${formatDuration(timeline.end - timeline.start)}${run.status === "running" ? " so far" : ""}${processes > 1 ? ` over ${processes} processes` : ""}`
    : "-";
  const summary: [string, string][] = [
    ["graph", `<span class="mono">${escapeHtml(run.graphName)}</span> <span class="muted mono">${escapeHtml(run.fingerprint.slice(0, 12))}</span>`],
    ["status", badge(run.status)],
    ["created", escapeHtml(formatTime(run.createdAt))],
    ["last start", escapeHtml(formatTime(run.startedAt))],
    ["ended", escapeHtml(formatTime(run.endedAt))],
    ["duration", escapeHtml(duration)],
    ["starts", String(run.starts)],
    ["nodes", `${run.nodes.filter((n) => n.status === "succeeded" || n.status === "skipped").length} / ${run.nodes.length} done`],
  ];
  const edgeNote = shape
    ? ""
    : '<p class="muted">The store does not keep the graph\'s edges: pass the graph module (<code>taskloom report &lt;run-id&gt; &lt;module&gt;</code>) to draw them.</p>';
  const mermaidScripts = mermaidJs
    ? `<script>${inlineScript(mermaidJs)}</script>
<script type="application/json" id="graph-source">${scriptJson(toMermaid(view))}</script>
<script>
(async () => {
  const box = document.getElementById("graph");
  try {
    const source = JSON.parse(document.getElementById("graph-source").textContent);
    globalThis.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
    const { svg } = await globalThis.mermaid.render("graph-mermaid", source);
    box.innerHTML = svg;
    box.dataset.rendered = "mermaid";
  } catch (err) {
    box.dataset.renderError = String((err && err.message) || err);
  }
})();
</script>`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="taskloom">
<title>${escapeHtml(`run ${run.runId} · ${run.status}`)}</title>
<style>${CSS}${TIMELINE_CSS}</style>
</head>
<body>
<header>
<h1>run <span class="mono">${escapeHtml(run.runId)}</span> ${badge(run.status)}</h1>
<div class="muted">taskloom run report, made ${escapeHtml(formatTime(now))}</div>
<dl class="summary">${summary.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`).join("")}</dl>
${run.error ? `<h2>Run error</h2>${errorHtml(run.error)}` : ""}
</header>
<section>
<h2>Graph</h2>
<div id="graph" data-rendered="svg">${graphSvg(view)}</div>
${legend()}
${edgeNote}
</section>
<section>
<h2>Timeline</h2>
${timelineHtml(timeline)}
</section>
<section>
<h2>Nodes</h2>
${nodesTable(run)}
</section>
${waitsHtml(run)}
<section>
<h2>Data</h2>
<details><summary>inputs</summary><pre>${escapeHtml(jsonText(run.inputs))}</pre></details>
${run.outputs !== undefined ? `<details><summary>outputs</summary><pre>${escapeHtml(jsonText(run.outputs))}</pre></details>` : ""}
</section>
${mermaidScripts}
</body>
</html>
`;
}
