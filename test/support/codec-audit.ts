/**
 * Helpers of the codec and damage audit tests (`test/codec-audit-*.test.ts`,
 * `test/damage-audit-*.test.ts`): the files a store wrote for a run, and
 * one byte of them damaged.
 *
 * @module
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

/** Every file under `dir`, as paths relative to it, sorted. */
export function filesUnder(dir: string): string[] {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((name) => {
      const path = join(d, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  return walk(dir)
    .map((path) => relative(dir, path))
    .sort();
}

/** The offsets of the bytes of `bytes` that are ASCII other than NUL (a preallocated tail is zeros). */
export function asciiOffsets(bytes: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 0 && bytes[i]! < 0x80) out.push(i);
  return out;
}

/**
 * Replaces the byte at `at` of the file `file` by `byte` (at least 0x80).
 * An ASCII byte so replaced always makes the file invalid UTF-8: the byte
 * after an ASCII byte is ASCII or starts a sequence, never continues one.
 */
export function damageByte(file: string, at: number, byte: number): void {
  const bytes = readFileSync(file);
  bytes[at] = byte;
  writeFileSync(file, bytes);
}

/** The offsets of the ASCII bytes of every occurrence of each of `needles` in `bytes` (where a saved value's text is). */
export function offsetsOf(bytes: Buffer, needles: readonly string[]): number[] {
  const out: number[] = [];
  for (const needle of needles) {
    const text = Buffer.from(needle);
    for (let at = bytes.indexOf(text); at !== -1; at = bytes.indexOf(text, at + 1)) {
      for (let i = 0; i < text.length; i++) if (text[i]! < 0x80) out.push(at + i);
    }
  }
  return out;
}
