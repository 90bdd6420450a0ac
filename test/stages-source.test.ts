/**
 * Task sources and statuses: the in-memory and JSON-file sources read
 * tasks, refuse bad ones by name, and apply batches of moves (the file
 * keeps its shape and other fields); status rules for status actions.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidOptionError, JsonFileTaskSource, MemoryTaskSource, type TaskMove } from "../src/index.js";
import { allowedStatusActions, statusAfter, statusOnEntry } from "../src/stages/task-status.js";
import { rejection } from "./support/async.js";

const dir = mkdtempSync(join(tmpdir(), "taskloom-stages-src-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const move = (taskId: string, stageId: string, extra: Partial<TaskMove> = {}): TaskMove => ({
  taskId,
  from: "pre-label",
  stageId,
  status: "NEW",
  data: { label: `l-${taskId}` },
  at: 1,
  ...extra,
});

describe("MemoryTaskSource", () => {
  it("holds tasks, applies moves, keeps every batch, refuses duplicate or bad ids", async () => {
    const source = new MemoryTaskSource([{ id: "t1", data: { text: "a" } }, { id: "t2" }]);
    await source.write([move("t1", "review", { assignee: "ann" })]);
    source.add({ id: "t3" });
    expect(await source.fetch()).toEqual([
      { id: "t1", data: { label: "l-t1" }, stageId: "review", status: "NEW", assignee: "ann" },
      { id: "t2" },
      { id: "t3" },
    ]);
    expect(source.batches).toHaveLength(1);
    expect(() => source.add({ id: "t1" })).toThrow(/repeats the task id "t1"/);
    expect(() => new MemoryTaskSource([{ id: "../x" }])).toThrow(InvalidOptionError);
    expect(() => new MemoryTaskSource([{ id: "ok", data: [] as never }])).toThrow(/tasks\[0\]\.data must be an object/);
  });
});

describe("JsonFileTaskSource", () => {
  it("reads an array file and writes moves back atomically, keeping other fields", async () => {
    const file = join(dir, "tasks.json");
    writeFileSync(file, JSON.stringify([{ id: "t1", data: { text: "a" }, priority: 3 }, { id: "t2" }]));
    const source = new JsonFileTaskSource(file);
    expect((await source.fetch()).map((t) => t.id)).toEqual(["t1", "t2"]);
    await source.write([move("t1", "complete", { status: "COMPLETED" }), move("t2", "pre-label", { error: "Error: boom" })]);
    const written = JSON.parse(readFileSync(file, "utf8")) as unknown[];
    expect(written).toEqual([
      { id: "t1", data: { label: "l-t1" }, priority: 3, stageId: "complete", status: "COMPLETED" },
      { id: "t2", data: { label: "l-t2" }, stageId: "pre-label", status: "NEW", error: "Error: boom" },
    ]);
    await source.write([move("t2", "review")]);
    expect((JSON.parse(readFileSync(file, "utf8")) as { error?: string }[])[1]?.error).toBeUndefined();
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("keeps the task file's mode when it rewrites it", async () => {
    const file = join(dir, "private.json");
    writeFileSync(file, JSON.stringify([{ id: "t1", data: { text: "a" } }]), { mode: 0o600 });
    chmodSync(file, 0o600);
    await new JsonFileTaskSource(file).write([move("t1", "review")]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("keeps the { tasks } shape", async () => {
    const file = join(dir, "wrapped.json");
    writeFileSync(file, JSON.stringify({ project: "p1", tasks: [{ id: "t1" }] }));
    const source = new JsonFileTaskSource(file);
    await source.write([move("t1", "review")]);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ project: "p1", tasks: [{ id: "t1", data: { label: "l-t1" }, stageId: "review", status: "NEW" }] });
  });

  it("names the file when it is missing, not JSON, or holds bad tasks", async () => {
    const missing = await rejection(new JsonFileTaskSource(join(dir, "none.json")).fetch());
    expect(missing).toBeInstanceOf(InvalidOptionError);
    expect((missing as Error).message).toContain("none.json");
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ nope: 1 }));
    expect(((await rejection(new JsonFileTaskSource(bad).fetch())) as Error).message).toMatch(/must hold an array of tasks/);
    writeFileSync(bad, JSON.stringify([{ id: "a" }, { id: "a" }]));
    expect(((await rejection(new JsonFileTaskSource(bad).fetch())) as Error).message).toMatch(/repeats the task id "a"/);
  });
});

describe("task statuses", () => {
  it("follow the annotation-platform rules", () => {
    expect(statusOnEntry(false, 1)).toBe("NEW");
    expect(statusOnEntry(false, 2)).toBe("REOPENED");
    expect(statusOnEntry(true, 3)).toBe("COMPLETED");
    expect(statusAfter("assign")).toBe("ASSIGNED");
    expect(statusAfter("release")).toBe("RELEASED");
    expect(statusAfter("skip")).toBe("SKIPPED");
    expect(allowedStatusActions("NEW")).toEqual(["assign", "skip"]);
    expect(allowedStatusActions("ASSIGNED")).toEqual(["assign", "release", "skip"]);
    expect(allowedStatusActions("SKIPPED")).toEqual(["assign"]);
  });
});
