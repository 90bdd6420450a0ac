/**
 * The CLI's pure parts, in process: durations, error lines, escaping,
 * graph formats, the SVG layout, the report markup, and progress on a
 * terminal and in a log.
 */
import { describe, expect, it } from "vitest";
import { shellQuote } from "../src/cli/context.js";
import { formatDuration, parseDuration } from "../src/core/duration.js";
import { CliError, errorLine } from "../src/cli/errors.js";
import { runOptionsFrom } from "../src/cli/execute-run.js";
import { graphView, mermaidLabel, statusByNode, toDot, toMermaid } from "../src/cli/graph-format.js";
import { graphSvg, layout } from "../src/cli/graph-svg.js";
import { escapeHtml, inlineScript, scriptJson } from "../src/cli/html.js";
import { Progress } from "../src/cli/progress.js";
import { renderReport } from "../src/cli/report-html.js";
import { jsonText, table } from "../src/cli/text.js";
import { graph, NodeFailedError, route, RunEvents, type NodeRecord, type RunDetails } from "../src/index.js";

describe("durations", () => {
  it("parses 30d, 12h, 90m, 45s, 500ms, 2w and sums", () => {
    expect(parseDuration("30d")).toBe(30 * 86_400_000);
    expect(parseDuration("12h")).toBe(12 * 3_600_000);
    expect(parseDuration("90m")).toBe(90 * 60_000);
    expect(parseDuration("45s")).toBe(45_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("2w")).toBe(14 * 86_400_000);
    expect(parseDuration("1d12h")).toBe(36 * 3_600_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
  });

  it.each(["", "30", "d", "30 days", "-1d", "1d 2h", "1y"])("refuses %j with INVALID_OPTION naming the option", (text) => {
    expect(() => parseDuration(text, "--older-than")).toThrow(
      // eslint-disable-next-line @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
      expect.objectContaining({ code: "INVALID_OPTION", message: expect.stringContaining("--older-than") }),
    );
  });

  it("formats durations for people", () => {
    expect([12, 1_250, 12_340, 185_000, 7_380_000, 7_200_000, 2 * 86_400_000 + 3_600_000, 30 * 86_400_000].map(formatDuration)).toEqual([
      "12ms",
      "1.25s",
      "12.3s",
      "3m 05s",
      "2h 03m",
      "2h",
      "2d 1h",
      "30d",
    ]);
  });
});

describe("error lines", () => {
  it("is one line with the code, whatever the message holds", () => {
    expect(errorLine(new CliError("USAGE", "bad\n  thing"))).toBe("error[USAGE]: bad thing");
    expect(errorLine(new NodeFailedError("r", "n", 2, new Error("boom")))).toMatch(
      /^error\[NODE_FAILED\]: node "n" of run "r" failed after 2 attempts: Error: boom\./,
    );
    expect(errorLine(Object.assign(new Error("no such file"), { code: "ENOENT" }))).toBe("error[ENOENT]: no such file");
    expect(errorLine(new Error("?"))).toBe("error[UNEXPECTED]: ? (run again with --verbose to see where it came from)");
    expect(errorLine(new Error("?"), true)).toBe("error[UNEXPECTED]: ?");
  });
});

describe("run options from flags", () => {
  it("maps --retries N to maxAttempts N + 1 and reads --max-concurrency", () => {
    expect(runOptionsFrom({ retries: "0" })).toEqual({ retry: { maxAttempts: 1 } });
    expect(runOptionsFrom({ retries: "4", maxConcurrency: "16" })).toEqual({ retry: { maxAttempts: 5 }, maxConcurrency: 16 });
    expect(runOptionsFrom({ maxConcurrency: "Infinity" })).toEqual({ maxConcurrency: Infinity });
    for (const bad of [{ retries: "-1" }, { retries: "1.5" }, { maxConcurrency: "0" }, { maxConcurrency: "many" }]) {
      // eslint-disable-next-line @typescript-eslint/no-unsafe-argument -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
      expect(() => runOptionsFrom(bad)).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
    }
  });
});

describe("escaping", () => {
  it("escapes HTML text and attributes", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("keeps </script> and <!-- out of inline scripts and JSON", () => {
    expect(scriptJson({ s: "</script><!--" })).toBe('{"s":"\\u003c/script\\u003e\\u003c!--"}');
    expect(JSON.parse(scriptJson({ s: "</script>\u2028" }))).toEqual({ s: "</script>\u2028" });
    const js = inlineScript('const a = "</script>"; const b = /<!--/;');
    expect(js).not.toMatch(/<\/script|<!--/i);
    expect(js).toBe('const a = "\\x3C/script>"; const b = /\\x3C!--/;');
  });

  it("escapes Mermaid labels with entity codes and quotes shell words", () => {
    expect(mermaidLabel('a<b>&"c#`')).toBe("a#60;b#62;#38;#34;c#35;#96;");
    expect(shellQuote("review:1")).toBe("review:1");
    expect(shellQuote("it's here")).toBe("'it'\\''s here'");
  });
});

describe("text", () => {
  it("aligns tables and prints stored values as JSON", () => {
    expect(
      table(
        ["ID", "STATUS"],
        [
          ["a", "succeeded"],
          ["long-id", "failed"],
        ],
      ),
    ).toBe("ID       STATUS\na        succeeded\nlong-id  failed");
    expect(JSON.parse(jsonText({ n: 10n, m: new Map([["k", 1]]), s: new Set([1, 2]), e: Object.assign(new Error("x"), { code: "C" }) }))).toEqual({
      n: "10",
      m: { k: 1 },
      s: [1, 2],
      e: { name: "Error", message: "x", code: "C" },
    });
    expect(jsonText(undefined)).toBe("null");
  });
});

const diamond = graph("diamond")
  .node("a", () => 1)
  .node("b", () => 2, { after: ["a"] })
  .node("c", () => 3, { after: ["a"] })
  .node("d", () => 4, { after: ["b", "c"] })
  .build();

const rec = (id: string, status: NodeRecord["status"], extra: Partial<NodeRecord> = {}): NodeRecord => ({
  id,
  nodeId: id.split("#")[0] ?? id,
  status,
  attempts: 1,
  ...extra,
});

describe("graph formats", () => {
  it("draws structure with after-edges, and statuses as classes", () => {
    const view = graphView({ shape: diamond, records: [rec("a", "succeeded"), rec("b", "failed"), rec("c", "cancelled")] });
    expect(view.edges).toEqual([
      { from: "a", to: "b" },
      { from: "a", to: "c" },
      { from: "b", to: "d" },
      { from: "c", to: "d" },
    ]);
    const m = toMermaid(view);
    expect(m).toContain('n0["a"]:::succeeded');
    expect(m).toContain('n3["d"]\n');
    expect(m).toContain("classDef failed fill:#ffe3e3,stroke:#e03131,color:#7d1212");
    expect(m).not.toContain("classDef pending");
    const dot = toDot(view);
    expect(dot).toContain('"b" [fillcolor="#ffe3e3", color="#e03131", tooltip="failed"];');
    expect(dot).toContain('"c" -> "d";');
  });

  it("shows the most telling status among a node's activations", () => {
    const s = statusByNode([rec("m#0", "succeeded"), rec("m#1", "failed"), rec("m#2", "running"), rec("n#0", "succeeded"), rec("n#1", "skipped")]);
    expect(Object.fromEntries(s)).toEqual({ m: "failed", n: "succeeded" });
  });

  it("lays the graph out left to right, every edge pointing right", () => {
    const view = graphView({ shape: diamond });
    const { placed } = layout(view);
    for (const e of view.edges) expect((placed.get(e.to)?.x ?? 0) > (placed.get(e.from)?.x ?? 0)).toBe(true);
    expect(placed.get("b")?.x).toBe(placed.get("c")?.x);
    const svg = graphSvg(graphView({ shape: diamond, records: [rec("a", "succeeded")] }));
    expect(svg.match(/<g class="node/g)).toHaveLength(4);
    expect(svg.match(/<path class="edge"/g)).toHaveLength(4);
    expect(svg).toContain('<g class="node s-succeeded" data-node-id="a">');
  });

  it("draws routes as dashed, labelled edges, marks the ones that loop back, and lays out loops left to right", () => {
    const loop = graph("loop")
      .node("draft", () => 1)
      .node("check", () => route("ok"), { after: ["draft"], routes: { ok: "publish", revise: "draft" } })
      .node("publish", () => 1)
      .build();
    const view = graphView({ shape: loop });
    expect(view.edges).toEqual([
      { from: "draft", to: "check" },
      { from: "check", to: "publish", route: "ok" },
      { from: "check", to: "draft", route: "revise", back: true },
    ]);
    const m = toMermaid(view);
    expect(m).toContain('n2 -.->|"ok"| n1'); // n0 draft, n1 publish, n2 check (topological order of after edges)
    expect(m).toContain('n2 -.->|"revise"| n0');
    expect(toDot(view)).toContain('"check" -> "draft" [style=dashed, label="revise"];');
    const { placed } = layout(view);
    expect(placed.get("draft")?.x).toBeLessThan(placed.get("check")?.x ?? 0);
    expect(placed.get("check")?.x).toBeLessThan(placed.get("publish")?.x ?? 0);
    expect(graphSvg(view).match(/<path class="edge route"/g)).toHaveLength(2);
  });
});

describe("the report markup", () => {
  const run: RunDetails = {
    runId: "r-1",
    graphName: "<script>alert(1)</script>",
    fingerprint: "f".repeat(64),
    status: "failed",
    inputs: { note: "</script><script>alert(2)</script>" },
    error: { name: "NodeFailedError", message: "node <x> failed", code: "NODE_FAILED", cause: { name: "Error", message: "<img src=x onerror=alert(3)>" } },
    createdAt: 1_000,
    updatedAt: 2_000,
    startedAt: 1_000,
    endedAt: 1_500,
    starts: 1,
    waits: [{ key: "<k>", nodeId: "a", since: 1_200 }],
    nodes: [rec("<b>bold</b>", "succeeded", { startedAt: 1_000, endedAt: 1_200 }), rec("late", "pending")],
  };

  it("escapes every user string and needs no network", () => {
    const html = renderReport({ run, now: 3_000 });
    expect(html).not.toMatch(/<script>alert|<img|<b>bold/);
    expect(html).toContain("&lt;b&gt;bold&lt;/b&gt;");
    expect(html).toContain("caused by Error: &lt;img src=x onerror=alert(3)&gt;");
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).toContain("The store does not keep the graph");
    // Without Mermaid, no script at all.
    expect(html).not.toContain("<script");
  });

  it("places timeline bars in percent of the run's span", () => {
    const html = renderReport({
      run: { ...run, nodes: [rec("a", "succeeded", { startedAt: 1_000, endedAt: 1_250 }), rec("b", "succeeded", { startedAt: 1_250, endedAt: 2_000 })] },
      now: 3_000,
    });
    expect(html).toContain("left:0.000%;width:25.000%");
    expect(html).toContain("left:25.000%;width:75.000%");
  });

  it("embeds Mermaid and the graph source when given", () => {
    const html = renderReport({ run, shape: undefined, mermaidJs: "globalThis.mermaid = {}; // </script>", now: 3_000 });
    expect(html).toContain('<script type="application/json" id="graph-source">');
    expect(html.match(/<\/script>/g)).toHaveLength(3);
  });
});

describe("progress", () => {
  const at = 0;
  function drive(events: RunEvents): void {
    events.emit("run:start", { runId: "r", at, graphName: "g", resumed: true, kept: 1 });
    events.emit("node:start", { runId: "r", at, nodeId: "b", attempt: 1 });
    events.emit("node:start", { runId: "r", at, nodeId: "c", attempt: 1 });
    events.emit("node:retry", { runId: "r", at, nodeId: "c", attempt: 1, delayMs: 200, error: new Error("flaky") });
    events.emit("node:success", { runId: "r", at, nodeId: "b", attempt: 1, output: 2, durationMs: 12 });
    events.emit("node:start", { runId: "r", at, nodeId: "c", attempt: 2 });
    events.emit("node:error", { runId: "r", at, nodeId: "c", attempt: 2, error: new TypeError("bad") });
  }

  it("prints one plain line per event when not on a terminal", () => {
    let text = "";
    const p = new Progress({ write: (s: string) => (text += s) }, { total: 4 });
    const events = new RunEvents();
    p.attach(events);
    drive(events);
    p.finish();
    expect(text).toBe("resumed: 1 node kept from before\n↻ c retry in 200ms (attempt 1: Error: flaky)\n✓ b 12ms\n✗ c TypeError: bad\n");
    expect(p.counts).toEqual({ done: 2, total: 4, running: 0, retries: 1, failures: 1, waiting: 0 });
    expect(events.listenerCount("node:start")).toBe(0);
  });

  it("redraws one status line in place on a terminal", () => {
    let text = "";
    let now = 0;
    const p = new Progress({ write: (s: string) => (text += s), isTTY: true, columns: 200 }, { total: 4, now: () => now, intervalMs: 0 });
    const events = new RunEvents();
    p.attach(events);
    events.emit("run:start", { runId: "r", at, graphName: "g", resumed: false, kept: 0 });
    events.emit("node:start", { runId: "r", at, nodeId: "a", attempt: 1 });
    now = 10;
    expect(text.endsWith("\r\x1b[2K0/4 done · 1 running (a) · 0 retries · 0 failed")).toBe(true);
    events.emit("node:retry", { runId: "r", at, nodeId: "a", attempt: 1, delayMs: 5, error: new Error("x") });
    // Retries and failures stay on screen above the live line.
    expect(text).toContain("\r\x1b[2K↻ a retry in 5ms (attempt 1: Error: x)\n");
    events.emit("node:success", { runId: "r", at, nodeId: "a", attempt: 2, output: 1, durationMs: 3 });
    expect(text.endsWith("1/4 done · 0 running · 1 retry · 0 failed")).toBe(true);
    expect(text).not.toContain("✓ a");
    p.finish();
    expect(text.endsWith("\r\x1b[2K")).toBe(true);
  });
});
