/**
 * How `JsonFileTaskSource` rewrites the user's task file: the new content
 * is flushed before the rename that replaces the old file (a power loss
 * then leaves the old tasks or the new ones, never a blank file where they
 * were), a write that fails leaves the file as it was and no temp file,
 * and a task file that is a symbolic link is rewritten where it points,
 * the link kept. `node:fs/promises` is wrapped so the rename is logged;
 * a file handle's `datasync` and `writeFile` are spied on its prototype.
 */
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { JsonFileTaskSource, type TaskMove } from "../src/index.js";
import { rejection } from "./support/async.js";

const disk = vi.hoisted(() => ({ log: [] as string[] }));

vi.mock("node:fs/promises", async (importOriginal) => {
  const fsp = await importOriginal<typeof import("node:fs/promises")>();
  const rename: typeof fsp.rename = async (from, to) => {
    await fsp.rename(from, to);
    disk.log.push(`rename ${String(from)} ${String(to)}`);
  };
  return { ...fsp, rename, default: { ...fsp, rename } };
});

const dir = mkdtempSync(join(tmpdir(), "taskloom-task-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The prototype of `node:fs/promises` file handles (not exported by Node). */
const handleProto = await (async () => {
  const handle = await open(join(dir, "probe"), "w");
  await handle.close();
  return Object.getPrototypeOf(handle) as { datasync: () => Promise<void>; writeFile: (data: string) => Promise<void> };
})();

const move: TaskMove = { taskId: "t1", from: "pre-label", stageId: "review", status: "NEW", data: { label: "x" }, at: 1 };
const TASKS = JSON.stringify([{ id: "t1", data: { text: "a" } }]);

beforeEach(() => {
  disk.log.length = 0;
  const datasync = handleProto.datasync;
  vi.spyOn(handleProto, "datasync").mockImplementation(async function (this: unknown) {
    await datasync.call(this);
    disk.log.push("datasync");
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("JsonFileTaskSource rewrites the task file", () => {
  it("flushes the new content before the rename that replaces the old file", async () => {
    const file = join(dir, "tasks.json");
    writeFileSync(file, TASKS);
    await new JsonFileTaskSource(file).write([move]);
    expect(disk.log).toHaveLength(2);
    expect(disk.log[0]).toBe("datasync");
    expect(disk.log[1]).toMatch(new RegExp(`^rename ${file}\\..*\\.tmp ${file}$`));
    expect((JSON.parse(readFileSync(file, "utf8")) as { stageId?: string }[])[0]?.stageId).toBe("review");
  });

  it.each([
    ["the write fails (a full disk)", "writeFile", "ENOSPC"],
    ["the flush fails", "datasync", "EIO"],
  ] as const)("leaves the file as it was and no temp file when %s", async (_when, step, code) => {
    const file = join(dir, `${code}.json`);
    writeFileSync(file, TASKS);
    vi.spyOn(handleProto, step).mockRejectedValue(Object.assign(new Error(`${code}: the disk said no`), { code }));
    const error = await rejection(new JsonFileTaskSource(file).write([move]));
    expect((error as { code?: string }).code).toBe(code);
    expect(readFileSync(file, "utf8")).toBe(TASKS);
    expect(readdirSync(dir).filter((f) => f.startsWith(`${code}.json.`))).toEqual([]);
    // Nothing was renamed over the file.
    expect(disk.log.filter((e) => e.startsWith("rename "))).toEqual([]);
  });

  it("rewrites the target of a task file that is a symbolic link, and keeps the link", async () => {
    const real = join(dir, "real-tasks.json");
    const link = join(dir, "linked-tasks.json");
    writeFileSync(real, TASKS);
    symlinkSync(real, link);
    await new JsonFileTaskSource(link).write([move]);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(real);
    expect((JSON.parse(readFileSync(real, "utf8")) as { stageId?: string }[])[0]?.stageId).toBe("review");
    expect(disk.log[1]).toMatch(new RegExp(`^rename ${real}\\..*\\.tmp ${real}$`));
  });
});
