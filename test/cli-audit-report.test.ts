/**
 * CLI audit: the HTML report escapes every string a run holds. A run is
 * made whose node ids, wait keys, error messages, inputs and outputs carry
 * markup; its report (with the Mermaid scripts inlined, and the graph's
 * edges and routes) must contain none of that markup as markup: the only
 * elements in the page are the report's own.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { renderReport } from "../src/cli/report-html.js";
import { getRun, graph, MemoryStore, NonRetryableError, runAsync } from "../src/index.js";

/** Markup fragments an attacker would plant; each carries the marker `xss`. */
const NASTY = [
  '<img src=x onerror="xss()">',
  "</script><script>xss()</script>",
  '"><svg onload=xss()>',
  "<!--xss-->",
  "'xss'",
  "&lt;xss&gt;",
  "`xss`",
  "\u2028xss",
];

describe("the report escapes everything a run holds", () => {
  it("no planted markup survives as markup, in any part of the page", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...NASTY), fc.constantFrom(...NASTY), fc.string({ maxLength: 6 }), async (a, b, noise) => {
        // Node ids cannot hold "#" nor start with a space.
        const id = (s: string) => `n${s}${noise}`.replace(/#/g, "");
        const first = id(a);
        const second = id(b) === first ? `${id(b)}2` : id(b);
        const g = graph("g")
          .node(first, () => ({ html: a + b }))
          .node(
            second,
            async ({ waitFor }) => {
              await waitFor(`${a}key`);
              throw new NonRetryableError(`${b} failed`, { cause: new Error(a) });
            },
            { after: [first] },
          )
          .build();
        const store = new MemoryStore();
        await runAsync(g, { input: b }, { runId: "r", store }).catch(() => undefined);
        const run = await getRun("r", { store });
        const html = renderReport({ run, shape: g, mermaidJs: "globalThis.mermaid = undefined;", now: Date.now() });
        // Every "<" in the page opens one of the report's own elements.
        const tags = new Set([...html.matchAll(/<\/?([a-zA-Z!][\w-]*)/g)].map((m) => m[1]?.toLowerCase()));
        for (const tag of tags) {
          expect([
            "!doctype",
            "html",
            "head",
            "meta",
            "title",
            "style",
            "body",
            "header",
            "h1",
            "h2",
            "span",
            "div",
            "dl",
            "dt",
            "dd",
            "section",
            "svg",
            "defs",
            "marker",
            "path",
            "g",
            "title",
            "rect",
            "text",
            "p",
            "code",
            "table",
            "thead",
            "tbody",
            "tr",
            "th",
            "td",
            "details",
            "summary",
            "pre",
            "script",
          ]).toContain(tag);
        }
        expect(html).not.toMatch(/<img|<svg onload|<!--xss/i);
        // Scripts: the Mermaid bundle, the graph source, and the drawing code; nothing planted.
        expect(html.match(/<script/g)).toHaveLength(3);
      }),
      { numRuns: 40 },
    );
  });
});
