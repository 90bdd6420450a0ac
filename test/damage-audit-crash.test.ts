/**
 * A crash in the middle of a write of values in several scripts (UTF-8
 * sequences of two to four bytes, lone surrogates) leaves a torn tail that
 * may cut a character in two: a load after a SIGKILL of a real `node`
 * child must lose only the unfinished write, never call the run corrupt
 * and never read a changed value (`journal-reading.ts` refuses a line that
 * is not valid UTF-8: a torn fragment is never such a line, as it has no
 * "\n"). Then a resume finishes the run with every value exact.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { LowdbStore, getRun, runAsync } from "../src/index.js";

const NODES = 30;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The graph of the child and of the resume: node `n<i>` returns {@link valueOf}(i). */
const GRAPH_SOURCE = `
export const NODES = ${NODES};
export function valueOf(i) {
  return { i, text: "ü✓𝄞\\ud800".repeat(50 * (i + 1)), list: ["é".repeat(i), "\\u0001"] };
}
export function makeGraph(graph, onNode) {
  let b = graph("torn-utf8");
  for (let i = 0; i < NODES; i++) {
    b = b.node("n" + i, async () => {
      onNode(i);
      return valueOf(i);
    }, i === 0 ? {} : { after: ["n" + (i - 1)] });
  }
  return b.build();
}
`;

const CHILD_SOURCE = (src: string, graphModule: string) => `
import { graph, runAsync, LowdbStore } from ${JSON.stringify(src)};
import { makeGraph } from ${JSON.stringify(graphModule)};
const g = makeGraph(graph, (i) => process.stdout.write("node " + i + "\\n"));
await runAsync(g, undefined, { store: new LowdbStore({ dir: process.env.DIR, layout: process.env.LAYOUT }), runId: "torn" });
process.stdout.write("finished\\n");
`;

/** Runs the child until it reports that node `killAt` started, then SIGKILLs it. */
function runChildUntil(script: string, dir: string, layout: string, killAt: number): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      env: { ...process.env, DIR: dir, LAYOUT: layout },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes(`node ${killAt}\n`)) child.kill("SIGKILL");
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", fail);
    child.on("close", (code, signal) => (signal === "SIGKILL" ? done() : fail(new Error(`child ended with ${code}: ${err}`))));
  });
}

describe.each(["files", "folders"] as const)("a SIGKILL in the middle of writing multi-byte values (layout %s)", (layout) => {
  it.each([1, 7, 15, 22, 29])("killed once node %i started: loads what was saved exactly, then a resume finishes the run exactly", async (killAt) => {
    const dir = mkdtempSync(join(tmpdir(), "taskloom-damage-crash-"));
    dirs.push(dir);
    const graphModule = join(dir, "graph.mjs");
    writeFileSync(graphModule, GRAPH_SOURCE);
    const script = join(dir, "child.mts");
    writeFileSync(script, CHILD_SOURCE(resolve("src/index.ts"), graphModule));
    const { makeGraph, valueOf } = (await import(graphModule)) as {
      makeGraph: (g: unknown, onNode: (i: number) => void) => Parameters<typeof runAsync>[0];
      valueOf: (i: number) => unknown;
    };
    const { graph } = await import("../src/index.js");
    await runChildUntil(script, join(dir, "store"), layout, killAt);

    const details = await getRun("torn", { store: new LowdbStore({ dir: join(dir, "store") }) });
    for (const node of details.nodes) {
      if (node.status !== "succeeded") continue;
      expect(isDeepStrictEqual(node.output, valueOf(Number(node.id.slice(1)))), `${node.id} read back changed`).toBe(true);
    }

    const ran: number[] = [];
    const out = (await runAsync(
      makeGraph(graph, (i) => ran.push(i)),
      undefined,
      { store: new LowdbStore({ dir: join(dir, "store") }), runId: "torn" },
    )) as Record<string, unknown>;
    for (let i = 0; i < NODES; i++) expect(isDeepStrictEqual(out[`n${i}`], valueOf(i)), `n${i} after the resume`).toBe(true);
    // Nodes saved before the kill are not run again.
    const saved = details.nodes.filter((n) => n.status === "succeeded").map((n) => Number(n.id.slice(1)));
    expect(ran.filter((i) => saved.includes(i))).toEqual([]);
  });
});
