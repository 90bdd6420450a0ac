/**
 * A stored file with a byte that is not valid UTF-8 (a flipped bit, a bad
 * sector, a hand edit in the wrong encoding) is damage. Decoded anyway, the
 * damaged bytes became U+FFFD and the line still parsed: a node's saved
 * output or the run's inputs came back silently changed, a node wrongly
 * considered done with another result. Now such a line is a bad line (a
 * journal or run file: `SnapshotCorruptError` unless it is the last one, a
 * torn tail) and such a document (`snapshot.json`, `summary.json`,
 * `lease.json`) is `SnapshotCorruptError` naming the file.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LowdbStore, SnapshotCorruptError, getRun, graph, runAsync, type RunDetails } from "../src/index.js";
import { asciiOffsets, damageByte, filesUnder, offsetsOf } from "./support/codec-audit.js";

const INPUTS = { text: "ïnput ✓ 𝄞", n: 1 };
const OUTPUTS: Record<string, unknown> = {
  a: "héllo wörld ✓ 𝄞",
  b: { text: "plain ascii text, long enough to be hit", list: ["x", "ÿ", "z"] },
  c: "the last node's output",
};
const g = graph("utf8-damage")
  .input<typeof INPUTS>()
  .node("a", () => OUTPUTS.a as string)
  .node("b", () => OUTPUTS.b as { text: string; list: string[] }, { after: ["a"] })
  .node("c", () => OUTPUTS.c as string, { after: ["b"] })
  .build();

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "taskloom-damage-utf8-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A folder holding run "r1" of `g`, finished, kept as `layout` keeps runs. */
async function fixture(layout: "files" | "folders"): Promise<string> {
  const dir = tempDir();
  await runAsync(g, INPUTS, { store: new LowdbStore({ dir, layout }), runId: "r1" });
  return dir;
}

/** What a fresh store reads of run "r1" in `dir`: its details, or the error it threw. */
async function load(dir: string): Promise<{ details: RunDetails } | { error: unknown }> {
  try {
    return { details: await getRun("r1", { store: new LowdbStore({ dir }) }) };
  } catch (error) {
    return { error };
  }
}

/** Nothing read is a changed value: the inputs are the run's, and every output read is the one the node returned. */
function expectNothingChanged(read: { details: RunDetails } | { error: unknown }, what: string): void {
  if ("error" in read) {
    expect(read.error, `${what}: ${String(read.error)}`).toBeInstanceOf(SnapshotCorruptError);
    return;
  }
  expect(isDeepStrictEqual(read.details.inputs, INPUTS), `${what}: inputs ${JSON.stringify(read.details.inputs)}`).toBe(true);
  for (const node of read.details.nodes) {
    if (node.output === undefined) continue;
    expect(isDeepStrictEqual(node.output, OUTPUTS[node.id]), `${what}: ${node.id} read as ${JSON.stringify(node.output)}`).toBe(true);
  }
}

describe.each(["files", "folders"] as const)("a stored file with a byte that is not UTF-8 (layout %s)", (layout) => {
  let original: string;
  beforeAll(async () => {
    original = await fixture(layout);
    const read = await load(original);
    expect("details" in read && read.details.status).toBe("succeeded");
  });

  it("a damaged byte inside a saved output is SnapshotCorruptError naming the file, not U+FFFD in the output", async () => {
    const dir = tempDir();
    cpSync(original, dir, { recursive: true });
    const file = filesUnder(dir)
      .map((f) => join(dir, f))
      .find((f) => readFileSync(f).includes("héllo"));
    expect(file).toBeDefined();
    damageByte(file!, readFileSync(file!).indexOf("héllo"), 0xff);
    const read = await load(dir);
    expect("error" in read && read.error).toBeInstanceOf(SnapshotCorruptError);
    expect((read as { error: SnapshotCorruptError }).error.file).toBe(file);
    expect((read as { error: SnapshotCorruptError }).error.message).toMatch(/not valid UTF-8/);
  });

  it("property: any ASCII byte of any file replaced by a byte of 0x80 to 0xff reads as SnapshotCorruptError or as what was saved", async () => {
    // Half the damage lands in the text of a saved value (where a changed byte is a changed result), half anywhere.
    const needles = ["ïnput ✓", "héllo wörld", "plain ascii text", '"ÿ"', "the last node's output"];
    const files = filesUnder(original).map((f) => {
      const bytes = readFileSync(join(original, f));
      return { name: f, anywhere: asciiOffsets(bytes), inValues: offsetsOf(bytes, needles) };
    });
    await fc.assert(
      fc.asyncProperty(
        fc.nat(files.length - 1),
        fc.boolean(),
        fc.nat({ max: 1_000_000 }),
        fc.integer({ min: 0x80, max: 0xff }),
        async (which, inValue, where, byte) => {
          const { name, anywhere, inValues } = files[which]!;
          const offsets = inValue && inValues.length > 0 ? inValues : anywhere;
          if (offsets.length === 0) return;
          const at = offsets[where % offsets.length]!;
          const dir = tempDir();
          cpSync(original, dir, { recursive: true });
          damageByte(join(dir, name), at, byte);
          expectNothingChanged(await load(dir), `${name} byte ${at} set to ${byte.toString(16)}`);
          rmSync(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 150, seed: 20261203 },
    );
  }, 120_000);
});

describe("a run file's lines read from its end, with a byte that is not UTF-8", () => {
  it("listing the runs refuses a damaged graph name (SnapshotCorruptError naming the file), never shows it with U+FFFD", async () => {
    const dir = await fixture("files");
    const file = filesUnder(dir)
      .map((f) => join(dir, f))
      .find((f) => f.endsWith(".run"));
    expect(file).toBeDefined();
    const bytes = readFileSync(file!);
    // The run's meta line is its last "run" line: damage the graph's name in it.
    damageByte(file!, bytes.lastIndexOf("utf8-damage") + 1, 0xff);
    let listed: unknown;
    try {
      listed = await new LowdbStore({ dir }).list();
    } catch (error) {
      listed = error;
    }
    if (listed instanceof Error) {
      expect(listed).toBeInstanceOf(SnapshotCorruptError);
      expect((listed as SnapshotCorruptError).file).toBe(file);
      expect(listed.message).toMatch(/not valid UTF-8/);
    } else {
      expect(JSON.stringify(listed)).not.toContain("\uFFFD");
      expect(JSON.stringify(listed)).not.toContain("utf8-damage");
    }
  });
});
