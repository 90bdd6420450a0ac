/**
 * Write floor probe (issue 16, target 3's chain): what one `write` of a
 * record of a chain step's journal line's size (165 bytes by default, as
 * a 10,000-node chain writes them) costs on this machine, whatever its
 * form: appended (`O_APPEND`) from a string or a buffer, `pwrite` at a
 * growing offset, `pwrite` into a zero-filled (preallocated) file, flushed
 * or not after the fill. A durable chain step makes one such call before
 * its dependent starts.
 *
 * `node bench/probes/write-forms.mjs [calls] [bytes]` (default 20,000 calls of 165 bytes, each form twice)
 *
 * @module
 */
import fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const N = Number(process.argv[2] ?? 20_000);
const base = fs.mkdtempSync(join(tmpdir(), "taskloom-write-forms-"));
const BYTES = Number(process.argv[3] ?? 165);
const line = `${"x".repeat(BYTES - 1)}\n`;
const buf = Buffer.from(line);
const zeroFilled = (file, flush) => {
  const fd = fs.openSync(file, "w+");
  fs.writeSync(fd, Buffer.alloc(N * buf.length + 4096));
  if (flush) fs.fsyncSync(fd);
  return { fd, pos: 0 };
};
const forms = [
  ["append, string (O_APPEND)", (f) => fs.openSync(f, "a"), (fd) => fs.writeSync(fd, line)],
  ["append, buffer (O_APPEND)", (f) => fs.openSync(f, "a"), (fd) => fs.writeSync(fd, buf)],
  ["pwrite, buffer, growing file", (f) => ({ fd: fs.openSync(f, "w"), pos: 0 }), (c) => void (c.pos += fs.writeSync(c.fd, buf, 0, buf.length, c.pos))],
  ["pwrite, buffer, zero-filled file (flushed)", (f) => zeroFilled(f, true), (c) => void (c.pos += fs.writeSync(c.fd, buf, 0, buf.length, c.pos))],
  ["pwrite, string, zero-filled file (flushed)", (f) => zeroFilled(f, true), (c) => void (c.pos += fs.writeSync(c.fd, line, c.pos))],
  ["pwrite, buffer, zero-filled file (not flushed)", (f) => zeroFilled(f, false), (c) => void (c.pos += fs.writeSync(c.fd, buf, 0, buf.length, c.pos))],
];
try {
  for (let rep = 0; rep < 2; rep++) {
    for (const [i, [name, setup, step]] of forms.entries()) {
      const ctx = setup(join(base, `f${rep}-${i}`));
      const t0 = performance.now();
      for (let k = 0; k < N; k++) step(ctx);
      const us = ((performance.now() - t0) * 1000) / N;
      process.stdout.write(`${name.padEnd(48)} ${us.toFixed(2)} us a call\n`);
      fs.closeSync(typeof ctx === "number" ? ctx : ctx.fd);
    }
  }
} finally {
  fs.rmSync(base, { recursive: true, force: true });
}
