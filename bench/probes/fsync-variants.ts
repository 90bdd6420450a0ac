/**
 * Flush variants probe (issue 16, target 4): raw `node:fs` calls only, no
 * taskloom code. Each step of each variant writes one chain-step-sized
 * record (170 bytes) and makes it durable; the variants run interleaved
 * step by step in this one process, so load on the disk hits each alike.
 * Prints each variant's median and mean per step and its ratio to the
 * floor's (`bench/systems/fdatasync.ts`: a small file, `pwrite` at offset 0,
 * `fdatasync`).
 *
 * `TASKLOOM_BENCH_TRASH=/some/dir node --import tsx bench/probes/fsync-variants.ts [steps] [variant,variant,...]`
 *
 * Variants named `-after-...` do something before each step, untimed (JS
 * work, a big memory walk, a sleep or busy wait of `PAUSE_US`, 30 by
 * default, a lease-like `lstat`): whether a flush that follows work or a
 * pause costs more than one that follows another flush, as the floor's do.
 * With `BLOCK=n` in the environment, each variant makes n steps in a row
 * before the next one's turn (as a chain's flushes follow each other).
 * Without a list, every variant runs. The folder is disposed of as the
 * bench's are (`bench/retire.ts`: moved to `TASKLOOM_BENCH_TRASH` when set).
 *
 * The journal variants use a file of real zero bytes, written and flushed
 * before the loop (as a preallocated journal is), large enough that no
 * step grows it.
 *
 * @module
 */
import { closeSync, constants, fdatasyncSync, fsyncSync, mkdtempSync, openSync, lstatSync, writeSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { retire } from "../retire.js";
import { median } from "../stats.js";

const steps = Number(process.argv[2] ?? 2000);
const only = process.argv[3]?.split(",");
/** Steps a variant makes in a row before the next variant's turn (`BLOCK`, 1 by default: step by step). */
const BLOCK = Number(process.env.BLOCK ?? 1);
const dir = mkdtempSync(join(tmpdir(), "probe-fsync-variants-"));
const RECORD = Buffer.alloc(170, 0x61);
RECORD[169] = 0x0a;
const PAGE = 4096;
const SIZE = Math.ceil(((steps + 10) * RECORD.length) / PAGE) * PAGE + 64 * 1024;

/** A file of `size` real zero bytes, flushed, opened with `flags`. */
function zeroFile(name: string, size: number, flags: number = constants.O_RDWR): number {
  const path = join(dir, name);
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT);
  const zeros = Buffer.alloc(64 * 1024);
  for (let at = 0; at < size; at += zeros.length) writeSync(fd, zeros, 0, Math.min(zeros.length, size - at), at);
  fsyncSync(fd);
  closeSync(fd);
  return openSync(path, flags);
}

function floorFile(name: string, flags: number = constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC): number {
  const fd = openSync(join(dir, name), flags);
  writeSync(fd, RECORD, 0, RECORD.length, 0);
  fsyncSync(fd);
  return fd;
}

/** A step, and work done before it, untimed (the engine's work between two flushes of a chain). */
type Variant = [string, () => void, (() => void)?];
const variants: Variant[] = [];
const add = (name: string, make: () => () => void, before?: () => void): void => {
  if (!only || only.includes(name) || name === "floor") variants.push([name, make(), before]);
};

/** About a chain step's worth of JS work: objects made, a string built and encoded, 64 KiB of memory touched. */
/** Kept so that the work is not optimized away; printed at the end. */
let sink = 0;
const scratch = new Float64Array(8192);
function work(): void {
  const objs: { a: number; b: string }[] = [];
  for (let i = 0; i < 200; i++) objs.push({ a: i, b: `n${i}` });
  sink += Buffer.from(JSON.stringify(objs)).length;
  for (let i = 0; i < scratch.length; i += 8) scratch[i]! += 1;
}

add("floor", () => {
  const fd = floorFile("floor");
  return () => (writeSync(fd, RECORD, 0, RECORD.length, 0), fdatasyncSync(fd));
});
add("journal", () => {
  // What the preallocated journal does: pwrite at successive offsets into zeros, fdatasync.
  const fd = zeroFile("journal", SIZE);
  let end = 0;
  return () => {
    writeSync(fd, RECORD, 0, RECORD.length, end);
    end += RECORD.length;
    fdatasyncSync(fd);
  };
});
add("journal-fsync", () => {
  const fd = zeroFile("journal-fsync", SIZE);
  let end = 0;
  return () => {
    writeSync(fd, RECORD, 0, RECORD.length, end);
    end += RECORD.length;
    fsyncSync(fd);
  };
});
add("journal-position", () => {
  // write at the file position (no explicit offset), the file preallocated.
  const fd = zeroFile("journal-position", SIZE);
  return () => (writeSync(fd, RECORD), fdatasyncSync(fd));
});
add("bigfile-at-0", () => {
  // A large preallocated file, the record always rewritten at offset 0: the file's size alone.
  const fd = zeroFile("bigfile-at-0", SIZE);
  return () => (writeSync(fd, RECORD, 0, RECORD.length, 0), fdatasyncSync(fd));
});
add("onepage-moving", () => {
  // A 4 KiB zero file, records at successive offsets that wrap within the page: moving offset, one page.
  const fd = zeroFile("onepage-moving", PAGE);
  let end = 0;
  return () => {
    if (end + RECORD.length > PAGE - 1) end = 0;
    writeSync(fd, RECORD, 0, RECORD.length, end);
    end += RECORD.length;
    fdatasyncSync(fd);
  };
});
add("no-straddle", () => {
  // As journal, but a record that would straddle a page starts at the next page instead (pages written: always one).
  const fd = zeroFile("no-straddle", SIZE * 2);
  let end = 0;
  return () => {
    if (Math.floor(end / PAGE) !== Math.floor((end + RECORD.length - 1) / PAGE)) end = Math.ceil(end / PAGE) * PAGE;
    writeSync(fd, RECORD, 0, RECORD.length, end);
    end += RECORD.length;
    fdatasyncSync(fd);
  };
});
add("fullpage", () => {
  // As journal, but the whole page(s) holding the record rewritten from a copy.
  const fd = zeroFile("fullpage", SIZE);
  const copy = Buffer.alloc(SIZE);
  let end = 0;
  return () => {
    RECORD.copy(copy, end);
    const from = Math.floor(end / PAGE) * PAGE;
    end += RECORD.length;
    const to = Math.ceil(end / PAGE) * PAGE;
    writeSync(fd, copy, from, to - from, from);
    fdatasyncSync(fd);
  };
});
add("dsync-journal", () => {
  // O_DSYNC: the write is durable when it returns; no fdatasync.
  const fd = zeroFile("dsync-journal", SIZE, constants.O_RDWR | constants.O_DSYNC);
  let end = 0;
  return () => {
    writeSync(fd, RECORD, 0, RECORD.length, end);
    end += RECORD.length;
  };
});
add("dsync-floor", () => {
  const fd = floorFile("dsync-floor", constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | constants.O_DSYNC);
  return () => void writeSync(fd, RECORD, 0, RECORD.length, 0);
});
add("append", () => {
  // O_APPEND, no preallocation: each flush commits a new size.
  const fd = openSync(join(dir, "append"), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND);
  return () => (writeSync(fd, RECORD), fdatasyncSync(fd));
});
add("floor-newdir", () => {
  // The floor's file in its own fresh subfolder (as the bench's mkdtemp), to see the folder's effect.
  mkdirSync(join(dir, "sub"));
  const fd = openSync(join(dir, "sub", "f"), constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC);
  writeSync(fd, RECORD, 0, RECORD.length, 0);
  fdatasyncSync(fd);
  return () => (writeSync(fd, RECORD, 0, RECORD.length, 0), fdatasyncSync(fd));
});

add(
  "floor-after-work",
  () => {
    // The floor's step, timed alone, after untimed JS work (as a chain's flush follows the engine's work).
    const fd = floorFile("floor-after-work");
    return () => (writeSync(fd, RECORD, 0, RECORD.length, 0), fdatasyncSync(fd));
  },
  work,
);
add(
  "journal-after-work",
  () => {
    const fd = zeroFile("journal-after-work", SIZE);
    let end = 0;
    return () => {
      writeSync(fd, RECORD, 0, RECORD.length, end);
      end += RECORD.length;
      fdatasyncSync(fd);
    };
  },
  work,
);
add(
  "journal-after-stat",
  () => {
    // As journal, after an untimed lstat of another file (the store's lease check).
    const fd = zeroFile("journal-after-stat", SIZE);
    let end = 0;
    return () => {
      writeSync(fd, RECORD, 0, RECORD.length, end);
      end += RECORD.length;
      fdatasyncSync(fd);
    };
  },
  () => void lstatSync(join(dir, "floor"), { bigint: true }),
);
/** A pause before the step, the thread asleep or on the CPU, as long as a chain step's work (`PAUSE_US`). */
const PAUSE_US = Number(process.env.PAUSE_US ?? 30);
const cell = new Int32Array(new SharedArrayBuffer(4));
add(
  "floor-after-sleep",
  () => {
    const fd = floorFile("floor-after-sleep");
    return () => (writeSync(fd, RECORD, 0, RECORD.length, 0), fdatasyncSync(fd));
  },
  () => void Atomics.wait(cell, 0, 0, PAUSE_US / 1000),
);
add(
  "floor-after-spin",
  () => {
    const fd = floorFile("floor-after-spin");
    return () => (writeSync(fd, RECORD, 0, RECORD.length, 0), fdatasyncSync(fd));
  },
  () => {
    const end = performance.now() + PAUSE_US / 1000;
    while (performance.now() < end);
  },
);
/** More work: 4 MiB of memory touched (caches evicted). */
const big = new Float64Array(512 * 1024);
add(
  "floor-after-bigwork",
  () => {
    const fd = floorFile("floor-after-bigwork");
    return () => (writeSync(fd, RECORD, 0, RECORD.length, 0), fdatasyncSync(fd));
  },
  () => {
    for (let i = 0; i < big.length; i += 8) big[i]! += 1;
  },
);

const times = variants.map((): number[] => []);
const cpu = variants.map(() => 0);
for (let i = 0; i < steps; i += BLOCK) {
  for (let k0 = 0; k0 < variants.length; k0++) {
    const k = (k0 + i / BLOCK) % variants.length;
    for (let j = 0; j < BLOCK; j++) {
      variants[k]![2]?.();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      variants[k]![1]();
      times[k]!.push((performance.now() - t0) * 1000);
      const c = process.cpuUsage(c0);
      cpu[k]! += c.user + c.system;
    }
  }
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const m0 = median(times[0]!);
const a0 = mean(times[0]!);
console.log(`${steps} steps of ${RECORD.length} bytes, interleaved ${BLOCK} at a time; in ${dir} (work: ${sink} bytes)`);
variants.forEach(([name], k) => {
  const xs = times[k]!;
  const sorted = [...xs].sort((a, b) => a - b);
  const p = (q: number): number => sorted[Math.floor(q * (sorted.length - 1))]!;
  console.log(
    `${name.padEnd(18)} median ${median(xs).toFixed(1).padStart(7)} us (${(median(xs) / m0).toFixed(2)}x)  mean ${mean(xs)
      .toFixed(1)
      .padStart(7)} us (${(mean(xs) / a0).toFixed(2)}x)  p10 ${p(0.1).toFixed(1)} p90 ${p(0.9).toFixed(1)}  cpu ${(cpu[k]! / steps).toFixed(1)} us`,
  );
});
await retire(dir);
