/**
 * Probe of the shape anchors (`src/core/shape-anchors.ts`): does a map
 * that a run's short-lived objects have survive full GCs between runs?
 * It runs a graph (a node, and a map node over its output) twice, with
 * five forced GCs in between, and prints the V8 map of the objects a node
 * body can reach (its context, the context of a map element, its attempt's
 * abort state) and of the run's node index, from each run. An anchored
 * map is the same in both runs; a map that died in the GCs differs
 * (`/work/wt/base`, before the anchors: the first three differ).
 *
 *   node --import tsx bench/probes/shape-anchors.ts [checkout=.]
 *
 * It runs itself again as a child with `--expose-gc --allow-natives-syntax`
 * and reads the maps from `%DebugPrint` (written by V8 to stdout). The
 * engine's per-run objects (the scheduler and its parts, the persistence
 * observer) are out of a node's reach: `fsync-gc.ts --trace-deopt` checks
 * them through the deopts they cause.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const MARK = "shape-anchors probe:";
const root = resolve(process.argv[2] ?? ".");

if (process.env.SHAPE_ANCHORS_CHILD === undefined) {
  // V8's dumps go to a file: through a pipe, part of them was lost at exit.
  const dir = mkdtempSync(join(tmpdir(), "shape-anchors-"));
  const dumps = openSync(join(dir, "dumps.txt"), "w");
  const child = spawnSync(process.execPath, ["--expose-gc", "--allow-natives-syntax", "--import", "tsx", fileURLToPath(import.meta.url), root], {
    env: { ...process.env, SHAPE_ANCHORS_CHILD: "1" },
    encoding: "utf8",
    stdio: ["ignore", dumps, "pipe"],
  });
  closeSync(dumps);
  const stdout = readFileSync(join(dir, "dumps.txt"), "utf8");
  rmSync(dir, { recursive: true, force: true });
  // The child names what it dumps on stderr, in order; a dump's first " - map: 0x…" line is its object's map.
  const names = child.stderr
    .split("\n")
    .filter((line) => line.startsWith(MARK))
    .map((line) => line.slice(MARK.length).trim());
  const maps: string[] = [];
  let dump = false;
  for (const line of stdout.split("\n")) {
    if (line.startsWith("DebugPrint:")) dump = true;
    const m = / - map: (0x[0-9a-f]+)/.exec(line);
    if (dump && m) {
      maps.push(m[1]!);
      dump = false;
    }
  }
  const byName = new Map<string, string[]>();
  names.forEach((name, i) => byName.set(name, [...(byName.get(name) ?? []), maps[i] ?? "?"]));
  for (const [name, [first, second]] of byName) {
    console.log(`${name.padEnd(20)} ${first === second ? "same map after the GCs (anchored)" : `map died in the GCs (${first} -> ${second})`}`);
  }
} else {
  const lib = (await import(pathToFileURL(resolve(root, "src/index.ts")).href)) as typeof import("../../src/index.js");
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- %DebugPrint is V8 syntax (--allow-natives-syntax), not TypeScript
  const debugPrint = new Function("o", "%DebugPrint(o)") as (o: unknown) => void;
  let seen: Record<string, unknown> = {};
  interface LooseBuilder {
    node(id: string, fn: (ctx: { abortState: unknown }) => unknown): LooseBuilder;
    map(id: string, source: string, fn: (ctx: unknown) => unknown): LooseBuilder;
    build(): Parameters<typeof lib.run>[0];
  }
  const g = (lib.graph("shape-anchors-probe") as unknown as LooseBuilder)
    .node("a", (ctx) => {
      seen["context"] = ctx;
      seen["abort state"] = ctx.abortState;
      return [1, 2];
    })
    .map("m", "a", (ctx) => {
      seen["map element context"] = ctx;
      return 1;
    })
    .build();
  const once = async (): Promise<void> => {
    seen = {};
    const handle = lib.run(g, undefined, { store: new lib.MemoryStore(), runId: "probe" });
    await handle.result();
    seen["node index"] = handle.state?.nodes.index;
    console.error(`${MARK} ${Object.keys(seen).join(`\n${MARK} `)}`);
    for (const o of Object.values(seen)) debugPrint(o);
    seen = {};
  };
  await once();
  for (let i = 0; i < 5; i++) (globalThis as { gc?: () => void }).gc?.();
  await once();
}
