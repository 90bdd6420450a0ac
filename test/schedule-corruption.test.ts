/**
 * A corruption fuzz test for schedule files (fast-check, a fixed small
 * number of runs). A stored schedule is cut short, has bytes flipped or
 * junk inserted, anywhere in the file or inside its history rows or its
 * lease (both live in the schedule's own file). Whatever comes of it:
 * every entry point gives the documented recovery (the file is skipped
 * and reported, the other schedule is served) or a typed error naming the
 * file, never an untyped crash, and a file reported corrupt is never
 * changed.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ManualClock,
  Scheduler,
  SnapshotCorruptError,
  TaskloomError,
  getSchedule,
  graph,
  listSchedules,
  schedule,
  scheduleStoreFor,
  type ScheduleProblem,
} from "../src/index.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-schedule-fuzz-");
const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);
const g = graph("fuzzed")
  .node("work", () => 1)
  .build();

const dir = tempDir();
const store = lowdb(dir);
const file = join(dir, "schedules", "victim.json");
let original: Buffer;

/** A victim with every kind of history row and a lease, and a good schedule beside it. */
async function setUp(): Promise<void> {
  const clock = new ManualClock(NOW);
  await schedule(g, { n: 1 }, { when: "1d", repeat: { every: "1d" }, store, clock, id: "good" });
  await schedule(
    g,
    { n: 2, at: new Date(NOW) },
    { when: "1h", repeat: { every: "1h" }, store, clock, id: "victim", callbackUrl: "http://127.0.0.1:9/hook", callbackSecret: "k" },
  );
  await scheduleStoreFor(store).update("victim", (r) => ({
    ...r,
    fired: 3,
    lease: { runId: "victim", owner: "someone", pid: 1, host: "elsewhere", expiresAt: NOW - 1, token: 2 },
    history: [
      { kind: "missed", count: 2, first: NOW - 7_200_000, last: NOW - 3_600_000, policy: "one", at: NOW },
      { kind: "error", slot: NOW - 3_600_000, at: NOW, error: { name: "ScheduleError", message: "no graph", code: "GRAPH_NOT_REGISTERED" } },
      {
        kind: "run",
        slot: NOW - 60_000,
        runId: "victim-20261123T095900Z",
        status: "succeeded",
        startedAt: NOW - 60_000,
        endedAt: NOW - 59_000,
        durationMs: 1_000,
        callback: { url: "http://127.0.0.1:9/hook", delivered: false, done: true, attempts: [{ at: NOW, error: "ECONNREFUSED", durationMs: 1 }] },
      },
    ],
  }));
  original = readFileSync(file);
}

/** The byte range of a part of the document (the history rows, the lease), or the whole file. */
function region(part: "all" | "history" | "lease"): [number, number] {
  if (part === "all") return [0, original.length];
  const text = original.toString("latin1");
  const start = text.indexOf(`"${part}":`);
  const end = part === "history" ? text.indexOf("]}", start) + 1 : text.indexOf("}", start) + 1;
  return [start, end];
}

const JUNK = ["", "\n", "{", "}", "]", "null", '"x"', "\u0000", "\xff\xfe", '{"kind":"run"}', ",", "1e999", '\n{"json":1}\n'];

const mutation = fc.record({
  part: fc.constantFrom("all" as const, "history" as const, "lease" as const),
  kind: fc.constantFrom("truncate" as const, "flip" as const, "insert" as const, "replace" as const),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  mask: fc.integer({ min: 1, max: 255 }),
  junk: fc.oneof(fc.constantFrom(...JUNK), fc.string({ maxLength: 12 })),
});

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(m: Mutation): Buffer {
  const [start, end] = region(m.part);
  const pos = Math.min(end - 1, start + Math.floor(m.at * (end - start)));
  const bytes = Buffer.from(original);
  switch (m.kind) {
    case "truncate":
      return bytes.subarray(0, pos);
    case "flip":
      bytes[pos] = (bytes[pos] ?? 0) ^ m.mask;
      return bytes;
    case "insert":
      return Buffer.concat([bytes.subarray(0, pos), Buffer.from(m.junk, "latin1"), bytes.subarray(pos)]);
    case "replace":
      return Buffer.concat([bytes.subarray(0, start), Buffer.from(m.junk, "latin1"), bytes.subarray(end)]);
  }
}

/** A typed error naming the victim file, when it is one. */
function expectNamesFile(error: unknown): void {
  expect(error).toBeInstanceOf(TaskloomError);
  expect(error).toBeInstanceOf(SnapshotCorruptError);
  expect((error as SnapshotCorruptError).file).toBe(file);
}

describe("corrupt schedule files (fuzz)", () => {
  it("truncation, byte flips and junk in a schedule file, its history rows or its lease: skipped and reported, or typed errors naming it; never changed", async () => {
    await setUp();
    let corrupt = 0;
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const bytes = mutate(m);
        writeFileSync(file, bytes);

        // getSchedule: the record, or a typed error naming the file.
        let readable = true;
        try {
          await getSchedule("victim", { store });
        } catch (error) {
          readable = false;
          expectNamesFile(error);
        }
        if (!readable) corrupt += 1;

        // listSchedules: the good schedule always; the victim listed or reported.
        const problems: ScheduleProblem[] = [];
        const ids = (await listSchedules({ store, onProblem: (p) => problems.push(p) })).map((j) => j.id);
        expect(ids).toContain("good");
        if (readable) {
          expect(ids).toContain("victim");
          expect(problems).toEqual([]);
        } else {
          expect(ids).not.toContain("victim");
          expect(problems.map((p) => p.scheduleId)).toEqual(["victim"]);
          expectNamesFile(problems[0]?.error);
        }

        // An update (what pause, resume, cancel and the scheduler do) of a corrupt file is a typed error, and writes nothing.
        if (!readable) {
          let threw: unknown;
          await scheduleStoreFor(store)
            .update("victim", (r) => ({ ...r, status: "paused" }))
            .catch((e: unknown) => (threw = e));
          expectNamesFile(threw);
        }

        // A Scheduler: no error event; a corrupt file is one warning, and untouched.
        if (!readable) {
          const clock = new ManualClock(NOW);
          const s = new Scheduler({ store, graphs: [g], clock });
          const errors: unknown[] = [];
          const warnings: unknown[] = [];
          s.events.on("error", (e) => errors.push(e.error));
          s.events.on("warning", (w) => warnings.push(w.error));
          await s.start();
          await s.poll();
          await s.stop();
          expect(errors).toEqual([]);
          expect(warnings).toHaveLength(1);
          expectNamesFile(warnings[0]);
          expect(readFileSync(file)).toEqual(bytes);
        }
        expect(readable || readFileSync(file).equals(bytes)).toBe(true);
      }),
      { numRuns: 150, seed: 20261123 },
    );
    // The generator does produce corrupt files (the test is not vacuous).
    expect(corrupt).toBeGreaterThan(50);
    writeFileSync(file, original);
  });
});
