/**
 * What a run file says of its lease (`run-file-leases.ts`, `writtenLease`),
 * read from the file's end: its last lease line (a renewal included), or,
 * when a release line follows every lease line, that lease given back (its
 * owner and token, which the next grant must pass). A release line stops
 * the reading: the lines before it (a compacted run's snapshot, megabytes
 * long) are not read, so a release line with no lease line before it says
 * the same.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { currentLease, heldLease, writtenLease } from "../src/persistence/run-file-leases.js";
import { leaseLine, releaseLine } from "../src/persistence/run-file-lines.js";
import type { Lease } from "../src/persistence/run-store.js";
import { serialize } from "../src/persistence/serialization.js";
import { nodeRecord } from "./store-conformance.js";

const root = mkdtempSync(join(tmpdir(), "taskloom-written-lease-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const lease = (owner: string, token: number, expiresAt = 10_000): Lease => ({ runId: "r", owner, pid: 1, host: "h", expiresAt, token });
const record = (seq: number) => `${serialize(nodeRecord(seq, `n${seq}`))}\n`;

function fileOf(...lines: string[]): string {
  const file = join(root, `${Math.random().toString(36).slice(2)}.run`);
  writeFileSync(file, lines.join(""));
  return file;
}

describe("writtenLease", () => {
  it("is the last lease line, a renewal included, while no release line follows it", () => {
    const renewed = lease("a", 1, 20_000);
    expect(writtenLease(fileOf(leaseLine(lease("a", 1)), record(1), leaseLine(renewed), record(2)))).toEqual(heldLease(renewed));
  });

  it("is the lease given back when a release line follows every lease line: owner and token, no lease", () => {
    const file = fileOf(leaseLine(lease("a", 3)), record(1), record(2), releaseLine(lease("a", 3)));
    expect(writtenLease(file)).toEqual({ owner: "a", token: 3, lease: undefined });
    // Nobody holds it, and the next grant goes above its token.
    expect(currentLease(writtenLease(file), undefined)).toEqual({ current: undefined, top: 3 });
  });

  it("is a taker's lease line after the release line its copy kept", () => {
    const taken = lease("b", 4);
    expect(writtenLease(fileOf(leaseLine(lease("a", 3)), releaseLine(lease("a", 3)), leaseLine(taken)))).toEqual(heldLease(taken));
  });

  it("reads nothing before a release line that ends the file: a release line alone says the same", () => {
    expect(writtenLease(fileOf(record(1), releaseLine(lease("a", 2))))).toEqual({ owner: "a", token: 2, lease: undefined });
  });

  it("is undefined for a file without lease or release lines", () => {
    expect(writtenLease(fileOf(record(1), record(2)))).toBeUndefined();
  });
});
