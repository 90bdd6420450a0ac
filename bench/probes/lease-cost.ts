/**
 * Probe of what a run's lease costs in `LowdbStore` (issue 16, target 1):
 * taking the lease of a new run and giving it back, renewing a held lease,
 * and a whole durable 1-node run, measured A/B in one process against
 * another checkout's code (e.g. main's) so that a loaded machine skews
 * both sides alike. Not part of `npm run bench`; one mode at a time:
 *
 *   node --import tsx bench/probes/lease-cost.ts ab <other checkout> [rounds]
 *     medians (µs) of acquire + release of a new run's lease (and each), of a renewal,
 *     and of a 1-node run (`runAsync` + `close`), this checkout and the other
 *     alternating round by round; the ratio is this / other
 *   node --import tsx bench/probes/lease-cost.ts ops <count>
 *     `count` cycles (one run's lease taken and given back, another's taken,
 *     renewed and given back), for `strace -f -c` (the difference of two
 *     counts is the cost of one cycle)
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as here from "../../src/index.js";
import { median } from "../stats.js";

type Api = Pick<typeof here, "LowdbStore" | "runAsync" | "graph">;
let counter = 0;

const request = (now: number) => ({ owner: `probe-${counter++}`, pid: process.pid, host: "probe-host", ttlMs: 30_000, now });

/**
 * Two new runs in a fresh store: the lease of one taken and given back (as
 * a 1-node run does), the other's taken, renewed and given back; the times
 * (µs) of the first acquire and release, and of the renewal.
 */
async function cycle(api: Api, dir: string): Promise<{ take: number; give: number; renew: number }> {
  const store = new api.LowdbStore({ dir });
  let t = performance.now();
  const lease = await store.acquireLease(`l-${counter++}`, request(Date.now()));
  const take = performance.now() - t;
  t = performance.now();
  await store.releaseLease(lease);
  const give = performance.now() - t;
  const other = await store.acquireLease(`l-${counter++}`, request(Date.now()));
  t = performance.now();
  const renewed = await store.renewLease(other, 30_000, Date.now());
  const renew = performance.now() - t;
  // Not timed: the unlink of a file renamed into place just now waits for its writeback (ext4), as no 1-node run does.
  await store.releaseLease(renewed);
  await store.close();
  return { take: take * 1000, give: give * 1000, renew: renew * 1000 };
}

/** The bench's 1-node graph, built with `api`'s own builder (a graph is only run by the code that built it). */
function oneNode(api: Api): unknown {
  return api
    .graph("chain")
    .node("n0", async () => 0)
    .output(() => null)
    .build();
}

async function oneRun(api: Api, g: unknown): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "probe-lease-"));
  const store = new api.LowdbStore({ dir });
  const t = performance.now();
  await api.runAsync(g as never, undefined, { store, runId: `r-${counter++}`, maxConcurrency: 8 });
  await store.close();
  const us = (performance.now() - t) * 1000;
  rmSync(dir, { recursive: true, force: true });
  return us;
}

const [mode = "ab", a, b] = process.argv.slice(2);
if (mode === "ab") {
  if (!a) throw new Error("usage: lease-cost.ts ab <other checkout> [rounds]");
  const other = (await import(pathToFileURL(join(resolve(a), "src/index.ts")).href)) as Api;
  const rounds = Number(b ?? 200);
  const sides: [string, Api, unknown][] = [
    ["other", other, oneNode(other)],
    ["this", here, oneNode(here)],
  ];
  const times: Record<string, number[]> = {};
  const push = (k: string, v: number) => (times[k] ??= []).push(v);
  for (let r = -5; r < rounds; r++) {
    for (const [name, api, g] of r % 2 === 0 ? sides : [...sides].reverse()) {
      const dir = mkdtempSync(join(tmpdir(), "probe-lease-"));
      const c = await cycle(api, dir);
      rmSync(dir, { recursive: true, force: true });
      const run = await oneRun(api, g);
      if (r < 0) continue; // warm-up
      push(`${name} acquire+release`, c.take + c.give);
      push(`${name} acquire`, c.take);
      push(`${name} release`, c.give);
      push(`${name} renew`, c.renew);
      push(`${name} 1-node run`, run);
    }
  }
  for (const what of ["acquire+release", "acquire", "release", "renew", "1-node run"]) {
    const [o, h] = [median(times[`other ${what}`]!), median(times[`this ${what}`]!)];
    console.log(`${what.padEnd(16)} other ${o.toFixed(0).padStart(6)} us  this ${h.toFixed(0).padStart(6)} us  this/other ${(h / o).toFixed(2)}`);
  }
} else if (mode === "ops") {
  const count = Number(a ?? 10);
  const dir = mkdtempSync(join(tmpdir(), "probe-lease-"));
  for (let i = 0; i < count; i++) await cycle(here, dir);
  rmSync(dir, { recursive: true, force: true });
} else {
  throw new Error(`unknown mode ${mode}`);
}
