/**
 * Finding lines from a file's end: `journal-file.ts`'s `validEnd` (where
 * the valid lines end, before a torn fragment or one bad last line) and
 * `run-file-leases.ts`'s `eachLineBackwards` (the lines, last first). Both
 * look back a page first and then twice as far each time, so lines of
 * every length around those windows (a page, 64 KiB, 1 MiB) are checked
 * against a plain reading of the whole file.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { validEnd } from "../src/persistence/journal-reading.js";
import { eachLineBackwards } from "../src/persistence/run-file-leases.js";
import { checkRunFileLine } from "../src/persistence/run-file-lines.js";
import { serialize } from "../src/persistence/serialization.js";
import { nodeRecord } from "./store-conformance.js";

const root = mkdtempSync(join(tmpdir(), "taskloom-line-ends-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A node record line of about `bytes` bytes ("\n" included). */
function lineOf(seq: number, bytes: number): string {
  const bare = `${serialize(nodeRecord(seq, `n${seq}`, { status: "succeeded", output: "" }))}\n`;
  return `${serialize(nodeRecord(seq, `n${seq}`, { status: "succeeded", output: "x".repeat(Math.max(0, bytes - bare.length)) }))}\n`;
}

/** Lengths around the windows the readers use. */
const length = fc.oneof(
  fc.integer({ min: 60, max: 300 }),
  fc.integer({ min: 4000, max: 4200 }),
  fc.integer({ min: 8100, max: 8300 }),
  fc.integer({ min: 65_400, max: 65_700 }),
  fc.integer({ min: 130_000, max: 132_000 }),
);

/** What a file of `lines` and then `tail` holds, read plainly: the end of its valid lines, and those lines. */
function written(lines: readonly string[], tail: string): { file: string; end: number; lines: string[] } {
  const file = join(root, `f-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, lines.join("") + tail);
  return { file, end: Buffer.byteLength(lines.join("")), lines: lines.map((l) => l.slice(0, -1)) };
}

/** What the two readers find in `file` (of `size` bytes): where its valid lines end, and its lines, last first. */
function readBack(file: string, size: number): { end: number; lines: string[] } {
  const fd = openSync(file, "r");
  try {
    const lines: string[] = [];
    eachLineBackwards(fd, size, (line) => {
      lines.push(line.toString("utf8"));
      return false;
    });
    return { end: validEnd(fd, size, checkRunFileLine).end, lines };
  } finally {
    closeSync(fd);
  }
}

describe("lines found from a file's end", () => {
  it("validEnd and eachLineBackwards agree with a plain reading, whatever the lengths of the lines and of a torn fragment", () => {
    fc.assert(
      fc.property(fc.array(length, { minLength: 1, maxLength: 6 }), fc.option(length, { nil: undefined }), (lengths, torn) => {
        const lines = lengths.map((n, i) => lineOf(i + 1, n));
        // A torn last line: the start of one more record, without its "\n".
        const tail = torn === undefined ? "" : lineOf(lengths.length + 1, torn).slice(0, -2);
        const { file, end, lines: expected } = written(lines, tail);
        const size = Buffer.byteLength(lines.join("") + tail);
        expect(readBack(file, size)).toEqual({ end, lines: expected.reverse() });
        rmSync(file);
      }),
      { numRuns: 40 },
    );
  });

  it("finds the start of a last line longer than the biggest window (1 MiB)", () => {
    const lines = [lineOf(1, 200), lineOf(2, 1024 * 1024 + 5000), lineOf(3, 3 * 1024 * 1024)];
    const { file, end, lines: expected } = written(lines, lineOf(4, 100).slice(0, 50));
    const size = end + 50;
    expect(readBack(file, size)).toEqual({ end, lines: expected.reverse() });
  });
});
