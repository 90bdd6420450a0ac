/**
 * `taskloom report <run-id> [module] -o run.html`: writes the HTML run
 * report. The graph is drawn with Mermaid when the optional `mermaid`
 * package can be found (next to taskloom or in the working folder's
 * project), else as taskloom's own SVG; `--renderer` forces either. The
 * file holds the run's inputs and outputs, so it is written with mode 0600.
 *
 * @module
 */
import { closeSync, constants, fchmodSync, openSync, readFileSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { assertRunId, getRun } from "../../index.js";
import type { CommandContext } from "../context.js";
import { CliError } from "../errors.js";
import { renderReport } from "../report-html.js";
import { shapeForRun } from "./show.js";

/** Graph renderers of `taskloom report`. */
export const RENDERERS = ["auto", "mermaid", "svg"] as const;

/** Options of `taskloom report`. */
export interface ReportCommandOptions {
  readonly output?: string | undefined;
  readonly renderer?: (typeof RENDERERS)[number] | undefined;
  readonly export?: string | undefined;
}

/** Mermaid's browser bundle, from this package's dependencies or the working folder's; undefined when not installed. */
export function findMermaid(cwd: string): string | undefined {
  for (const from of [import.meta.url, join(cwd, "noop.js")]) {
    try {
      return readFileSync(createRequire(from).resolve("mermaid/dist/mermaid.min.js"), "utf8");
    } catch {
      // not installed there
    }
  }
  return undefined;
}

/**
 * Writes `text` to `file` readable by its owner only (0600, like the
 * store's files: a report holds the run's inputs and outputs). An existing
 * file is made 0600 through the open handle before anything is written.
 */
export function writePrivate(file: string, text: string): void {
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    fchmodSync(fd, 0o600);
    const bytes = Buffer.from(text, "utf8");
    for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
  } finally {
    closeSync(fd);
  }
}

/** Runs the command; resolves to the exit code. */
export async function reportCommand(ctx: CommandContext, runId: string, modulePath: string | undefined, options: ReportCommandOptions): Promise<number> {
  assertRunId(runId);
  const run = await getRun(runId, { store: ctx.store() });
  const shape = await shapeForRun(ctx, run, modulePath, options.export);
  const renderer = options.renderer ?? "auto";
  const mermaidJs = renderer === "svg" ? undefined : findMermaid(ctx.io.cwd);
  if (renderer === "mermaid" && mermaidJs === undefined) {
    throw new CliError("USAGE", 'the mermaid package is not installed: run "npm install -D mermaid", or use --renderer svg.');
  }
  const html = renderReport({ run, shape, mermaidJs, now: ctx.io.now() });
  const output = options.output ?? `${runId}.html`;
  if (output === "-") {
    ctx.io.out.write(html);
  } else {
    const file = resolve(ctx.io.cwd, output);
    writePrivate(file, html);
    const kb = Math.ceil(Buffer.byteLength(html) / 1024);
    ctx.io.err.write(
      `wrote ${file} (${kb} KB, graph drawn with ${mermaidJs ? "Mermaid" : "inline SVG"}${shape ? "" : ", without edges: give the module to draw them"})\n`,
    );
  }
  return 0;
}
