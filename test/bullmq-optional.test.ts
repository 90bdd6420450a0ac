/**
 * bullmq and ioredis are optional peers: only the `taskloom/bullmq` entry
 * (src/adapters/bullmq/) may import them statically; the CLI's worker
 * command imports the adapter dynamically, so `taskloom` and its CLI load
 * without them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../src");
const ADAPTER = join(SRC, "adapters", "bullmq");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Static value imports (`import … from "x"`, `export … from "x"`), not `import type` and not `import("x")`. */
function staticImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+"([^"]+)"/gms)) out.push(m[1]!);
  return out;
}

describe("optional peers", () => {
  it("are imported statically only by the taskloom/bullmq entry", () => {
    const offenders: string[] = [];
    for (const file of sources(SRC)) {
      if (file.startsWith(ADAPTER)) continue;
      for (const spec of staticImports(readFileSync(file, "utf8"))) {
        if (/^(bullmq|ioredis)(\/|$)/.test(spec) || spec.includes("adapters/bullmq")) offenders.push(`${relative(SRC, file)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("sees the adapter's own static imports (the check can fail)", () => {
    const imports = staticImports(readFileSync(join(ADAPTER, "executor.ts"), "utf8"));
    expect(imports).toContain("bullmq");
  });
});
