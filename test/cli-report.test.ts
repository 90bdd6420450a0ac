/**
 * The HTML run report, checked in a real browser: headless Chromium
 * (Debian's `chromium`, driven by playwright-core) loads the file:// page
 * with networking off, waits for the graph to render, and finds every node
 * in the drawn graph and in the timeline. Runs are made by the built CLI.
 *
 * Skipped only where /usr/bin/chromium is absent and CI is not set; in CI
 * (`.ci/run` installs chromium) a missing browser fails the test.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runChildScript } from "./support/child-process.js";

const ROOT = resolve(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/main.js");
const FIX = join(ROOT, "test/fixtures/cli");
const CHROMIUM = "/usr/bin/chromium";
const available = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!available) console.warn(`cli-report: skipped, ${CHROMIUM} is missing (apt-get install chromium); in CI it is required`);

/**
 * The run of report-demo.mjs: its first process SIGKILLed while
 * "summarize" runs (after "fetch-air" failed once and was retried), a
 * resume that stops to wait for "approve", the event, a resume that ends it.
 */
async function crashRetryWaitRun(dir: string, runId: string): Promise<void> {
  const module = join(FIX, "report-demo.mjs");
  const child = await runChildScript(CLI, dir, runId, join(dir, `${runId}.log`), "summarize started", ["run", module, "--run-id", runId]);
  expect(child.signal, child.stderr).toBe("SIGKILL");
  expect((await cli(dir, ["resume", runId, module])).code).toBe(2);
  expect((await cli(dir, ["resolve", runId, "approve", "--payload", "true"])).code).toBe(0);
  const last = await cli(dir, ["resume", runId, module]);
  expect(last.code, last.stderr).toBe(0);
}

function cli(dir: string, args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, TASKLOOM_DIR: dir }, timeout: 20_000 }, (error, _stdout, stderr) =>
      done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stderr }),
    );
  });
}

const squash = (s: string): string => s.replace(/\s+/g, "");

/** The part of a page element the `$$eval` callbacks below use (the test's lib has no DOM types). */
interface PageElement {
  cloneNode(deep: boolean): PageElement;
  closest(selector: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  getAttribute(name: string): string | null;
  remove(): void;
  readonly textContent: string | null;
}

describe.skipIf(!available)("taskloom report in headless Chromium", () => {
  const dir = mkdtempSync(join(tmpdir(), "taskloom-report-"));
  let browser: Browser;

  beforeAll(async () => {
    const made = await Promise.all([
      cli(dir, ["run", join(FIX, "ok.mjs"), "--run-id", "diamond-1"]),
      cli(dir, ["run", join(FIX, "fail.mjs"), "--run-id", "failing-1"]),
      cli(dir, ["run", join(FIX, "tricky.mjs"), "--run-id", "tricky-1"]),
    ]);
    expect(made.map((m) => m.code)).toEqual([0, 1, 0]);
    await crashRetryWaitRun(dir, "demo-1");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Writes the report, opens it, waits for the graph; returns what the page shows. */
  async function open(runId: string, module: string, renderer: "mermaid" | "svg") {
    const file = join(dir, `${runId}-${renderer}.html`);
    const made = await cli(dir, ["report", runId, join(FIX, module), "-o", file, "--renderer", renderer]);
    expect(made.code, made.stderr).toBe(0);
    const page = await browser.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("pageerror", (e) => errors.push(e.message));
    try {
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector(`#graph[data-rendered="${renderer}"] svg`, { timeout: 15_000 });
      // A node's visible label: its text without the <title> tooltip.
      const nodeTexts = await page.$$eval("#graph svg g.node", (gs: PageElement[]) =>
        gs.map((g) => {
          const copy = g.cloneNode(true);
          for (const t of copy.querySelectorAll("title")) t.remove();
          return copy.textContent ?? "";
        }),
      );
      const timeline = await page.$$eval(".timeline .row[data-node-id]", (rows: PageElement[]) =>
        rows.map((r) => ({ id: r.getAttribute("data-node-id"), label: r.querySelector(".label")?.textContent, bar: r.querySelector(".bar") !== null })),
      );
      const fills = await page.$$eval("#graph svg g.node", (gs: PageElement[]) =>
        gs.map((g) => {
          // The test's lib has no DOM types; in the page, globalThis is the window.
          const view = globalThis as unknown as { getComputedStyle(e: unknown): { fill: string } };
          return view.getComputedStyle(g.querySelector("rect, path, polygon")).fill;
        }),
      );
      const renderError = await page.getAttribute("#graph", "data-render-error");
      return { nodeTexts, fills, timeline, requests, errors, renderError, html: readFileSync(file, "utf8"), title: await page.title() };
    } finally {
      await page.close();
    }
  }

  for (const renderer of ["mermaid", "svg"] as const) {
    it(`draws every node of the graph and the timeline (${renderer})`, async () => {
      const shown = await open("diamond-1", "ok.mjs", renderer);
      const ids = ["seed", "left", "right", "join"];
      expect(shown.renderError).toBeNull();
      expect(shown.errors).toEqual([]);
      expect(shown.nodeTexts.map(squash).sort()).toEqual([...ids].sort());
      expect(shown.timeline.map((t) => t.id).sort()).toEqual([...ids].sort());
      expect(shown.timeline.every((t) => t.bar && t.label === t.id)).toBe(true);
      // Self-contained: the page asked for nothing but itself.
      expect(shown.requests.filter((u) => !u.startsWith("file:") && !u.startsWith("data:"))).toEqual([]);
      expect(shown.title).toBe("run diamond-1 · succeeded");
    });
  }

  it("colours nodes by status and shows a failed node's error and cause", async () => {
    for (const renderer of ["mermaid", "svg"] as const) {
      const { nodeTexts, fills, html } = await open("failing-1", "fail.mjs", renderer);
      const byNode = Object.fromEntries(nodeTexts.map((t, i) => [squash(t), fills[i]]));
      expect(byNode).toEqual({ extract: "rgb(211, 249, 216)", load: "rgb(255, 227, 227)" });
      expect(html).toMatch(/<div class="error">Error: could not write rows<\/div><div class="cause">caused by TypeError: disk is read-only/);
    }
  });

  it("escapes node ids: they show as text, never as markup", async () => {
    for (const renderer of ["mermaid", "svg"] as const) {
      const shown = await open("tricky-1", "tricky.mjs", renderer);
      const ids = ['a<b>&"c', "d'e `f`", "end"];
      expect(shown.errors).toEqual([]);
      expect(shown.nodeTexts.map(squash).sort()).toEqual(ids.map(squash).sort());
      expect(shown.timeline.map((t) => t.label).sort()).toEqual([...ids].sort());
      expect(shown.html).not.toContain("<b>&");
    }
  });

  it("draws every attempt, the gaps between processes and the waits; the header's duration is the axis span", async () => {
    const file = join(dir, "demo-1.html");
    const made = await cli(dir, ["report", "demo-1", join(FIX, "report-demo.mjs"), "-o", file, "--renderer", "svg"]);
    expect(made.code, made.stderr).toBe(0);
    const page = await browser.newPage();
    try {
      await page.goto(pathToFileURL(file).href);
      const bars = await page.$$eval(".timeline .row[data-node-id] .bar", (els: PageElement[]) =>
        els.map((e) => ({ row: e.closest(".row")?.getAttribute("data-node-id"), cls: e.getAttribute("class"), title: e.getAttribute("title") })),
      );
      const of = (id: string) => bars.filter((b) => b.row === id);
      // fetch-air: the failed attempt (marked, its error on hover), then the one that succeeded.
      expect(of("fetch-air").map((b) => b.cls)).toEqual(["bar attempt o-failed", "bar attempt o-succeeded"]);
      expect(of("fetch-air")[0]?.title).toMatch(/^fetch-air attempt 1: failed .* — Error: air-quality service timed out$/);
      // summarize: cut off by the SIGKILL, then run again by the resume.
      expect(of("summarize").map((b) => b.cls)).toEqual(["bar attempt o-interrupted", "bar attempt o-succeeded"]);
      expect(of("summarize")[0]?.title).toContain("interrupted: its process ended (crash)");
      // approve: waited in the second process (suspended), ran on in the third; its wait is drawn.
      expect(of("approve").map((b) => b.cls)).toEqual(["bar attempt o-suspended", "bar attempt o-succeeded"]);
      const waits = await page.$$eval(".timeline .wait", (els: PageElement[]) => els.map((e) => e.getAttribute("title")));
      expect(waits).toHaveLength(1);
      expect(waits[0]).toMatch(/^approve waits for "approve" since .*, resolved /);
      // Three processes, the first crashed; a shaded gap before each resume, on every row.
      const processes = await page.$$eval(".timeline .processes .process", (els: PageElement[]) => els.map((e) => e.getAttribute("class")));
      expect(processes).toEqual(["process crashed", "process", "process"]);
      expect(await page.$$eval(".timeline .processes .gap", (els: PageElement[]) => els.length)).toBe(2);
      expect(await page.$$eval(".timeline .row[data-node-id='publish'] .gap", (els: PageElement[]) => els.length)).toBe(2);
      // The header's duration is the span the axis ends at.
      const duration = await page.$$eval("dl.summary dt", (dts: PageElement[]) => {
        const dt = dts.find((d) => d.textContent === "duration");
        return (dt as unknown as { nextElementSibling: PageElement | null } | undefined)?.nextElementSibling?.textContent ?? "";
      });
      const lastTick = await page.$$eval(".timeline .axis .track span", (spans: PageElement[]) => spans.at(-1)?.textContent ?? "");
      expect(duration).toBe(`${lastTick} over 3 processes`);
    } finally {
      await page.close();
    }
  });
});
