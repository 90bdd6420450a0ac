/**
 * The run summary of a `LowdbStore` without `fsync` is overwritten in place
 * (`small-file.ts`) instead of renamed over: same file, right content, as
 * safe against a SIGKILL; with `fsync` it is replaced by rename while the
 * run goes on, and a stop (which the journal holds, `summary-lag.ts`) is
 * written in place over the one-sector summary (`summary-file.ts`). That
 * is the `summary.json` of a run kept as a folder (`runs/<runId>/`: the
 * stores, the child's too, are made with `layout: "folders"`).
 */
import { spawn } from "node:child_process";
import { existsSync, linkSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UnsafeStoreFileError } from "../src/persistence/errors.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { overwriteSmallFileSync, PAGE_BYTES } from "../src/persistence/small-file.js";
import { sampleRun } from "./store-conformance.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "taskloom-summary-in-place-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("overwriteSmallFileSync", () => {
  it("overwrites in place, padding a shorter text with spaces, and keeps the file", () => {
    const file = join(root, "s.json");
    writeFileSync(file, JSON.stringify({ a: "x".repeat(50) }), { mode: 0o600 });
    const ino = statSync(file).ino;
    expect(overwriteSmallFileSync(file, JSON.stringify({ a: 1 }))).toBe(true);
    const text = readFileSync(file, "utf8");
    expect(statSync(file).ino).toBe(ino);
    expect(JSON.parse(text)).toEqual({ a: 1 });
    expect(text.trimEnd()).toBe('{"a":1}');
    expect(overwriteSmallFileSync(file, JSON.stringify({ a: "y".repeat(200) }))).toBe(true);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ a: "y".repeat(200) });
  });

  it("writes nothing and says false for a missing file, an empty one, or a text or file over a page", () => {
    const file = join(root, "s.json");
    expect(overwriteSmallFileSync(file, "{}")).toBe(false);
    expect(existsSync(file)).toBe(false);
    writeFileSync(file, "", { mode: 0o600 });
    expect(overwriteSmallFileSync(file, "{}")).toBe(false);
    writeFileSync(file, "{}", { mode: 0o600 });
    expect(overwriteSmallFileSync(file, JSON.stringify("z".repeat(PAGE_BYTES)))).toBe(false);
    expect(readFileSync(file, "utf8")).toBe("{}");
    writeFileSync(file, JSON.stringify("z".repeat(PAGE_BYTES)), { mode: 0o600 });
    expect(overwriteSmallFileSync(file, "{}")).toBe(false);
  });

  it("refuses a symbolic link and a file with another hard link", () => {
    const target = join(root, "target.json");
    writeFileSync(target, "{}", { mode: 0o600 });
    const link = join(root, "link.json");
    symlinkSync(target, link);
    expect(() => overwriteSmallFileSync(link, "[]")).toThrow(UnsafeStoreFileError);
    unlinkSync(link);
    linkSync(target, link);
    expect(() => overwriteSmallFileSync(link, "[]")).toThrow(UnsafeStoreFileError);
    expect(readFileSync(target, "utf8")).toBe("{}");
  });
});

describe("LowdbStore's summary", () => {
  const RUN = "r-1";
  async function endByAppend(fsync: boolean, status: "succeeded" | "running" = "succeeded"): Promise<{ before: number; after: number; dir: string }> {
    const dir = join(root, fsync ? "fsync" : "plain");
    const store = new LowdbStore({ dir, fsync, layout: "folders" });
    const state = sampleRun(RUN, { nodeIds: ["a", "b"] });
    await store.writeSnapshot(state, 0);
    const file = join(dir, "runs", RUN, "summary.json");
    const before = statSync(file).ino;
    await store.append(RUN, [{ seq: 1, kind: "run", run: { ...state.meta, status, updatedAt: 5_000 } }], undefined, {
      nodeCount: 2,
      settledCount: 2,
    });
    const after = statSync(file).ino;
    const [summary] = await store.list();
    expect(summary).toMatchObject({ runId: RUN, status, updatedAt: 5_000, nodeCount: 2, settledCount: 2 });
    await store.close();
    return { before, after, dir };
  }

  it("is overwritten in place without fsync (the same file, the new content)", async () => {
    const { before, after } = await endByAppend(false);
    expect(after).toBe(before);
  });

  it("is replaced by rename with fsync while the run goes on", async () => {
    const { before, after } = await endByAppend(true, "running");
    expect(after).not.toBe(before);
  });

  it("with fsync, a stop over a summary not one sector long (an earlier version's) is replaced by rename", async () => {
    const dir = join(root, "older");
    const store = new LowdbStore({ dir, fsync: true, layout: "folders" });
    const state = sampleRun(RUN, { nodeIds: ["a", "b"] });
    await store.writeSnapshot(state, 0);
    const file = join(dir, "runs", RUN, "summary.json");
    writeFileSync(file, readFileSync(file, "utf8").trimEnd());
    const before = statSync(file).ino;
    await store.append(RUN, [{ seq: 1, kind: "run", run: { ...state.meta, status: "failed", updatedAt: 5_000 } }], undefined, {
      nodeCount: 2,
      settledCount: 1,
    });
    expect(statSync(file).ino).not.toBe(before);
    expect(await store.list()).toMatchObject([{ runId: RUN, status: "failed", updatedAt: 5_000, nodeCount: 2, settledCount: 1 }]);
    await store.close();
  });

  it("is written in place over its one sector with fsync at a stop (the journal holds the stop)", async () => {
    const { before, after, dir } = await endByAppend(true);
    expect(after).toBe(before);
    expect(statSync(join(dir, "runs", RUN, "summary.json")).size).toBe(512);
  });

  it("parses after a SIGKILL at any moment of a stream of in-place rewrites, and holds an acknowledged version or a later one", async () => {
    const dir = join(root, "crash");
    const log = join(root, "log");
    const seed = new LowdbStore({ dir, layout: "folders" });
    await seed.writeSnapshot(sampleRun(RUN, { nodeIds: ["a", "b", "c", "d"] }), 0);
    await seed.close();
    for (let kill = 0; kill < 4; kill++) {
      const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/summary-rewrite-child.ts"], {
        env: { ...process.env, TASKLOOM_DIR: dir, RUN_ID: RUN, LOG: log },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const closed = new Promise<NodeJS.Signals | null>((resolve) => child.once("close", (_code, signal) => resolve(signal)));
      const acked = (): number[] =>
        existsSync(log)
          ? readFileSync(log, "utf8")
              .split("\n")
              .filter((l) => l.endsWith(` ${child.pid}`))
              .map((l) => Number(l.split(" ")[1]))
          : [];
      const until = Date.now() + 60_000;
      // Each child is killed after a different number of rewrites, mid-stream.
      while (acked().length < 50 + kill * 137) {
        if (Date.now() > until) throw new Error(`the child made too few rewrites in 60 s: ${stderr}`);
        await new Promise((r) => setTimeout(r, 2));
      }
      child.kill("SIGKILL");
      expect(await closed, stderr).toBe("SIGKILL");
      const last = Math.max(...acked());
      const store = new LowdbStore({ dir, layout: "folders" });
      const problems: unknown[] = [];
      const [summary] = await store.list({ onProblem: (p) => problems.push(p) });
      expect(problems).toEqual([]);
      expect(summary?.runId).toBe(RUN);
      expect(summary?.updatedAt).toBeGreaterThanOrEqual(last);
      expect(summary?.graphName).toBe("g".repeat(1 + ((summary!.updatedAt * 97) % 1500)));
      expect(summary?.settledCount).toBe(summary!.updatedAt % 5);
      // The summary never runs ahead of the journal, and lags it by at most the append the kill cut short.
      const loaded = await store.load(RUN);
      expect(loaded!.state.meta.updatedAt - summary!.updatedAt).toBeGreaterThanOrEqual(0);
      expect(loaded!.state.meta.updatedAt - summary!.updatedAt).toBeLessThanOrEqual(1);
      await store.close();
    }
  }, 120_000);
});
