/**
 * The durability contract of `LowdbStore({ fsync: true })` as the engine
 * sees it: a node's result counts only once the bytes of its journal
 * record are flushed. A dependent never starts before its parent's
 * `succeeded` record was written and then flushed (`fdatasync`, synchronous
 * for a chain step and for a run's start and end, through the thread pool
 * for a group commit of several node records), and when the run resolves
 * every result it reports is flushed.
 *
 * `node:fs` is wrapped: each write's journal lines are noted per
 * descriptor, and a flush of that descriptor (once it returned, or once
 * its callback ran) marks the lines written before it as flushed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { graph, runAsync, type GraphBuilder } from "../src/index.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";

const disk = vi.hoisted(() => {
  /** Ids of `succeeded` node records written to each descriptor and not flushed yet. */
  const pending = new Map<number, string[]>();
  /** Ids of `succeeded` node records whose bytes were flushed. */
  const flushed = new Set<string>();
  /** Flushes made through libuv's thread pool (`fdatasync`) and on the calling thread (`fdatasyncSync`), of descriptors a record was written to. */
  const flushes = { pool: 0, sync: 0 };
  return {
    pending,
    flushed,
    flushes,
    noteWrite(fd: number, bytes: Uint8Array): void {
      for (const line of Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8").split("\n")) {
        let doc: { json?: { kind?: string; node?: { id?: string; status?: string } } };
        try {
          doc = JSON.parse(line) as typeof doc;
        } catch {
          continue;
        }
        const node = doc.json?.kind === "node" ? doc.json.node : undefined;
        if (node?.status === "succeeded" && node.id !== undefined) pending.set(fd, [...(pending.get(fd) ?? []), node.id]);
      }
    },
    /** Called once a flush of `fd` that started after `upTo` of its pending writes returned. */
    noteFlush(fd: number, upTo: number): void {
      const ids = pending.get(fd) ?? [];
      for (const id of ids.slice(0, upTo)) flushed.add(id);
      pending.set(fd, ids.slice(upTo));
    },
  };
});

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const writeSync = ((fd: number, buffer: NodeJS.ArrayBufferView | string, ...rest: unknown[]) => {
    // A string is written whole (a journal append's text: `JournalFile.appendText`).
    if (typeof buffer === "string") disk.noteWrite(fd, Buffer.from(buffer, typeof rest[1] === "string" ? (rest[1] as BufferEncoding) : "utf8"));
    else {
      const view = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      const offset = typeof rest[0] === "number" ? rest[0] : 0;
      const length = typeof rest[1] === "number" ? rest[1] : view.length - offset;
      disk.noteWrite(fd, view.subarray(offset, offset + length));
    }
    return (fs.writeSync as (...args: unknown[]) => number)(fd, buffer, ...rest);
  }) as typeof fs.writeSync;
  const fdatasyncSync: typeof fs.fdatasyncSync = (fd) => {
    // Only the writes made before the flush started are covered by it.
    const upTo = disk.pending.get(fd)?.length ?? 0;
    if (disk.pending.has(fd)) disk.flushes.sync += 1;
    fs.fdatasyncSync(fd);
    disk.noteFlush(fd, upTo);
  };
  const fdatasync = ((fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
    const upTo = disk.pending.get(fd)?.length ?? 0;
    if (disk.pending.has(fd)) disk.flushes.pool += 1;
    fs.fdatasync(fd, (err) => {
      if (!err) disk.noteFlush(fd, upTo);
      callback(err);
    });
  }) as typeof fs.fdatasync;
  const wrapped = { writeSync, fdatasyncSync, fdatasync };
  return { ...fs, ...wrapped, default: { ...fs, ...wrapped } };
});

type LooseBuilder = GraphBuilder<undefined, Record<string, unknown>, never>;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-fsync-order-"));
  disk.pending.clear();
  disk.flushed.clear();
  disk.flushes.pool = 0;
  disk.flushes.sync = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("LowdbStore with fsync: a result counts once its record is flushed", () => {
  it("starts each step of a chain only after its parent's record was flushed", async () => {
    const early: string[] = [];
    let b = (graph("chain") as unknown as LooseBuilder).node("n0", () => 0);
    for (let i = 1; i < 40; i++) {
      b = b.node(
        `n${i}`,
        () => {
          if (!disk.flushed.has(`n${i - 1}`)) early.push(`n${i}`);
          return i;
        },
        { after: [`n${i - 1}`] as never },
      );
    }
    const store = new LowdbStore({ dir, fsync: true });
    await runAsync(b.build(), undefined, { store, runId: "chain" });
    await store.close();
    expect(early).toEqual([]);
    // The run resolved: every result it reports, the leaf's too, is on the disk.
    expect([...disk.flushed].sort()).toEqual(Array.from({ length: 40 }, (_, i) => `n${i}`).sort());
  });

  it("starts a join only after every record of a group-committed fan-out was flushed", async () => {
    const early: string[] = [];
    const middles = Array.from({ length: 60 }, (_, i) => `m${i}`);
    let b = (graph("fanout") as unknown as LooseBuilder).node("root", () => 0);
    for (const id of middles) {
      b = b.node(
        id,
        async () => {
          if (!disk.flushed.has("root")) early.push(id);
          // A turn of the event loop, so results gather into group commits of several records.
          await new Promise((resolve) => setImmediate(resolve));
          return id;
        },
        { after: ["root"] as never },
      );
    }
    b = b.node(
      "join",
      () => {
        for (const id of middles) if (!disk.flushed.has(id)) early.push(`join before ${id}`);
        return null;
      },
      { after: middles as never },
    );
    const store = new LowdbStore({ dir, fsync: true });
    await runAsync(b.build(), undefined, { store, runId: "fanout", maxConcurrency: 8 });
    await store.close();
    expect(early).toEqual([]);
    expect(disk.flushed.has("join")).toBe(true);
    // Group commits of several node records are flushed through the pool, while the run goes on.
    expect(disk.flushes.pool).toBeGreaterThan(0);
  });

  it("flushes a chain's every append on the calling thread, its end's included: no thread-pool round trip", async () => {
    let b = (graph("chain") as unknown as LooseBuilder).node("n0", () => 0);
    for (let i = 1; i < 20; i++) b = b.node(`n${i}`, () => i, { after: [`n${i - 1}`] as never });
    const store = new LowdbStore({ dir, fsync: true });
    await runAsync(b.build(), undefined, { store, runId: "chain-end" });
    await store.close();
    // Each step appends one record; the run's end appends the last node record and the run meta, which the run
    // waits for with nothing else to do: a flush through the pool would add two thread wake-ups to the disk's time.
    expect(disk.flushes.pool).toBe(0);
    expect(disk.flushes.sync).toBeGreaterThanOrEqual(20);
    expect([...disk.flushed].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `n${i}`).sort());
  });
});
