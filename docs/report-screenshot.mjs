// Makes docs/report-timeline.png, the screenshot of the HTML report's
// timeline in docs/cli.md: runs test/fixtures/cli/report-demo.mjs with the
// built CLI (npm run build first), SIGKILLs its first process while
// "summarize" runs, resumes it (it stops to wait for "approve"), resolves
// the wait, resumes it again, writes the report and photographs its
// timeline in headless Chromium (/usr/bin/chromium, through playwright-core).
//
//   node docs/report-screenshot.mjs
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "..");
const cli = join(root, "dist/cli/main.js");
const module = join(root, "test/fixtures/cli/report-demo.mjs");
const dir = mkdtempSync(join(tmpdir(), "taskloom-shot-"));
const log = join(dir, "log");
const env = { ...process.env, TASKLOOM_DIR: dir };
const taskloom = (...args) => {
  try {
    execFileSync(process.execPath, [cli, ...args], { env, stdio: "ignore" });
  } catch (err) {
    if (err.status !== 2) throw err; // 2: the run stopped to wait
  }
};

try {
  // The first process: killed as soon as "summarize" has started.
  const child = spawn(process.execPath, [cli, "run", module, "--run-id", "demo"], {
    env: { ...env, LOG: log, KILL_ON: "summarize started" },
    stdio: "ignore",
  });
  while (!(existsSync(log) && readFileSync(log, "utf8").includes("summarize started"))) await new Promise((r) => setTimeout(r, 5));
  child.kill("SIGKILL");
  await new Promise((r) => child.on("exit", r));
  taskloom("resume", "demo", module);
  taskloom("resolve", "demo", "approve", "--payload", "true");
  taskloom("resume", "demo", module);
  const page = join(dir, "demo.html");
  taskloom("report", "demo", module, "-o", page, "--renderer", "svg");
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
  try {
    const tab = await browser.newPage({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1 });
    await tab.goto(pathToFileURL(page).href);
    await tab.locator(".timeline").screenshot({ path: join(root, "docs/report-timeline.png") });
  } finally {
    await browser.close();
  }
  console.log("wrote docs/report-timeline.png");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
